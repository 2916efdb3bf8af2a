//! [ssr] What proves who someone is, and how it is made and checked: the token pair (JWTs,
//! their keys, the refresh successor), the cookies that carry them, passwords (Argon2id on
//! worker threads of their own, and the strength rules for new ones), and trusted-device
//! cookies.

pub mod cookies;
pub mod devices;
pub mod factors;
pub mod kdf;
pub mod key_ring;
pub mod mail_tokens;
pub mod passkeys;
pub mod password_policy;
pub mod passwords;
pub mod tokens;
pub mod workers;
