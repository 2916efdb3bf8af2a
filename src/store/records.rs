//! [ssr] What the store reads and writes: accounts, sessions, refresh-token rows, why a session
//! ended, what an exchange or a budget check came to. Plain data, the same on every database.

use super::StoreError;
use crate::domain::User;
use std::fmt;
use time::OffsetDateTime;

/// A stored account. Holds the password hash, so it is neither `Serialize` nor shown by `Debug`.
#[derive(Clone, sqlx::FromRow)]
pub struct UserRecord {
    pub id: String,
    pub email: String,
    pub username: String,
    pub full_name: String,
    pub password_hash: String,
    pub created_at: OffsetDateTime,
    /// Bumped by every password change: a session may start only under the version whose
    /// password was verified (see [`Store::start_session`](super::Store::start_session)).
    pub credential_version: i64,
    /// When the address was last proved its owner's; `None` while it never was.
    pub email_verified_at: Option<OffsetDateTime>,
    /// When an operator disabled the account (unix seconds); `None` while it is enabled.
    pub disabled_at: Option<i64>,
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
            email_verified: self.email_verified_at.is_some(),
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

/// A session as it starts: who, from where, the cap it can never outlive, and its first
/// refresh token.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub created_at: OffsetDateTime,
    pub ends_by: OffsetDateTime,
    pub user_agent: String,
    pub ip: String,
    /// How it signed in; its `created_at` is its first proof of who is behind it.
    pub method: super::SignInMethod,
    pub first: RefreshRecord,
}

/// A new password, as [`Store::change_password`](super::Store::change_password) applies it.
/// No `Debug`: it holds a password hash.
#[derive(Clone, Copy)]
pub struct PasswordChange<'a> {
    pub user_id: &'a str,
    /// The account's credential version when the current password was verified: the change
    /// is refused if another one committed since.
    pub verified_version: i64,
    pub password_hash: &'a str,
    /// The refresh token that the session making the change goes on with.
    pub fresh: &'a RefreshRecord,
    /// The "your password was changed" mail, queued with the change.
    pub notice: &'a super::OutgoingMail,
    pub event: &'a super::Event,
    pub at: OffsetDateTime,
}

/// A live session, as its owner sees it in the list.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SessionRecord {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    /// When it lapses unless refreshed (never after its cap).
    pub expires_at: OffsetDateTime,
    pub user_agent: String,
    pub ip: String,
    /// How it signed in (a [`SignInMethod`](super::SignInMethod)'s name).
    pub method: String,
}

/// Why a session ended, as recorded in its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Logout,
    Revoked,
    LogoutAll,
    PasswordChanged,
    Reuse,
}

impl EndReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::LogoutAll => "logout_all",
            Self::PasswordChanged => "password_changed",
            Self::Reuse => "reuse",
        }
    }
}

/// A session that ended, and when: what the in-memory revocation set is loaded from.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EndedSession {
    pub id: String,
    pub ended_at: OffsetDateTime,
}

/// A change to what instances cache, as the database announces it to all of them (PostgreSQL;
/// see [`Store::follow`](super::Store::follow)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A session ended (or was deleted while live): its access tokens must be refused.
    SessionEnded {
        id: String,
        ended_at: OffsetDateTime,
    },
    /// An account was updated or deleted: its cached public view is stale.
    UserChanged { id: String },
    /// A signing key was added or retired: the live keys must be read again.
    KeysChanged,
    /// Announcements may have been lost: whatever is cached must be reloaded. Also said when
    /// the notification connection is back after [`Change::Disconnected`].
    Missed,
    /// The notification connection failed: nothing is heard until [`Change::Missed`].
    Disconnected,
}

impl Change {
    /// Reads a notification payload: `session_ended <id> <unix seconds>`, `user_changed <id>`
    /// or `keys_changed`.
    pub fn parse(payload: &str) -> Option<Self> {
        if payload == "keys_changed" {
            return Some(Self::KeysChanged);
        }
        let mut words = payload.split(' ');
        let change = match (words.next()?, words.next()?) {
            ("session_ended", id) => {
                let seconds = words.next()?.parse().ok()?;
                Self::SessionEnded {
                    id: id.to_owned(),
                    ended_at: OffsetDateTime::from_unix_timestamp(seconds).ok()?,
                }
            }
            ("user_changed", id) => Self::UserChanged { id: id.to_owned() },
            _ => return None,
        };
        words.next().is_none().then_some(change)
    }
}

/// The successor of the refresh token being exchanged, as it is when rotated at a given time.
pub type SuccessorAt<'a> =
    dyn Fn(OffsetDateTime) -> Result<RefreshRecord, StoreError> + Send + Sync + 'a;

/// Now, to the whole second: what the database keeps, so answers match later reads.
pub fn clock() -> OffsetDateTime {
    let exact = OffsetDateTime::now_utc();
    exact - time::Duration::nanoseconds(exact.nanosecond().into())
}

/// What became of an attempt to exchange a refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The old row is now used and the successor, made for `at`, is live.
    Rotated { at: OffsetDateTime },
    /// The token was rotated at `rotated_at`, within the grace window, into the successor whose
    /// hash is given: the caller derives that successor again and hands it out.
    Recent {
        rotated_at: OffsetDateTime,
        successor_hash: String,
    },
    /// The token was rotated before the grace window: reuse. Its session has now ended.
    Reused,
    /// No row has that hash.
    Unknown,
    /// Its session ended, or the token was replaced (a password change).
    Revoked,
    /// Past its expiry or its session's cap.
    Expired,
}

/// What a password check drew from its budget (see
/// [`Store::reserve_attempt`](super::Store::reserve_attempt)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// One attempt is reserved in window number `generation` of its budget; give it back with
    /// [`Store::refund_attempt`](super::Store::refund_attempt) if the password was right.
    /// `last`: it was the budget's last attempt, so a wrong password here starts the lock.
    Granted { generation: i64, last: bool },
    /// The budget is spent until `until` (unix seconds).
    Exhausted { until: i64 },
}

/// A failed-password budget: at most `max` reservations per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub max: u32,
    pub window: std::time::Duration,
}

impl Budget {
    pub(super) fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notification_payloads_are_read_and_malformed_ones_refused() {
        assert_eq!(
            Change::parse("session_ended abc 1800000000"),
            Some(Change::SessionEnded {
                id: "abc".into(),
                ended_at: OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
            })
        );
        assert_eq!(
            Change::parse("user_changed u1"),
            Some(Change::UserChanged { id: "u1".into() })
        );
        for bad in [
            "",
            "session_ended abc",
            "session_ended abc soon",
            "user_changed a b",
            "x y",
        ] {
            assert_eq!(Change::parse(bad), None, "{bad:?}");
        }
    }
}
