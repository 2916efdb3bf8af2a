//! Account recovery: the reset link by mail, and the mail itself (the outbox folder by default,
//! an SMTP server when set, retried while it is away), the notices it sends, and verified and
//! changed addresses.

mod addresses;
mod mail;
mod notices;
mod reset;
