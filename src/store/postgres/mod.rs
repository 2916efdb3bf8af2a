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
//! [`follow`] turns those announcements into [`Change`]s for this instance's caches.
//!
//! The write sequences shared with SQLite (`store/steps.rs`) run here through [`steps`], which
//! takes its locks in this order too.

mod follow;
mod open;
mod steps;

pub use follow::CHANNEL;

use super::{
    Event, EventRecord, Retirement, SigningKeyRecord,
    recovery::{judge_token, OutboxRow, TokenRow as AccountTokenRow, OUTBOX_COLUMNS},
    rotation::TokenRow,
    steps::{self as shared, Ending, Steps},
    AccountToken, ClaimedMail, EmailChange, EmailChangeUndo, OutgoingMail, Registration, UndoOutcome, PasswordReset, ResetOutcome, ReuseNotice, TokenPurpose,
    TokenState, Budget, Change, EndReason, EndedSession, NewSession, PasswordChange, Reservation, Rotation,
    SessionRecord, Store, StoreError, SuccessorAt, UserKey, UserRecord,
};
use async_trait::async_trait;
use sqlx::{PgPool, Row};
use std::time::Duration;
use steps::{lock_account, AccountLock};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
}

/// Whole seconds, like the tokens and the SQLite store: what is stored reads back the same.
fn secs(at: OffsetDateTime) -> OffsetDateTime {
    at.replace_nanosecond(0).unwrap_or(at)
}

const USER_COLUMNS: &str =
    "id, email, username, full_name, password_hash, created_at, credential_version,
     email_verified_at, disabled_at";

impl PgStore {
    /// A write transaction, as [`super::factors::factor_queries`] opens one on either database:
    /// PostgreSQL needs no gate before it (rows lock themselves).
    async fn write(&self) -> Result<((), sqlx::Transaction<'static, sqlx::Postgres>), StoreError> {
        Ok(((), super::begin(&self.pool, None).await?))
    }
}

super::factors::factor_queries!(PgStore, sqlx::Postgres);

#[async_trait]
impl Store for PgStore {
    async fn create_user(&self, registration: &Registration<'_>) -> Result<(), StoreError> {
        let tx = super::begin(&self.pool, None).await?;
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
        let tx = super::begin(&self.pool, None).await?;
        shared::start_session(tx, session, version, notice, event).await
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
        let granted: Option<(i64, bool)> = sqlx::query_as(
            "INSERT INTO attempt_budgets AS b (key, window_start, used) VALUES ($1, $2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 used = CASE WHEN b.window_start <= $2 - $3 THEN 1 ELSE b.used + 1 END,
                 generation = CASE WHEN b.window_start <= $2 - $3
                                   THEN b.generation + 1 ELSE b.generation END,
                 window_start = CASE WHEN b.window_start <= $2 - $3 THEN $2
                                     WHEN b.used + 1 >= $4 THEN $2
                                     ELSE b.window_start END
             WHERE b.used < $4 OR b.window_start <= $2 - $3
             RETURNING generation, used >= $4",
        )
        .bind(key)
        .bind(now)
        .bind(budget.window_secs())
        .bind(i32::try_from(budget.max).unwrap_or(i32::MAX))
        .fetch_optional(&self.pool)
        .await?;
        if let Some((generation, last)) = granted {
            return Ok(Reservation::Granted { generation, last });
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
        reuse_notice: &ReuseNotice<'_>,
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
        sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(&session_id)
            .execute(&mut *tx)
            .await?;
        let token = sqlx::query_as::<_, TokenRow>(
            "SELECT t.state, t.expires_at, t.used_at, t.successor_hash,
                    s.ended_at IS NOT NULL AS session_ended, s.ends_by AS session_ends_by
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.token_hash = $1 FOR UPDATE OF t",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(token) = token else {
            return Ok(Rotation::Unknown);
        };
        // Read only now that the lock is held (see `Store::rotate_refresh`).
        let now = super::clock();
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
        let mut tx = super::begin(&self.pool, None).await?;
        if !lock_account(&mut tx, user_id, AccountLock::Exclusive).await? {
            return Ok(Vec::new());
        }
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
             WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2
             ORDER BY created_at DESC, seq DESC",
        )
        .bind(user_id)
        .bind(secs(now))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn update_profile(
        &self,
        user_id: &str,
        username: &str,
        full_name: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        sqlx::query_as(&format!(
            "UPDATE users SET username = $1, full_name = $2 WHERE id = $3 RETURNING {USER_COLUMNS}"
        ))
        .bind(username)
        .bind(full_name)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(super::taken_or_database)
    }

    async fn change_password(&self, change: &PasswordChange<'_>) -> Result<Vec<String>, StoreError> {
        let tx = super::begin(&self.pool, None).await?;
        shared::change_password(tx, change).await
    }

    async fn delete_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
        event: &Event,
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
        tx.record_event(event).await?;
        tx.commit().await?;
        Ok(live)
    }

    async fn ended_since(&self, since: OffsetDateTime) -> Result<Vec<EndedSession>, StoreError> {
        Ok(
            sqlx::query_as("SELECT id, ended_at FROM sessions WHERE ended_at >= $1")
                .bind(secs(since))
                .fetch_all(&self.pool)
                .await?,
        )
    }

    async fn follow(
        &self,
        apply: Box<dyn Fn(Change) + Send + Sync>,
    ) -> Result<Option<tokio::task::JoinHandle<()>>, StoreError> {
        Ok(Some(follow::follow(&self.pool, apply).await?))
    }

    async fn prune(
        &self,
        now: OffsetDateTime,
        ended_before: OffsetDateTime,
        budgets_before: i64,
        events_before: i64,
    ) -> Result<(u64, u64, u64), StoreError> {
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
        // A challenge taken meanwhile is gone already: nothing here waits on one.
        sqlx::query("DELETE FROM challenges WHERE expires_at <= $1")
            .bind(now.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        // Rows a reset holds are skipped, as above: waiting on one while holding what the
        // deletes above took could deadlock with it.
        sqlx::query(
            "DELETE FROM account_tokens WHERE token_hash IN (
                 SELECT token_hash FROM account_tokens WHERE expires_at <= $1
                 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM mail_outbox WHERE id IN (
                 SELECT id FROM mail_outbox WHERE discard_after <= $1 FOR UPDATE SKIP LOCKED)",
        )
        .bind(now.unix_timestamp())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "DELETE FROM held_addresses WHERE email_key IN (
                 SELECT email_key FROM held_addresses WHERE until <= $1 FOR UPDATE SKIP LOCKED)",
        )
            .bind(now.unix_timestamp())
            .execute(&mut *tx)
            .await?;
        let events = sqlx::query("DELETE FROM events WHERE at < $1")
            .bind(events_before)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok((sessions, tokens, events))
    }

    async fn issue_account_tokens(
        &self,
        tokens: &[AccountToken],
        mails: &[OutgoingMail],
    ) -> Result<(), StoreError> {
        let tx = super::begin(&self.pool, None).await?;
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
        Ok(judge_token(row, purpose, now.unix_timestamp()))
    }

    async fn reset_password(&self, reset: &PasswordReset<'_>) -> Result<ResetOutcome, StoreError> {
        let tx = super::begin(&self.pool, None).await?;
        shared::reset_password(tx, reset).await
    }

    async fn migrations_applied(&self) -> Result<bool, StoreError> {
        let applied: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE success")
                .fetch_one(&self.pool)
                .await?;
        let known = sqlx::migrate!("./migrations/postgres").migrations.len();
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
        let tx = super::begin(&self.pool, None).await?;
        shared::verify_email(tx, token_hash, at).await
    }

    async fn verification_by_code(
        &self,
        user_id: &str,
        code_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT token_hash FROM account_tokens
             WHERE user_id = $1 AND code_hash = $2 AND purpose = 'verify_email'",
        )
        .bind(user_id)
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    async fn change_email(&self, change: &EmailChange<'_>) -> Result<TokenState, StoreError> {
        let tx = super::begin(&self.pool, None).await?;
        shared::change_email(tx, change).await
    }

    async fn undo_email_change(
        &self,
        undo: &EmailChangeUndo<'_>,
    ) -> Result<UndoOutcome, StoreError> {
        let tx = super::begin(&self.pool, None).await?;
        shared::undo_email_change(tx, undo).await
    }

    async fn queue_mail(&self, mail: &OutgoingMail) -> Result<(), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        tx.queue_mail(mail).await?;
        Ok(tx.commit().await?)
    }

    /// `SKIP LOCKED`: workers of several instances each take a different message at once.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease: Duration,
    ) -> Result<Option<ClaimedMail>, StoreError> {
        let now = now.unix_timestamp();
        let row: Option<OutboxRow> = sqlx::query_as(&format!(
            "UPDATE mail_outbox SET next_attempt_at = $1 + $2
             WHERE id = (SELECT id FROM mail_outbox WHERE next_attempt_at <= $1
                           AND (discard_after IS NULL OR discard_after > $1)
                         ORDER BY next_attempt_at, queued_at LIMIT 1 FOR UPDATE SKIP LOCKED)
             RETURNING {OUTBOX_COLUMNS}"
        ))
        .bind(now)
        .bind(lease.as_secs() as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(ClaimedMail::from))
    }

    async fn mail_delivered(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM mail_outbox WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn mail_failed(
        &self,
        id: &str,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE mail_outbox SET attempts = attempts + 1, next_attempt_at = $1, last_error = $2
             WHERE id = $3",
        )
        .bind(next_attempt_at.unix_timestamp())
        .bind(error)
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn list_users(&self, limit: u32) -> Result<Vec<UserRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users ORDER BY created_at, id LIMIT $1"
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
        let mut tx = super::begin(&self.pool, None).await?;
        if !lock_account(&mut tx, user_id, AccountLock::Exclusive).await? {
            return Ok(None);
        }
        let at = disabled.then(|| event.at.unix_timestamp());
        // Disabling again keeps the first time it was disabled.
        let found = sqlx::query(
            "UPDATE users SET disabled_at = CASE WHEN $1::BIGINT IS NULL THEN NULL
                                                 ELSE COALESCE(disabled_at, $2) END
             WHERE id = $3",
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
            sqlx::query_scalar("SELECT user_id FROM sessions WHERE id = $1")
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
        let mut tx = super::begin(&self.pool, None).await?;
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
        // The first rotation lists the original key (the secret itself), so that it stays
        // live, and can be retired, like any other.
        sqlx::query(
            "INSERT INTO signing_keys (kid, created_at)
             SELECT '0', 0 WHERE NOT EXISTS (SELECT 1 FROM signing_keys)",
        )
        .execute(&mut *tx)
        .await?;
        if retire_others {
            sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE retired_at IS NULL")
                .bind(at.unix_timestamp())
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO signing_keys (kid, created_at) VALUES ($1, $2)")
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
        let mut tx = super::begin(&self.pool, None).await?;
        sqlx::query("LOCK TABLE signing_keys IN SHARE ROW EXCLUSIVE MODE").execute(&mut *tx).await?;
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
        sqlx::query("UPDATE signing_keys SET retired_at = $1 WHERE kid = $2")
            .bind(at.unix_timestamp())
            .bind(kid)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Retirement::Retired)
    }

    async fn record_event(&self, event: &Event) -> Result<(), StoreError> {
        let mut tx = super::begin(&self.pool, None).await?;
        tx.record_event(event).await?;
        Ok(tx.commit().await?)
    }

    async fn events_of(&self, user_id: &str, limit: u32) -> Result<Vec<EventRecord>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, user_id, kind, at, actor, ip, device, session_id FROM events
             WHERE user_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
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

impl PgStore {
    async fn find_user_by_column(
        &self,
        column: &'static str,
        value: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = $1"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?)
    }
}
