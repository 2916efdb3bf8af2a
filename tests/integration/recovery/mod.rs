//! Account recovery: the reset link by mail, and the mail itself (the outbox folder by default,
//! an SMTP server when set, retried while it is away).

mod mail;
mod reset;
