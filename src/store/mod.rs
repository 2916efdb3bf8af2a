//! [ssr] Where users, sessions and refresh tokens live. The server functions see only the [`Store`]
//! trait, implemented on SQLite (the default) and PostgreSQL (several instances).

pub mod postgres;
pub mod sqlite;
mod verdict;

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
    /// Bumped by every password change: a session may start only under the version whose
    /// password was verified (see [`Store::start_session`]).
    pub credential_version: i64,
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

/// A session as it starts: who, from where, and the cap it can never outlive.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub user_id: String,
    pub created_at: OffsetDateTime,
    pub ends_by: OffsetDateTime,
    pub user_agent: String,
    pub ip: String,
}

/// A live session, as its owner sees it in the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub id: String,
    pub created_at: OffsetDateTime,
    pub last_used_at: OffsetDateTime,
    /// When it lapses unless refreshed (never after its cap).
    pub expires_at: OffsetDateTime,
    pub user_agent: String,
    pub ip: String,
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedSession {
    pub id: String,
    pub ended_at: OffsetDateTime,
}

/// A change to what instances cache, as the database announces it to all of them (PostgreSQL;
/// see [`Store::follow`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A session ended (or was deleted while live): its access tokens must be refused.
    SessionEnded {
        id: String,
        ended_at: OffsetDateTime,
    },
    /// An account was updated or deleted: its cached public view is stale.
    UserChanged { id: String },
    /// Announcements may have been lost: whatever is cached must be reloaded.
    Missed,
}

impl Change {
    /// Reads a notification payload: `session_ended <id> <unix seconds>` or `user_changed <id>`.
    pub fn parse(payload: &str) -> Option<Self> {
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

/// What a password check drew from its budget (see [`Store::reserve_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// One attempt is reserved in window number `generation` of its budget; give it back with
    /// [`Store::refund_attempt`] if the password was right.
    Granted { generation: i64 },
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
    fn window_secs(&self) -> i64 {
        i64::try_from(self.window.as_secs()).unwrap_or(i64::MAX)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The account's password changed (or the account went) after the caller read it: what the
    /// caller verified is no longer the password.
    #[error("the account's credentials changed meanwhile")]
    CredentialsChanged,
    /// A unique field is taken: `email` or `username`.
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// The database cannot take the request now, for a reason that passes: its disk is full,
    /// another process holds its write lock, its file went read-only, the server is away.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The successor token could not be made.
    #[error("cannot make the successor token")]
    Successor(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the database file")]
    File(#[from] std::io::Error),
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Creates an account with its first session and that session's first refresh token,
    /// atomically: a registration either fully happened or not at all.
    /// `email_key` is the address's comparison form, unique among accounts.
    async fn create_user(
        &self,
        user: &UserRecord,
        email_key: &str,
        session: &NewSession,
        first: &RefreshRecord,
    ) -> Result<(), StoreError>;

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn find_user_by(&self, key: UserKey<'_>) -> Result<Option<UserRecord>, StoreError>;

    /// Starts a session (a login) with its first refresh token, if the account's credentials
    /// are still at `credential_version` (the one whose password was verified); otherwise
    /// [`StoreError::CredentialsChanged`]. The check and the insert are one transaction that a
    /// password change cannot interleave with.
    async fn start_session(
        &self,
        session: &NewSession,
        first: &RefreshRecord,
        credential_version: i64,
    ) -> Result<(), StoreError>;

    /// Reserves one attempt from the budget named `key` at `now` (unix seconds), atomically:
    /// however many checks run at once, on however many instances, at most `budget.max` are
    /// granted per window. A window starts with its first attempt and moves to the attempt that
    /// spends the budget, so the lock lasts a whole window after the last one granted, and no
    /// span of one window's length holds more than `budget.max` granted attempts.
    async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        budget: Budget,
    ) -> Result<Reservation, StoreError>;

    /// Gives back an attempt reserved in window `generation` (a right password costs nothing).
    /// A refund after that window ended changes nothing.
    async fn refund_attempt(&self, key: &str, generation: i64) -> Result<(), StoreError>;

    /// When the upgrade `name` took effect (unix seconds), as the migrations recorded it.
    async fn upgraded_at(&self, name: &str) -> Result<Option<i64>, StoreError>;

    /// The cap of a session, if it exists. The cap never changes, so it may be read outside
    /// the transaction that then uses it.
    async fn session_ends_by(&self, session_id: &str)
        -> Result<Option<OffsetDateTime>, StoreError>;

    /// Exchanges the token with hash `old_hash` for its successor, in one transaction that takes
    /// the write lock first, so concurrent exchanges of one token queue up: the first rotates
    /// (old row used, successor inserted, session touched), the rest see [`Rotation::Recent`]
    /// within `grace`, and later ones [`Rotation::Reused`], which ends the session.
    ///
    /// The time that decides all this is read once the lock is held ([`clock`]), and the
    /// successor is made for that time by `successor_at`. Read before the wait (as it was), a
    /// stall let a queued exchange record a "used at" from before the wait, so that the next
    /// one, still judged by its own earlier clock, looked like reuse past the grace window: a
    /// client refreshing once a second through a 20-second lock lost its session.
    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_at: &SuccessorAt<'_>,
        grace: std::time::Duration,
    ) -> Result<Rotation, StoreError>;

    /// Ends one session of `user_id`. `false` when the user has no such session (never a
    /// session of another user); `true` also when it had already ended.
    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Ends every live session of `user_id` except `keep`, returning the ids that ended.
    async fn end_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError>;

    /// The live sessions of `user_id` at `now`, newest first.
    async fn list_sessions(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError>;

    /// Sets the username and full name; `None` when the user is gone.
    async fn update_profile(
        &self,
        user_id: &str,
        username: &str,
        full_name: &str,
    ) -> Result<Option<UserRecord>, StoreError>;

    /// In one transaction: the new password hash and a new credential version, every other
    /// session ended, and every refresh token of this session (used ones too, so none is
    /// honoured in the grace window) replaced by `fresh`. Returns the ids of the sessions that
    /// ended. [`StoreError::CredentialsChanged`] if the account is no longer at
    /// `credential_version` (another change won).
    async fn change_password(
        &self,
        user_id: &str,
        credential_version: i64,
        password_hash: &str,
        fresh: &RefreshRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError>;

    /// Deletes the account with its sessions and tokens, returning the sessions that were live.
    async fn delete_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError>;

    /// Sessions that ended at or after `since`: their access tokens may still be around.
    async fn ended_since(&self, since: OffsetDateTime) -> Result<Vec<EndedSession>, StoreError>;

    /// Starts handing `apply` every [`Change`] that any instance makes to what instances cache,
    /// as the database announces it, and returns the task doing so. Following has begun when
    /// this returns, so nothing committed afterwards is missed. `None` where there is nothing to
    /// follow: on SQLite there is one instance, which updates its caches itself.
    async fn follow(
        &self,
        _apply: Box<dyn Fn(Change) + Send + Sync>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(None)
    }

    /// Deletes what can no longer matter at `now`: refresh tokens past their expiry (their
    /// signature check refuses them before any lookup), sessions that lapsed, sessions that
    /// ended before `ended_before` (their access tokens have all expired), and attempt budgets
    /// whose window started before `budgets_before`. Returns how many sessions and tokens went.
    async fn prune(
        &self,
        now: OffsetDateTime,
        ended_before: OffsetDateTime,
        budgets_before: i64,
    ) -> Result<(u64, u64), StoreError>;
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if passing(&err) {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Database(err)
        }
    }
}

/// The longest a request waits for the database: for SQLite's write lock (this process's queue,
/// then another process's hold), for a PostgreSQL connection. Past it the request is answered
/// 503 rather than left to pile up behind the others.
pub const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether a database error is one that passes (answered 503 with `Retry-After`, not 500): the
/// disk full, the file locked by another process or gone read-only or unreadable, the server
/// unreachable, out of connections or shutting down.
fn passing(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes: BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
                let primary = db
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .map(|code| code & 0xff);
                matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14))
            } else {
                // SQLSTATE: class 08 connection exception, class 53 insufficient resources
                // (disk full, out of memory or connections), 57P01-57P03 shutting down or
                // starting, 25006 read-only (a primary that became a standby in a failover),
                // 55P03 a lock not had within `lock_timeout`, 57014 a statement cancelled
                // (`statement_timeout`, or an operator's `pg_cancel_backend`).
                db.code().is_some_and(|state| {
                    state.starts_with("08")
                        || state.starts_with("53")
                        || matches!(
                            &*state,
                            "57P01" | "57P02" | "57P03" | "25006" | "55P03" | "57014"
                        )
                })
            }
        }
        _ => false,
    }
}

/// A write's error, with a unique-constraint failure on `users` turned into the field the
/// person should change. SQLite names the index in its message; PostgreSQL names the constraint.
fn taken_or_database(err: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &err else {
        return err.into();
    };
    if !db.is_unique_violation() {
        return err.into();
    }
    let culprit = db.constraint().unwrap_or(db.message());
    StoreError::Taken(if culprit.contains("email_key") {
        "email"
    } else {
        "username"
    })
}

/// Begins a transaction (with `statement`, or the database's plain `BEGIN`) in a task of its own,
/// so that it completes even if the caller stops waiting, as a request's future does when its
/// client disconnects. sqlx's begin is not cancel-safe: dropped between the database's `BEGIN`
/// and sqlx's own bookkeeping, it returns the connection to the pool inside a transaction that
/// nobody will end. On SQLite that transaction held the write lock: every other write then
/// failed with "database is locked", seen under a login flood when the load generator stopped.
/// A transaction begun here and then dropped is rolled back as usual.
async fn begin<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: Option<&'static str>,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    })
    .await
    .unwrap_or(Err(sqlx::Error::WorkerCrashed))
}

/// Opens the database `DATABASE_URL` names, as the right [`Store`], with its schema up to date.
pub async fn connect(
    database: &crate::config::DatabaseUrl,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    use crate::config::DatabaseKind;
    Ok(match database.kind {
        DatabaseKind::Postgres => std::sync::Arc::new(postgres::PgStore::connect(database).await?),
        DatabaseKind::SqliteFile(_) | DatabaseKind::SqliteMemory => {
            std::sync::Arc::new(sqlite::SqliteStore::connect(database).await?)
        }
    })
}

/// Opens the database as [`connect`] does, trying again while a PostgreSQL server cannot be
/// reached (down, starting, out of connections), for up to `patience`: waits double from half
/// a second to five, and each failed attempt logs one line with its cause. A server that
/// answers and refuses (a wrong password, no such database, a failed migration) is not tried
/// again, nor is a SQLite file: waiting would not change those.
pub async fn connect_patiently(
    database: &crate::config::DatabaseUrl,
    patience: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let started = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(500);
    for attempt in 1.. {
        // A host that drops packets makes one attempt last minutes (TCP's SYN retries): each
        // is bounded by the patience left.
        let left = patience.saturating_sub(started.elapsed());
        let attempt_result = match tokio::time::timeout(left, connect(database)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within DATABASE_WAIT_AT_START ({patience:?})"),
            )))),
        };
        match attempt_result {
            Err(StoreError::Unavailable(cause))
                if database.kind == crate::config::DatabaseKind::Postgres
                    && started.elapsed() + wait < patience =>
            {
                tracing::warn!(
                    attempt,
                    error = %crate::error::chain(&*cause),
                    retry_in_ms = wait.as_millis() as u64,
                    "cannot reach the database; trying again"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            outcome => return outcome,
        }
    }
    unreachable!("the attempts above never end but by returning")
}

/// How often [`spawn_pruning`] clears out what can no longer matter.
pub const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Keeps the database from growing without end: once an hour, deletes expired refresh tokens,
/// lapsed sessions, and sessions that ended more than one access lifetime ago (by then none of
/// their access tokens is alive, and the revocation set has let them go too).
///
/// Failure budgets go once their window (`budget_window`) has passed since their last attempt.
pub fn spawn_pruning(
    store: std::sync::Arc<dyn Store>,
    access_ttl: std::time::Duration,
    budget_window: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            let now = OffsetDateTime::now_utc();
            let budgets_before = now.unix_timestamp() - budget_window.as_secs() as i64;
            match store.prune(now, now - access_ttl, budgets_before).await {
                Ok((0, 0)) => {}
                Ok((sessions, tokens)) => tracing::info!(sessions, tokens, "pruned"),
                Err(e) => tracing::warn!(error = %e, "pruning failed; will try again"),
            }
        }
    })
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
