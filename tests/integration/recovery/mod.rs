//! Account recovery: the reset link by mail, and the mail itself (the outbox folder by default,
//! an SMTP server when set, retried while it is away), and the notices it sends.

mod mail;
mod notices;
mod reset;
