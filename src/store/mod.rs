//! [ssr] Where users and refresh tokens live. The server functions see only the [`Store`]
//! trait, so another database (PostgreSQL) is one more implementation beside [`sqlite`].

pub mod sqlite;

use crate::domain::User;
use async_trait::async_trait;
use std::fmt;
use time::OffsetDateTime;

/// A stored account. Holds the password hash, so it is neither `Serialize` nor shown by `Debug`.
#[derive(Clone)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
}

impl fmt::Debug for UserRecord {
    // The hash is left out to avoid accidentally logging it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserRecord")
            .field("id", &self.id)
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

impl UserRecord {
    /// The public view of this account.
    pub fn to_public(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            username: self.username.clone(),
            full_name: self.full_name.clone(),
            created_at: self
                .created_at
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
        }
    }
}

/// How a login names an account.
pub enum UserKey<'a> {
    Email(&'a str),
    Username(&'a str),
}

/// A refresh token's row: its hash, never the token.
#[derive(Debug, Clone)]
pub struct RefreshRecord {
    pub token_hash: String,
    pub session_id: String,
    pub user_id: String,
    pub issued_at: OffsetDateTime,
    pub expires_at: OffsetDateTime,
}

/// What became of an attempt to exchange a refresh token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The old row is now used and the successor is live.
    Rotated,
    /// No row has that hash.
    Unknown,
    /// The token was exchanged before.
    AlreadyUsed,
    /// Its session was ended.
    Revoked,
    /// Past its expiry.
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique field is taken: `email` or `username`.
    #[error("{0} is already taken")]
    Taken(&'static str),
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account and the first refresh token of its first session, atomically:
    /// a registration either fully happened or not at all.
    /// `email_key` is the address's comparison form, unique among accounts.
    async fn create_user(
        &self,
        user: &UserRecord,
        email_key: &str,
        first: &RefreshRecord,
    ) -> Result<(), StoreError>;

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn find_user_by(&self, key: UserKey<'_>) -> Result<Option<UserRecord>, StoreError>;

    /// Records a freshly issued refresh token (a new session's first).
    async fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError>;

    /// Exchanges the token with hash `old_hash` for `successor`, in one transaction: the old row
    /// must be live and unexpired at `now`, and then it is marked used and the successor inserted.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor: &RefreshRecord,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError>;

    /// Ends a session: every live refresh token in it is revoked.
    async fn revoke_session(&self, session_id: &str, now: OffsetDateTime)
        -> Result<(), StoreError>;
}

impl From<StoreError> for crate::error::AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Taken(field) => Self::conflict(
                field,
                format!("That {field} is already registered. Log in, or choose another."),
            ),
            other => Self::internal(&other),
        }
    }
}
