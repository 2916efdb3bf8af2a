//! [ssr] The [`Store`] on PostgreSQL: several instances share one database.
//!
//! Concurrency comes from row locks instead of SQLite's single writer, always taken in one
//! order: the account's row, then session rows (by id), then refresh-token rows. Exchanging a
//! refresh token locks its session and its row, so simultaneous exchanges of one token queue
//! whichever instance they reach, and each sees what the one before it wrote; ending sessions
//! locks the account first, then the sessions. Two transactions that lock in one order can wait
//! for each other but never deadlock: before this order, a refresh (token, then session) racing
//! a logout (session, then tokens) deadlocked, and PostgreSQL killed one of them (a 500, and
//! sometimes a refreshed token that outlived the logout). Triggers (see the
//! migration) announce ended sessions and changed accounts on the channel [`CHANNEL`];
//! [`Store::follow`] turns those announcements into [`Change`]s for this instance's caches.

use super::{
    verdict::{judge, TokenRow, Verdict},
    Budget, Change, EndReason, EndedSession, NewSession, RefreshRecord, Reservation, Rotation,
    SessionRecord, Store, StoreError, SuccessorAt, UserKey, UserRecord,
};
use crate::config::DatabaseUrl;
use async_trait::async_trait;
use sqlx::{
    postgres::{PgConnectOptions, PgConnection, PgListener, PgPoolOptions, PgRow},
    Connection, PgPool, Row,
};
use std::{str::FromStr, time::Duration};
use time::OffsetDateTime;

/// The notification channel the migration's triggers announce changes on.
pub const CHANNEL: &str = "gatehouse";

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

impl PgStore {
    /// Connects and brings the schema up to date. Several instances starting at once are safe:
    /// sqlx runs migrations under an advisory lock.
    pub async fn connect(database: &DatabaseUrl) -> Result<Self, StoreError> {
        // One plain connection first: when the server cannot be reached, it fails with the
        // cause ("Connection refused", "database … does not exist"), where the pool would only
        // say that it timed out.
        // It also runs the migrations, free of the pool's timeouts below: an instance starting
        // beside another waits on the migration lock as long as the other takes.
        let mut plain = PgConnection::connect(&database.url).await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&mut plain)
            .await?;
        plain.close().await?;
        // A statement waiting on a lock that another session holds (an operator's open
        // transaction in psql, a migration) gives up after the same bound as a wait for a
        // connection, and no statement runs on past 10 s: requests answer 503 rather than
        // queue behind it, each holding one of the pool's 16 connections.
        let wait = format!("{}ms", super::LONGEST_WAIT.as_millis());
        let options = PgConnectOptions::from_str(&database.url)?.options([
            ("lock_timeout", wait.as_str()),
            ("statement_timeout", "10s"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(super::LONGEST_WAIT)
            // As on SQLite (see `SqliteStore::connect`): a connection whose transaction sqlx
            // still counts is closed, never handed out again.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}

/// Whole seconds, like the tokens and the SQLite store: what is stored reads back the same.
fn secs(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

fn user_from_row(row: &PgRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        username: row.try_get("username")?,
        full_name: row.try_get("full_name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: row.try_get("created_at")?,
        credential_version: row.try_get("credential_version")?,
    })
}

/// How a transaction locks an account's row before it touches the account's sessions.
#[derive(Clone, Copy)]
enum AccountLock {
    /// Ending sessions or changing the password: excludes the others and logins.
    Exclusive,
    /// Deleting the account: excludes everything, refresh exchanges too.
    Delete,
}

/// Locks the account's row first, as every transaction here does before session rows; `false`
/// when there is no such account.
async fn lock_account(
    conn: &mut PgConnection,
    user_id: &str,
    how: AccountLock,
) -> Result<bool, sqlx::Error> {
    let sql = match how {
        AccountLock::Exclusive => "SELECT 1 FROM users WHERE id = $1 FOR NO KEY UPDATE",
        AccountLock::Delete => "SELECT 1 FROM users WHERE id = $1 FOR UPDATE",
    };
    let found: Option<i32> = sqlx::query_scalar(sql)
        .bind(user_id)
        .fetch_optional(&mut *conn)
        .await?;
    Ok(found.is_some())
}

fn session_from_row(row: &PgRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        created_at: row.try_get("created_at")?,
        last_used_at: row.try_get("last_used_at")?,
        expires_at: row.try_get("expires_at")?,
        user_agent: row.try_get("user_agent")?,
        ip: row.try_get("ip")?,
    })
}

const USER_COLUMNS: &str =
    "id, email, username, full_name, password_hash, created_at, credential_version";

async fn insert_refresh(
    conn: &mut PgConnection,
    record: &RefreshRecord,
) -> Result<(), sqlx::Error> {
    // The session lapses when its newest token does, and was last used now.
    sqlx::query(
        "WITH touched AS (
             UPDATE sessions SET last_used_at = $4, expires_at = $5 WHERE id = $2
         )
         INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at, expires_at)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&record.token_hash)
    .bind(&record.session_id)
    .bind(&record.user_id)
    .bind(secs(record.issued_at))
    .bind(secs(record.expires_at))
    .execute(&mut *conn)
    .await
    .map(drop)
}

async fn insert_session(
    conn: &mut PgConnection,
    session: &NewSession,
    first: &RefreshRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ends_by,
                               user_agent, ip)
         VALUES ($1, $2, $3, $3, $4, $5, $6, $7)",
    )
    .bind(&session.id)
    .bind(&session.user_id)
    .bind(secs(session.created_at))
    .bind(secs(first.expires_at))
    .bind(secs(session.ends_by))
    .bind(&session.user_agent)
    .bind(&session.ip)
    .execute(&mut *conn)
    .await?;
    insert_refresh(conn, first).await
}

/// Which live sessions [`end_where`] ends.
#[derive(Clone, Copy)]
enum Ending<'a> {
    One(&'a str),
    AllOf {
        user_id: &'a str,
        keep: Option<&'a str>,
    },
}

/// Ends the live sessions chosen by `which` and revokes their live refresh tokens. Returns the
/// ids that ended. For several sessions, the caller holds the account's lock already.
///
/// The sessions are locked (in id order) by one statement and updated by the next: the second
/// statement's snapshot is taken once the locks are held, so it sees the successor token of a
/// refresh that committed while this waited, and revokes it too. In one statement, that token
/// was inserted after the snapshot and stayed live.
async fn end_where(
    conn: &mut PgConnection,
    which: Ending<'_>,
    reason: EndReason,
    now: OffsetDateTime,
) -> Result<Vec<String>, sqlx::Error> {
    let (filter, first, second) = match which {
        Ending::One(id) => ("id = $1", id, None),
        Ending::AllOf { user_id, keep } => {
            ("user_id = $1 AND id IS DISTINCT FROM $2", user_id, keep)
        }
    };
    let lock = format!(
        "SELECT id FROM sessions WHERE ended_at IS NULL AND {filter} ORDER BY id FOR UPDATE"
    );
    let mut query = sqlx::query_scalar::<_, String>(&lock).bind(first);
    if matches!(which, Ending::AllOf { .. }) {
        query = query.bind(second);
    }
    let locked = query.fetch_all(&mut *conn).await?;
    if locked.is_empty() {
        return Ok(locked);
    }
    sqlx::query_scalar(
        "WITH ended AS (
             UPDATE sessions SET ended_at = $1, end_reason = $2
             WHERE ended_at IS NULL AND id = ANY($3) RETURNING id
         ), revoked AS (
             UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, $1)
             WHERE state = 'live' AND session_id IN (SELECT id FROM ended)
         )
         SELECT id FROM ended",
    )
    .bind(secs(now))
    .bind(reason.as_str())
    .bind(&locked)
    .fetch_all(&mut *conn)
    .await
}

#[async_trait]
impl Store for PgStore {
    async fn create_user(
        &self,
        user: &UserRecord,
        email_key: &str,
        session: &NewSession,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        sqlx::query(
            "INSERT INTO users (id, email, email_key, username, full_name, password_hash, created_at,
                                credential_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(email_key)
        .bind(&user.username)
        .bind(&user.full_name)
        .bind(&user.password_hash)
        .bind(secs(user.created_at))
        .bind(user.credential_version)
        .execute(&mut *tx)
        .await
        .map_err(super::taken_or_database)?;
        insert_session(&mut tx, session, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn find_user_by(&self, key: UserKey<'_>) -> Result<Option<UserRecord>, StoreError> {
        let (column, value) = match key {
            UserKey::Email(key) => ("email_key", key),
            UserKey::Username(name) => ("username", name),
        };
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn start_session(
        &self,
        session: &NewSession,
        first: &RefreshRecord,
        credential_version: i64,
    ) -> Result<(), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        // A share lock: logins of one account go together, but a password change (which locks
        // the row exclusively) either commits before this reads, or waits until this commits
        // and then ends the session this inserts.
        let current: Option<i64> =
            sqlx::query_scalar("SELECT credential_version FROM users WHERE id = $1 FOR SHARE")
                .bind(&session.user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if current != Some(credential_version) {
            return Err(StoreError::CredentialsChanged);
        }
        insert_session(&mut tx, session, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        budget: Budget,
    ) -> Result<Reservation, StoreError> {
        // One statement: the row lock of the upsert makes concurrent reservations of one key,
        // from any instance, count one after another. A window that ended starts afresh (a new
        // generation); the attempt that spends the budget moves the window to now; a spent one
        // grants nothing (no row comes back).
        let granted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO attempt_budgets AS b (key, window_start, used) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 used = CASE WHEN b.window_start <= $2 - $3 THEN 1 ELSE b.used + 1 END,
                 generation = CASE WHEN b.window_start <= $2 - $3
                                   THEN b.generation + 1 ELSE b.generation END,
                 window_start = CASE WHEN b.window_start <= $2 - $3 THEN $2
                                     WHEN b.used + 1 >= $4 THEN $2
                                     ELSE b.window_start END
             WHERE b.used < $4 OR b.window_start <= $2 - $3
             RETURNING generation",
        )
        .bind(key)
        .bind(now)
        .bind(budget.window_secs())
        .bind(i32::try_from(budget.max).unwrap_or(i32::MAX))
        .fetch_optional(&self.pool)
        .await?;
        if let Some(generation) = granted {
            return Ok(Reservation::Granted { generation });
        }
        let start: Option<i64> =
            sqlx::query_scalar("SELECT window_start FROM attempt_budgets WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(Reservation::Exhausted {
            until: start.unwrap_or(now).saturating_add(budget.window_secs()),
        })
    }

    async fn upgraded_at(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT at FROM upgrades WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn refund_attempt(&self, key: &str, generation: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE attempt_budgets SET used = used - 1
             WHERE key = $1 AND generation = $2 AND used > 0",
        )
        .bind(key)
        .bind(generation)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn session_ends_by(
        &self,
        session_id: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT ends_by FROM sessions WHERE id = $1")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_at: &SuccessorAt<'_>,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        // Whose token it is never changes, so it is read without a lock; then the locks, in the
        // one order (account, session, token). The account's is a key-share lock: it only keeps
        // the account from being deleted under the successor's insert.
        let owner =
            sqlx::query("SELECT user_id, session_id FROM refresh_tokens WHERE token_hash = $1")
                .bind(old_hash)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(owner) = owner else {
            return Ok(Rotation::Unknown);
        };
        let (user_id, session_id): (String, String) =
            (owner.try_get("user_id")?, owner.try_get("session_id")?);
        sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE")
            .bind(&user_id)
            .execute(&mut *tx)
            .await?;
        // The session's lock before the decision: a second exchange of this token, or an end of
        // its session, on any instance, waits here until the first commits, then reads the
        // rows as the first left them. (Separate statements: one statement locking both would
        // take them in whatever order its plan reads them.)
        let session =
            sqlx::query("SELECT ended_at, ends_by FROM sessions WHERE id = $1 FOR UPDATE")
                .bind(&session_id)
                .fetch_optional(&mut *tx)
                .await?;
        let row = sqlx::query(
            "SELECT state, expires_at, used_at, successor_hash FROM refresh_tokens
             WHERE token_hash = $1 FOR UPDATE",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let (Some(session), Some(row)) = (session, row) else {
            return Ok(Rotation::Unknown);
        };
        // Read only now that the lock is held (see `Store::rotate_refresh`).
        let now = super::clock();
        let token = TokenRow {
            state: row.try_get("state")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            successor_hash: row.try_get("successor_hash")?,
            session_ended: session
                .try_get::<Option<OffsetDateTime>, _>("ended_at")?
                .is_some(),
            session_ends_by: session.try_get("ends_by")?,
        };
        match judge(token, now, grace) {
            Verdict::Rotate => {}
            Verdict::Answer(answer) => return Ok(answer),
            Verdict::EndForReuse => {
                end_where(&mut tx, Ending::One(&session_id), EndReason::Reuse, now).await?;
                tx.commit().await?;
                return Ok(Rotation::Reused);
            }
        }
        let successor = successor_at(now)?;
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'used', used_at = $1, successor_hash = $2
             WHERE token_hash = $3",
        )
        .bind(secs(now))
        .bind(&successor.token_hash)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, &successor).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated { at: now })
    }

    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        if !lock_account(&mut tx, user_id, AccountLock::Exclusive).await? {
            return Ok(false);
        }
        let owned: Option<i32> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(session_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(false);
        }
        end_where(&mut tx, Ending::One(session_id), reason, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        if !lock_account(&mut tx, user_id, AccountLock::Exclusive).await? {
            return Ok(Vec::new());
        }
        let ended = end_where(&mut tx, Ending::AllOf { user_id, keep }, reason, now).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
             WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC, seq DESC",
        )
        .bind(user_id)
        .bind(secs(now))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(session_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn update_profile(
        &self,
        user_id: &str,
        username: &str,
        full_name: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!(
            "UPDATE users SET username = $1, full_name = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"
        ))
        .bind(username)
        .bind(full_name)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(super::taken_or_database)?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn change_password(
        &self,
        user_id: &str,
        credential_version: i64,
        password_hash: &str,
        fresh: &RefreshRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        // The update locks the account's row (first, as everywhere) until the commit: logins
        // waiting on it then read the new version and give up.
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $1, credential_version = credential_version + 1
             WHERE id = $2 AND credential_version = $3",
        )
        .bind(password_hash)
        .bind(user_id)
        .bind(credential_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::CredentialsChanged);
        }
        let others = Ending::AllOf {
            user_id,
            keep: Some(&fresh.session_id),
        };
        let ended = end_where(&mut tx, others, EndReason::PasswordChanged, now).await?;
        // This session goes on, with a fresh token: the ones before it are spent, the rotated
        // ones too, so a copy of one cannot draw a token in the grace window. Its row is locked
        // first, so a refresh of it that was under way has committed and its successor is seen.
        sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(&fresh.session_id)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, $1)
             WHERE session_id = $2 AND state IN ('live', 'used')",
        )
        .bind(secs(now))
        .bind(&fresh.session_id)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, fresh).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn delete_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        if !lock_account(&mut tx, user_id, AccountLock::Delete).await? {
            return Ok(Vec::new());
        }
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions
             WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 ORDER BY id FOR UPDATE",
        )
        .bind(user_id)
        .bind(secs(now))
        .fetch_all(&mut *tx)
        .await?;
        // Sessions and refresh tokens go with the user (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(live)
    }

    async fn ended_since(&self, since: OffsetDateTime) -> Result<Vec<EndedSession>, StoreError> {
        let rows = sqlx::query("SELECT id, ended_at FROM sessions WHERE ended_at >= $1")
            .bind(secs(since))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(EndedSession {
                    id: row.try_get("id")?,
                    ended_at: row.try_get("ended_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    /// Listens on [`CHANNEL`]. When the connection drops, notifications sent meanwhile are lost,
    /// so once it is back `apply` gets [`Change::Missed`] and should reload what it caches.
    async fn follow(
        &self,
        apply: Box<dyn Fn(Change) + Send + Sync>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        let mut listener = PgListener::connect_with(&self.pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(tokio::spawn(async move {
            loop {
                match listener.try_recv().await {
                    Ok(Some(notification)) => match Change::parse(notification.payload()) {
                        Some(change) => apply(change),
                        None => tracing::warn!(
                            payload = notification.payload(),
                            "unknown notification ignored"
                        ),
                    },
                    // Lost and already re-established (sqlx reconnects eagerly).
                    Ok(None) => {
                        tracing::warn!("notification connection was lost; reloading caches");
                        apply(Change::Missed);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "notification connection failed; retrying");
                        // `listen` reconnects and listens again; only then can a reload be
                        // sure to see everything the notifications would have said.
                        loop {
                            tokio::time::sleep(Duration::from_secs(1)).await;
                            if listener.listen(CHANNEL).await.is_ok() {
                                break;
                            }
                        }
                        apply(Change::Missed);
                    }
                }
            }
        })))
    }

    async fn prune(
        &self,
        now: OffsetDateTime,
        ended_before: OffsetDateTime,
        budgets_before: i64,
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        // The pool's 10 s bound is for requests. A first pruning after a long outage, or of a
        // large table, may take longer; cut off at 10 s it would roll back and the next hour's
        // would be larger still, never succeeding.
        sqlx::query("SET LOCAL statement_timeout = '10min'")
            .execute(&mut *tx)
            .await?;
        // A session's tokens go with it (ON DELETE CASCADE). Sessions someone holds (an end
        // racing the pruning) are skipped until the next round rather than waited for.
        let sessions = sqlx::query(
            "DELETE FROM sessions WHERE id IN (
                 SELECT id FROM sessions WHERE expires_at <= $1 OR ended_at < $2
                 ORDER BY id FOR UPDATE SKIP LOCKED)",
        )
        .bind(secs(now))
        .bind(secs(ended_before))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // Tokens past their expiry, skipping any a transaction holds (never waiting with these
        // locks held, so pruning cannot deadlock with an end that locks in the one order).
        let tokens = sqlx::query(
            "DELETE FROM refresh_tokens WHERE token_hash IN (
                 SELECT token_hash FROM refresh_tokens WHERE expires_at <= $1
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(secs(now))
        .execute(&mut *tx)
        .await?
        .rows_affected();
        sqlx::query("DELETE FROM attempt_budgets WHERE window_start < $1")
            .bind(budgets_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((sessions, tokens))
    }
}
