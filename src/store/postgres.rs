//! [ssr] The [`Store`] on PostgreSQL: several instances share one database.
//!
//! Concurrency comes from row locks instead of SQLite's single writer: exchanging a refresh
//! token locks its row (`FOR UPDATE`), so simultaneous exchanges of one token queue on that row
//! whichever instance they reach, and each sees what the one before it wrote. Triggers (see the
//! migration) announce ended sessions and changed accounts on the channel [`CHANNEL`];
//! [`Store::follow`] turns those announcements into [`Change`]s for this instance's caches.

use super::{
    verdict::{judge, TokenRow, Verdict},
    Change, EndReason, EndedSession, NewSession, RefreshRecord, Rotation, SessionRecord, Store,
    StoreError, UserKey, UserRecord,
};
use crate::config::DatabaseUrl;
use async_trait::async_trait;
use sqlx::{
    postgres::{PgConnection, PgListener, PgPoolOptions, PgRow},
    PgPool, Row,
};
use std::time::Duration;
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
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(5))
            .connect(&database.url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&pool).await?;
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
    })
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

const USER_COLUMNS: &str = "id, email, username, full_name, password_hash, created_at";

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

/// Ends the live sessions chosen by `which` and revokes their live refresh tokens, in one
/// statement. Returns the ids that ended.
async fn end_where(
    conn: &mut PgConnection,
    which: Ending<'_>,
    reason: EndReason,
    now: OffsetDateTime,
) -> Result<Vec<String>, sqlx::Error> {
    let (filter, first, second) = match which {
        Ending::One(id) => ("id = $3", id, None),
        Ending::AllOf { user_id, keep } => {
            ("user_id = $3 AND id IS DISTINCT FROM $4", user_id, keep)
        }
    };
    let sql = format!(
        "WITH ended AS (
             UPDATE sessions SET ended_at = $1, end_reason = $2
             WHERE ended_at IS NULL AND {filter} RETURNING id
         ), revoked AS (
             UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, $1)
             WHERE state = 'live' AND session_id IN (SELECT id FROM ended)
         )
         SELECT id FROM ended"
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql)
        .bind(secs(now))
        .bind(reason.as_str())
        .bind(first);
    if matches!(which, Ending::AllOf { .. }) {
        query = query.bind(second);
    }
    query.fetch_all(&mut *conn).await
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
            "INSERT INTO users (id, email, email_key, username, full_name, password_hash, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(email_key)
        .bind(&user.username)
        .bind(&user.full_name)
        .bind(&user.password_hash)
        .bind(secs(user.created_at))
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
    ) -> Result<(), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        insert_session(&mut tx, session, first).await?;
        tx.commit().await?;
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
        successor: &RefreshRecord,
        now: OffsetDateTime,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        // The row lock before the decision: a second exchange of this token, on any instance,
        // waits here until the first commits, then reads the row as the first left it.
        let row = sqlx::query(
            "SELECT t.state, t.expires_at, t.used_at, t.successor_hash, t.session_id,
                    s.ended_at, s.ends_by
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.token_hash = $1
             FOR UPDATE OF t",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let token = TokenRow {
            state: row.try_get("state")?,
            expires_at: row.try_get("expires_at")?,
            used_at: row.try_get("used_at")?,
            successor_hash: row.try_get("successor_hash")?,
            session_ended: row
                .try_get::<Option<OffsetDateTime>, _>("ended_at")?
                .is_some(),
            session_ends_by: row.try_get("ends_by")?,
        };
        match judge(token, now, grace) {
            Verdict::Rotate => {}
            Verdict::Answer(answer) => return Ok(answer),
            Verdict::EndForReuse => {
                let session_id: String = row.try_get("session_id")?;
                end_where(&mut tx, Ending::One(&session_id), EndReason::Reuse, now).await?;
                tx.commit().await?;
                return Ok(Rotation::Reused);
            }
        }
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'used', used_at = $1, successor_hash = $2
             WHERE token_hash = $3",
        )
        .bind(secs(now))
        .bind(&successor.token_hash)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, successor).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
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
        password_hash: &str,
        fresh: &RefreshRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
            .bind(password_hash)
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        let others = Ending::AllOf {
            user_id,
            keep: Some(&fresh.session_id),
        };
        let ended = end_where(&mut tx, others, EndReason::PasswordChanged, now).await?;
        // This session goes on, with a fresh token: the ones before it are spent.
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, $1)
             WHERE session_id = $2 AND state = 'live'",
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
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions
             WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 FOR UPDATE",
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
    ) -> Result<(u64, u64), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        // A session's tokens go with it (ON DELETE CASCADE).
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR ended_at < $2")
            .bind(secs(now))
            .bind(secs(ended_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= $1")
            .bind(secs(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((sessions, tokens))
    }
}
