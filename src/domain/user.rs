//! The user as the contract shows it: never a password hash, a token or a secret.

use serde::{Deserialize, Serialize};

/// User JSON: `{"id", "email", "username", "full_name", "email_verified", "created_at"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub email: String,
    pub username: String,
    pub full_name: String,
    /// Whether the owner proved `email` is theirs (a verification link or code, or the
    /// confirmation of an address change).
    pub email_verified: bool,
    /// RFC 3339.
    pub created_at: String,
}
