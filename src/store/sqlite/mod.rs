//! [ssr] The [`Store`] on SQLite: the zero-configuration default.
//!
//! Durability: WAL with `synchronous=NORMAL`. A transaction that answered 200 is in the WAL
//! before the answer, so it survives the process being killed (`kill -9`); only a power loss
//! or OS crash can lose the last moments of commits, the trade SQLite's own docs recommend
//! for WAL.

mod file;
pub mod follow;
mod open;
mod steps;

use super::{
    Change, Event, EventRecord, Retirement, SigningKeyRecord,
    recovery::{judge_token, OutboxRow, TokenRow as AccountTokenRow, OUTBOX_COLUMNS},
    rotation::TokenRow,
    steps::{self as shared, Ending, Steps},
    AccountToken, ClaimedMail, EmailChange, EmailChangeUndo, OutgoingMail, Registration, UndoOutcome, PasswordReset, ResetOutcome, ReuseNotice, TokenPurpose,
    TokenState, Budget, EndReason, EndedSession, NewSession, PasswordChange, Reservation, Rotation,
    SessionRecord, Store, StoreError, SuccessorAt, UserKey, UserRecord,
};
use async_trait::async_trait;
use file::OpenedFile;
use sqlx::{FromRow, Row, Sqlite, SqlitePool, Transaction};
use std::{sync::Arc, time::Duration};
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The file the pool opened, to notice when the path no longer leads to it.
    file: Option<Arc<OpenedFile>>,
    /// This process's writers queue here before taking SQLite's write lock (see
    /// [`SqliteStore::write`]).
    writes: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// A write transaction holding the write lock from its first statement (`BEGIN IMMEDIATE`),
    /// so one that reads first cannot lose a race to another writer. Writers of this process
    /// wait their turn on an async mutex first: SQLite's own busy handler waits by sleeping (up
    /// to 100 ms at a time), which turned twelve simultaneous refreshes into tens of
    /// milliseconds. `busy_timeout` still covers another process writing to the file.
    ///
    /// Both waits are bounded ([`super::LONGEST_WAIT`] each): with another process holding the
    /// lock, requests get 503 in seconds instead of queueing without end.
    ///
    /// And before anything is written: the database file must still be the one at its path.
    /// Deleted (or replaced) under a running server, it took registrations and logins into an
    /// unlinked file for as long as the server ran, and they were gone at the next start. And
    /// it must be writable: made read-only (by `chmod`, or a filesystem remounted read-only),
    /// writes went on through the connections opened before and failed on those opened after;
    /// now every write is refused alike (503) until it is writable again.
    async fn write(
        &self,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>), StoreError> {
        let gate = tokio::time::timeout(super::LONGEST_WAIT, self.writes.lock())
            .await
            .map_err(|_| StoreError::Unavailable(Box::new(WriteQueueTimeout)))?;
        // Checked in line, just before the write, not before a wait of up to three seconds.
        if let Some(file) = &self.file {
            file.ready_for_writes()?;
        }
        let tx = super::begin(&self.pool, Some("BEGIN IMMEDIATE")).await?;
        Ok((gate, tx))
    }
}

/// This process's writers waited too long in line for the write lock.
#[derive(Debug, thiserror::Error)]
#[error("waited too long in line for the write lock")]
struct WriteQueueTimeout;

fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

const USER_COLUMNS: &str =
    "id, email, username, full_name, password_hash, created_at, credential_version,
     email_verified_at, disabled_at";

super::factors::factor_queries!(SqliteStore, sqlx::Sqlite);

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(&self, registration: &Registration<'_>) -> Result<(), StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::create_user(tx, registration).await
    }

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        self.find_user_by_column("id", id).await
    }

    async fn find_user_by(&self, key: UserKey<'_>) -> Result<Option<UserRecord>, StoreError> {
        match key {
            UserKey::Email(key) => self.find_user_by_column("email_key", key).await,
            UserKey::Username(name) => self.find_user_by_column("username", name).await,
        }
    }

    async fn start_session(
        &self,
        session: &NewSession,
        version: i64,
        notice: Option<&OutgoingMail>,
        event: &Event,
    ) -> Result<(), StoreError> {
        // One writer at a time: no password change can commit between the check and the insert.
        let (_gate, tx) = self.write().await?;
        shared::start_session(tx, session, version, notice, event).await
    }

    async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        budget: Budget,
    ) -> Result<Reservation, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        // A window that ended starts afresh (a new generation); the attempt that spends the
        // budget moves the window to now; a spent one grants nothing (no row comes back).
        let granted: Option<(i64, bool)> = sqlx::query_as(
            "INSERT INTO attempt_budgets (key, window_start, used) VALUES (?1, ?2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 used = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE used + 1 END,
                 generation = CASE WHEN window_start <= ?2 - ?3
                                   THEN generation + 1 ELSE generation END,
                 window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2
                                     WHEN used + 1 >= ?4 THEN ?2
                                     ELSE window_start END
             WHERE used < ?4 OR window_start <= ?2 - ?3
             RETURNING generation, used >= ?4",
        )
        .bind(key)
        .bind(now)
        .bind(budget.window_secs())
        .bind(i64::from(budget.max))
        .fetch_optional(&mut *tx)
        .await?;
        let reservation = match granted {
            Some((generation, last)) => Reservation::Granted { generation, last },
            None => {
                let start: i64 =
                    sqlx::query_scalar("SELECT window_start FROM attempt_budgets WHERE key = ?")
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await?;
                Reservation::Exhausted {
                    until: start.saturating_add(budget.window_secs()),
                }
            }
        };
        tx.commit().await?;
        Ok(reservation)
    }

    async fn upgraded_at(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT at FROM upgrades WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn refund_attempt(&self, key: &str, generation: i64) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        sqlx::query(
            "UPDATE attempt_budgets SET used = used - 1
             WHERE key = ? AND generation = ? AND used > 0",
        )
        .bind(key)
        .bind(generation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_ends_by(
        &self,
        session_id: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT ends_by FROM sessions WHERE id = ?")
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
        reuse_notice: &ReuseNotice<'_>,
    ) -> Result<Rotation, StoreError> {
        // The write lock before the read: two exchanges of one token serialise here instead of
        // both reading 'live'.
        let (_gate, mut tx) = self.write().await?;
        // Read only now that the lock is held (see `Store::rotate_refresh`).
        let now = super::clock();
        let row = sqlx::query(
            "SELECT t.state, t.expires_at, t.used_at, t.successor_hash, t.session_id,
                    s.ended_at IS NOT NULL AS session_ended, s.ends_by AS session_ends_by
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.token_hash = ?",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let session_id: String = row.try_get("session_id")?;
        let token = TokenRow::from_row(&row)?;
        let exchange = shared::Exchange {
            old_hash,
            successor_at,
            grace,
            reuse_notice,
        };
        shared::settle_rotation(tx, token, &session_id, now, &exchange).await
    }

    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: EndReason,
        now: OffsetDateTime,
        event: &Event,
    ) -> Result<bool, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = ? AND user_id = ?")
                .bind(session_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(false);
        }
        // Only a session that was live ends, and only that is an event: a dead session's
        // cookie, posted again and again, writes nothing.
        let ended = tx.end(Ending::One(session_id), reason, now).await?;
        if ended.is_empty() {
            return Ok(false);
        }
        tx.record_event(event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        now: OffsetDateTime,
        event: &Event,
    ) -> Result<Vec<String>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let ended = tx.end(Ending::AllOf { user_id, keep }, reason, now).await?;
        tx.record_event(event).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, created_at, last_used_at, expires_at, user_agent, ip, method FROM sessions
             WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?
             ORDER BY created_at DESC, rowid DESC",
        )
        .bind(user_id)
        .bind(unix(now))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn update_profile(
        &self,
        user_id: &str,
        username: &str,
        full_name: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let user = sqlx::query_as(&format!(
            "UPDATE users SET username = ?, full_name = ? WHERE id = ? RETURNING {USER_COLUMNS}"
        ))
        .bind(username)
        .bind(full_name)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(super::taken_or_database)?;
        tx.commit().await?;
        Ok(user)
    }

    async fn change_password(&self, change: &PasswordChange<'_>) -> Result<Vec<String>, StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::change_password(tx, change).await
    }

    async fn delete_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
        event: &Event,
    ) -> Result<Vec<String>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?",
        )
        .bind(user_id)
        .bind(unix(now))
        .fetch_all(&mut *tx)
        .await?;
        // Sessions and refresh tokens go with the user (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.record_event(event).await?;
        tx.commit().await?;
        Ok(live)
    }

    async fn ended_since(&self, since: OffsetDateTime) -> Result<Vec<EndedSession>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, ended_at FROM sessions WHERE ended_at >= ?")
                .bind(unix(since))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn prune(
        &self,
        now: OffsetDateTime,
        ended_before: OffsetDateTime,
        budgets_before: i64,
        events_before: i64,
    ) -> Result<(u64, u64, u64), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        // A session's tokens go with it (ON DELETE CASCADE); count them first.
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= ? OR ended_at < ?")
            .bind(unix(now))
            .bind(unix(ended_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= ?")
            .bind(unix(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM attempt_budgets WHERE window_start < ?")
            .bind(budgets_before)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM account_tokens WHERE expires_at <= ?")
            .bind(unix(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mail_outbox WHERE discard_after <= ?")
            .bind(unix(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM held_addresses WHERE until <= ?")
            .bind(unix(now))
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM challenges WHERE expires_at <= ?")
            .bind(unix(now))
            .execute(&mut *tx)
            .await?;
        let events = sqlx::query("DELETE FROM events WHERE at < ?")
            .bind(events_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        // Every server polls announcements within a second; a minute is ample.
        sqlx::query("DELETE FROM announcements WHERE at < ?")
            .bind(unix(now) - 60)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((sessions, tokens, events))
    }

    async fn issue_account_tokens(
        &self,
        tokens: &[AccountToken],
        mails: &[OutgoingMail],
    ) -> Result<(), StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::issue_account_tokens(tx, tokens, mails).await
    }

    async fn account_token_state(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<TokenState, StoreError> {
        let row: Option<AccountTokenRow> = sqlx::query_as(steps::ACCOUNT_TOKEN_ROW)
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(judge_token(row, purpose, unix(now)))
    }

    async fn reset_password(&self, reset: &PasswordReset<'_>) -> Result<ResetOutcome, StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::reset_password(tx, reset).await
    }

    async fn migrations_applied(&self) -> Result<bool, StoreError> {
        // The file must still be the one at its path, and writable (see `write`).
        if let Some(file) = &self.file {
            file.ready_for_writes()?;
        }
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let known = sqlx::migrate!("./migrations/sqlite").migrations.len();
        Ok(usize::try_from(applied).is_ok_and(|applied| applied >= known))
    }

    async fn address_held(
        &self,
        key: &str,
        except: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(steps::held_for_another(&mut conn, key, except, now.unix_timestamp()).await?)
    }

    async fn verify_email(
        &self,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<TokenState, StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::verify_email(tx, token_hash, at).await
    }

    async fn verification_by_code(
        &self,
        user_id: &str,
        code_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT token_hash FROM account_tokens
             WHERE user_id = ? AND code_hash = ? AND purpose = 'verify_email'",
        )
        .bind(user_id)
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn change_email(&self, change: &EmailChange<'_>) -> Result<TokenState, StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::change_email(tx, change).await
    }

    async fn undo_email_change(
        &self,
        undo: &EmailChangeUndo<'_>,
    ) -> Result<UndoOutcome, StoreError> {
        let (_gate, tx) = self.write().await?;
        shared::undo_email_change(tx, undo).await
    }

    async fn queue_mail(&self, mail: &OutgoingMail) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        tx.queue_mail(mail).await?;
        Ok(tx.commit().await?)
    }

    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<ClaimedMail>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let claimed = claim_due_mail(&mut tx, unix(now), lease.as_secs() as i64).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    async fn mail_delivered(&self, id: &str) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        sqlx::query("DELETE FROM mail_outbox WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn mail_failed(
        &self,
        id: &str,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?
             WHERE id = ?",
        )
        .bind(unix(next_attempt_at))
        .bind(error)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        Ok(tx.commit().await?)
    }

    async fn follow(
        &self,
        apply: Box<dyn Fn(Change) + Send + Sync>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(Some(follow::follow(&self.pool, apply).await?))
    }

    async fn list_users(&self, limit: u32) -> Result<Vec<UserRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT ?"
        ))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn set_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        event: &Event,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let at = disabled.then(|| event.at.unix_timestamp());
        // Disabling again keeps the first time it was disabled.
        let found = sqlx::query(
            "UPDATE users SET disabled_at = CASE WHEN ? IS NULL THEN NULL
                                                 ELSE COALESCE(disabled_at, ?) END
             WHERE id = ?",
        )
        .bind(at)
        .bind(at)
        .bind(user_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if found == 0 {
            return Ok(None);
        }
        let ended = if disabled {
            let every = Ending::AllOf {
                user_id,
                keep: None,
            };
            let ended = tx.end(every, EndReason::Revoked, event.at).await?;
            // Links mailed before do nothing while it is disabled (the judge refuses them),
            // and nothing after either: a change of address or password asked for by whoever
            // was using the account must not land once it is enabled again. Undo links stay:
            // they are the owner's way back.
            let pending = [
                TokenPurpose::PasswordReset,
                TokenPurpose::VerifyEmail,
                TokenPurpose::ChangeEmail,
                TokenPurpose::CancelEmailChange,
            ];
            tx.retire_account_tokens(user_id, &pending, event.at)
                .await?;
            // Nor a login's second step begun before: it would sign in once enabled again.
            tx.forget_challenges(user_id).await?;
            ended
        } else {
            Vec::new()
        };
        tx.record_event(event).await?;
        tx.commit().await?;
        Ok(Some(ended))
    }

    async fn session_owner(&self, session_id: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = ?")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT kid, created_at, retired_at FROM signing_keys ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    async fn add_signing_key(
        &self,
        kid: &str,
        at: OffsetDateTime,
        retire_others: bool,
    ) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        // The first rotation lists the original key (the secret itself), so that it stays
        // live, and can be retired, like any other.
        sqlx::query(
            "INSERT INTO signing_keys (kid, created_at)
             SELECT '0', 0 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .execute(&mut *tx)
        .await?;
        if retire_others {
            sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE retired_at IS NULL")
                .bind(at.unix_timestamp())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO signing_keys (kid, created_at) VALUES (?, ?)")
            .bind(kid)
            .bind(at.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        Ok(tx.commit().await?)
    }

    async fn retire_signing_key(
        &self,
        kid: &str,
        at: OffsetDateTime,
    ) -> Result<Retirement, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let live: Vec<String> =
            sqlx::query_scalar("SELECT kid FROM signing_keys WHERE retired_at IS NULL")
                .fetch_all(&mut *tx)
                .await?;
        // Before the first rotation the original key is the only one, listed or not.
        let live = if live.is_empty() { vec![crate::credentials::key_ring::ORIGINAL.to_owned()] } else { live };
        if !live.iter().any(|k| k == kid) {
            return Ok(Retirement::NotLive);
        }
        if live.len() == 1 {
            return Ok(Retirement::LastLive);
        }
        sqlx::query("UPDATE signing_keys SET retired_at = ? WHERE kid = ?")
            .bind(at.unix_timestamp())
            .bind(kid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Retirement::Retired)
    }

    async fn record_event(&self, event: &Event) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        tx.record_event(event).await?;
        Ok(tx.commit().await?)
    }

    async fn events_of(&self, user_id: &str, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, kind, at, actor, ip, device, session_id FROM events
             WHERE user_id = ? ORDER BY at DESC, id DESC LIMIT ?",
        )
        .bind(user_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    fn connections(&self) -> crate::store::PoolUse {
        crate::store::PoolUse::of(&self.pool)
    }

    async fn outbox_backlog(&self) -> Result<(i64, Option<OffsetDateTime>), StoreError> {
        let (count, oldest): (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MIN(queued_at) FROM mail_outbox")
                .fetch_one(&self.pool)
                .await?;
        Ok((count, oldest.and_then(|at| OffsetDateTime::from_unix_timestamp(at).ok())))
    }
}

/// The message due first, its next attempt moved `lease_secs` ahead (the claim).
async fn claim_due_mail(
    tx: &mut Transaction<'static, Sqlite>,
    now: i64,
    lease_secs: i64,
) -> Result<Option<ClaimedMail>, sqlx::Error> {
    let row: Option<OutboxRow> = sqlx::query_as(&format!(
        "UPDATE mail_outbox SET next_attempt_at = ?1 + ?2
         WHERE id = (SELECT id FROM mail_outbox WHERE next_attempt_at <= ?1
                       AND (discard_after IS NULL OR discard_after > ?1)
                     ORDER BY next_attempt_at, queued_at LIMIT 1)
         RETURNING {OUTBOX_COLUMNS}"
    ))
    .bind(now)
    .bind(lease_secs)
    .fetch_optional(&mut **tx)
    .await?;
    Ok(row.map(ClaimedMail::from))
}

impl SqliteStore {
    async fn find_user_by_column(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = ?"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?)
    }
}
