//! [ssr] The shared write sequences' steps (see [`Steps`]) in PostgreSQL's SQL, each taking its
//! row locks in the one order of this store (account, sessions by id, refresh tokens; see
//! `postgres/mod.rs`).

use super::secs;
use crate::store::{
    Event,
    recovery::{judge_token, TokenRow},
    steps::{AddressNow, Ending, Steps},
    AccountToken, EndReason, NewSession, OutgoingMail, PasswordChange, RefreshRecord, StoreError,
    TokenPurpose, TokenState, UserRecord,
};
use async_trait::async_trait;
use sqlx::{PgConnection, Postgres, Transaction};
use time::OffsetDateTime;

/// A mailed token's row with its account's credential version now, as `judge_token` reads it.
pub(super) const ACCOUNT_TOKEN_ROW: &str =
    "SELECT t.user_id, t.purpose, t.credential_version, t.expires_at, t.used_at, t.email_was,
            t.email_to, u.credential_version AS current_version, u.email AS current_email,
            u.disabled_at IS NOT NULL AS account_disabled
     FROM account_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = $1";

/// Whether `key` is held for an account other than `user_id` at `now` (unix seconds).
pub(super) async fn held_for_another(
    conn: &mut PgConnection,
    key: &str,
    user_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let held: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM held_addresses WHERE email_key = $1 AND user_id <> $2 AND until > $3",
    )
    .bind(key)
    .bind(user_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(held.is_some())
}

#[async_trait]
impl Steps for Transaction<'static, Postgres> {
    async fn insert_user(&mut self, user: &UserRecord, email_key: &str) -> Result<(), StoreError> {
        let now = user.created_at.unix_timestamp();
        if held_for_another(self, email_key, &user.id, now).await? {
            return Err(StoreError::Taken("email"));
        }
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
        .execute(&mut **self)
        .await
        .map(drop)
        .map_err(crate::store::taken_or_database)
    }

    async fn insert_session(&mut self, session: &NewSession) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ends_by,
                                   user_agent, ip, method, verified_at)
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(secs(session.created_at))
        .bind(secs(session.first.expires_at))
        .bind(secs(session.ends_by))
        .bind(&session.user_agent)
        .bind(&session.ip)
        .bind(session.method.as_str())
        .bind(session.created_at.unix_timestamp())
        .execute(&mut **self)
        .await?;
        self.insert_refresh(&session.first).await
    }

    async fn insert_refresh(&mut self, record: &RefreshRecord) -> Result<(), sqlx::Error> {
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
        .execute(&mut **self)
        .await
        .map(drop)
    }

    /// A share lock: logins of one account go together, but a password change (which locks the
    /// row exclusively) either commits before this reads, or waits until this commits and then
    /// ends the session this inserts.
    async fn credential_version(&mut self, user_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT credential_version FROM users WHERE id = $1 AND disabled_at IS NULL FOR SHARE")
            .bind(user_id)
            .fetch_optional(&mut **self)
            .await
    }

    /// The update locks the account's row (first, as everywhere) until the commit: logins
    /// waiting on it then read the new version and give up.
    async fn set_password(&mut self, change: &PasswordChange<'_>) -> Result<bool, sqlx::Error> {
        let changed = sqlx::query(
            "UPDATE users SET password_hash = $1, credential_version = credential_version + 1
             WHERE id = $2 AND credential_version = $3 AND disabled_at IS NULL",
        )
        .bind(change.password_hash)
        .bind(change.user_id)
        .bind(change.verified_version)
        .execute(&mut **self)
        .await?;
        Ok(changed.rows_affected() > 0)
    }

    /// For several sessions, the caller holds the account's lock already.
    ///
    /// The sessions are locked (in id order) by one statement and updated by the next: the
    /// second statement's snapshot is taken once the locks are held, so it sees the successor
    /// token of a refresh that committed while this waited, and revokes it too. In one
    /// statement, that token was inserted after the snapshot and stayed live.
    async fn end(
        &mut self,
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
        let locked = query.fetch_all(&mut **self).await?;
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
        .fetch_all(&mut **self)
        .await
    }

    /// The session's row is locked first, so a refresh of it that was under way has committed
    /// and its successor is seen (and revoked).
    async fn revoke_tokens_of(
        &mut self,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE")
            .bind(session_id)
            .execute(&mut **self)
            .await?;
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, $1)
             WHERE session_id = $2 AND state IN ('live', 'used')",
        )
        .bind(secs(now))
        .bind(session_id)
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn mark_used(
        &mut self,
        old_hash: &str,
        successor_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'used', used_at = $1, successor_hash = $2
             WHERE token_hash = $3",
        )
        .bind(secs(now))
        .bind(successor_hash)
        .bind(old_hash)
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn insert_account_token(&mut self, token: &AccountToken) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO account_tokens (token_hash, user_id, purpose, credential_version,
                                         created_at, expires_at, email_was, email_to, code_hash)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&token.token_hash)
        .bind(&token.user_id)
        .bind(token.purpose.as_str())
        .bind(token.credential_version)
        .bind(token.created_at.unix_timestamp())
        .bind(token.expires_at.unix_timestamp())
        .bind(&token.email_was)
        .bind(&token.email_to)
        .bind(&token.code_hash)
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn queue_mail(&mut self, mail: &OutgoingMail) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO mail_outbox (id, recipient, subject, text_body, html_body, queued_at,
                                      next_attempt_at, discard_after)
             VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(&mail.id)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.text_body)
        .bind(&mail.html_body)
        .bind(mail.queued_at.unix_timestamp())
        .bind(mail.discard_after.map(OffsetDateTime::unix_timestamp))
        .execute(&mut **self)
        .await
        .map(drop)
    }

    /// The account's row is locked first, as everywhere, then the token's: two resets with one
    /// link queue on the account, and the second finds the token spent. A password change
    /// queues there too, so a token it makes stale is judged stale.
    async fn spend_account_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<TokenState, sqlx::Error> {
        let owner: Option<String> =
            sqlx::query_scalar("SELECT user_id FROM account_tokens WHERE token_hash = $1")
                .bind(token_hash)
                .fetch_optional(&mut **self)
                .await?;
        let Some(owner) = owner else {
            return Ok(TokenState::Invalid);
        };
        if !lock_account(self, &owner, AccountLock::Exclusive).await? {
            return Ok(TokenState::Invalid);
        }
        let row: Option<TokenRow> = sqlx::query_as(&format!("{ACCOUNT_TOKEN_ROW} FOR UPDATE OF t"))
        .bind(token_hash)
        .fetch_optional(&mut **self)
        .await?;
        let state = judge_token(row, purpose, now.unix_timestamp());
        if matches!(state, TokenState::Usable { .. }) {
            sqlx::query("UPDATE account_tokens SET used_at = $1 WHERE token_hash = $2")
                .bind(now.unix_timestamp())
                .bind(token_hash)
                .execute(&mut **self)
                .await?;
        }
        Ok(state)
    }

    /// The caller holds the account's lock (taken by `spend_account_token`).
    async fn retire_account_tokens(
        &mut self,
        user_id: &str,
        purposes: &[TokenPurpose],
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        // Under the account's lock: two retire-then-insert sequences (two "send again" at
        // once) queue, so one token is left live, not two.
        lock_account(self, user_id, AccountLock::Exclusive).await?;
        for purpose in purposes {
            sqlx::query(
                "UPDATE account_tokens SET used_at = $1
                 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL",
            )
            .bind(now.unix_timestamp())
            .bind(user_id)
            .bind(purpose.as_str())
            .execute(&mut **self)
            .await?;
        }
        Ok(())
    }

    async fn forget_challenges(&mut self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM challenges WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **self)
            .await
            .map(drop)
    }

    async fn remove_factors(&mut self, user_id: &str, tables: &[&str]) -> Result<(), sqlx::Error> {
        for table in tables {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&mut **self)
                .await?;
        }
        self.forget_challenges(user_id).await
    }

    async fn mark_verified(
        &mut self,
        user_id: &str,
        at: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        sqlx::query("UPDATE users SET email_verified_at = $1 WHERE id = $2")
            .bind(secs(at))
            .bind(user_id)
            .execute(&mut **self)
            .await
            .map(drop)
    }

    async fn set_email(
        &mut self,
        user_id: &str,
        (to, to_key): (&str, &str),
        now: AddressNow<'_>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        if held_for_another(self, to_key, user_id, at.unix_timestamp()).await? {
            return Err(StoreError::Taken("email"));
        }
        let (sql, address) = match now {
            AddressNow::Is(address) => (
                "UPDATE users SET email = $1, email_key = $2, email_verified_at = $3
                 WHERE id = $4 AND email = $5",
                address,
            ),
            AddressNow::IsNot(address) => (
                "UPDATE users SET email = $1, email_key = $2, email_verified_at = $3
                 WHERE id = $4 AND email <> $5",
                address,
            ),
        };
        let moved = sqlx::query(sql)
            .bind(to)
            .bind(to_key)
            .bind(secs(at))
            .bind(user_id)
            .bind(address)
            .execute(&mut **self)
            .await
            .map_err(crate::store::taken_or_database)?;
        sqlx::query("DELETE FROM held_addresses WHERE email_key = $1 AND user_id = $2")
            .bind(to_key)
            .bind(user_id)
            .execute(&mut **self)
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn current_email(&mut self, user_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT email FROM users WHERE id = $1")
            .bind(user_id)
            .fetch_optional(&mut **self)
            .await
    }

    async fn retire_newer_undo_links(
        &mut self,
        user_id: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE account_tokens SET used_at = $1
             WHERE user_id = $2 AND purpose = 'undo_email_change' AND used_at IS NULL
               AND seq > (SELECT seq FROM account_tokens WHERE token_hash = $3)",
        )
        .bind(now.unix_timestamp())
        .bind(user_id)
        .bind(token_hash)
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn hold_address(
        &mut self,
        user_id: &str,
        key: &str,
        until: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO held_addresses (email_key, user_id, until) VALUES ($1, $2, $3)
             ON CONFLICT (email_key) DO UPDATE SET user_id = excluded.user_id,
                                                   until = excluded.until",
        )
        .bind(key)
        .bind(user_id)
        .bind(until.unix_timestamp())
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn lock_addresses(&mut self, keys: &mut [&str]) -> Result<(), sqlx::Error> {
        // One order for every transaction, so two that lock the same two cannot deadlock.
        keys.sort_unstable();
        for key in keys.iter() {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                .bind(*key)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }

    async fn replace_password(&mut self, user_id: &str, hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET password_hash = $1, credential_version = credential_version + 1
             WHERE id = $2",
        )
        .bind(hash)
        .bind(user_id)
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn clear_budgets(&mut self, keys: &[String]) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM attempt_budgets WHERE key = ANY($1)")
            .bind(keys)
            .execute(&mut **self)
            .await
            .map(drop)
    }

    async fn record_event(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO events (user_id, kind, at, actor, ip, device, session_id)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&event.user_id)
        .bind(event.kind.as_str())
        .bind(event.at.unix_timestamp())
        .bind(event.actor.as_str())
        .bind(event.ip.as_deref())
        .bind(event.device.as_deref())
        .bind(event.session_id.as_deref())
        .execute(&mut **self)
        .await?;
        Ok(())
    }

    async fn commit(self) -> Result<(), sqlx::Error> {
        Transaction::commit(self).await
    }
}

/// How a transaction locks an account's row before it touches the account's sessions.
#[derive(Clone, Copy)]
pub(super) enum AccountLock {
    /// Ending sessions or changing the password: excludes the others and logins.
    Exclusive,
    /// Deleting the account: excludes everything, refresh exchanges too.
    Delete,
}

/// Locks the account's row first, as every transaction here does before session rows; `false`
/// when there is no such account.
pub(super) async fn lock_account(
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
