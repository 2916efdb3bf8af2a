//! [ssr] The shared write sequences' steps (see [`Steps`]) in SQLite's SQL. Each runs inside a
//! transaction that holds the database's one write lock from its `BEGIN IMMEDIATE`, so no step
//! needs a lock of its own.

use super::unix;
use crate::store::{
    Event,
    recovery::{judge_token, TokenRow},
    steps::{AddressNow, Ending, Steps},
    AccountToken, EndReason, NewSession, OutgoingMail, PasswordChange, RefreshRecord, StoreError,
    TokenPurpose, TokenState, UserRecord,
};
use async_trait::async_trait;
use sqlx::{Sqlite, Transaction};
use time::OffsetDateTime;

/// A mailed token's row with its account's credential version now, as `judge_token` reads it.
pub(super) const ACCOUNT_TOKEN_ROW: &str =
    "SELECT t.user_id, t.purpose, t.credential_version, t.expires_at, t.used_at, t.email_was,
            t.email_to, u.credential_version AS current_version, u.email AS current_email,
            u.disabled_at IS NOT NULL AS account_disabled
     FROM account_tokens t JOIN users u ON u.id = t.user_id
     WHERE t.token_hash = ?";

/// Whether `key` is held for an account other than `user_id` at `now` (unix seconds).
pub(super) async fn held_for_another(
    conn: &mut sqlx::SqliteConnection,
    key: &str,
    user_id: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let held: Option<i32> = sqlx::query_scalar(
        "SELECT 1 FROM held_addresses WHERE email_key = ? AND user_id <> ? AND until > ?",
    )
    .bind(key)
    .bind(user_id)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(held.is_some())
}

#[async_trait]
impl Steps for Transaction<'static, Sqlite> {
    async fn insert_user(&mut self, user: &UserRecord, email_key: &str) -> Result<(), StoreError> {
        let now = user.created_at.unix_timestamp();
        if held_for_another(self, email_key, &user.id, now).await? {
            return Err(StoreError::Taken("email"));
        }
        sqlx::query(
            "INSERT INTO users (id, email, email_key, username, full_name, password_hash, created_at,
                                credential_version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(email_key)
        .bind(&user.username)
        .bind(&user.full_name)
        .bind(&user.password_hash)
        .bind(unix(user.created_at))
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
             VALUES (?1, ?2, ?3, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )
        .bind(&session.id)
        .bind(&session.user_id)
        .bind(unix(session.created_at))
        .bind(unix(session.first.expires_at))
        .bind(unix(session.ends_by))
        .bind(&session.user_agent)
        .bind(&session.ip)
        .bind(session.method.as_str())
        .bind(session.created_at.unix_timestamp())
        .execute(&mut **self)
        .await?;
        self.insert_refresh(&session.first).await
    }

    async fn insert_refresh(&mut self, record: &RefreshRecord) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at, expires_at)
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&record.token_hash)
        .bind(&record.session_id)
        .bind(&record.user_id)
        .bind(unix(record.issued_at))
        .bind(unix(record.expires_at))
        .execute(&mut **self)
        .await?;
        // The session lapses when its newest token does, and was last used now.
        sqlx::query("UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ?")
            .bind(unix(record.issued_at))
            .bind(unix(record.expires_at))
            .bind(&record.session_id)
            .execute(&mut **self)
            .await
            .map(drop)
    }

    async fn credential_version(&mut self, user_id: &str) -> Result<Option<i64>, sqlx::Error> {
        sqlx::query_scalar("SELECT credential_version FROM users WHERE id = ? AND disabled_at IS NULL")
            .bind(user_id)
            .fetch_optional(&mut **self)
            .await
    }

    async fn set_password(&mut self, change: &PasswordChange<'_>) -> Result<bool, sqlx::Error> {
        let changed = sqlx::query(
            "UPDATE users SET password_hash = ?, credential_version = credential_version + 1
             WHERE id = ? AND credential_version = ? AND disabled_at IS NULL",
        )
        .bind(change.password_hash)
        .bind(change.user_id)
        .bind(change.verified_version)
        .execute(&mut **self)
        .await?;
        Ok(changed.rows_affected() > 0)
    }

    async fn end(
        &mut self,
        which: Ending<'_>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, sqlx::Error> {
        let (filter, first, keep) = match which {
            Ending::One(id) => ("id = ?3", id, None),
            Ending::AllOf { user_id, keep } => (
                "user_id = ?3 AND id IS NOT ?4",
                user_id,
                Some(keep.unwrap_or("")),
            ),
        };
        let sql = format!(
            "UPDATE sessions SET ended_at = ?1, end_reason = ?2
             WHERE ended_at IS NULL AND ({filter}) RETURNING id"
        );
        let mut query = sqlx::query_scalar::<_, String>(&sql)
            .bind(unix(now))
            .bind(reason.as_str())
            .bind(first);
        if let Some(keep) = keep {
            query = query.bind(keep);
        }
        let ended = query.fetch_all(&mut **self).await?;
        for id in &ended {
            sqlx::query(
                "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, ?)
                 WHERE session_id = ? AND state = 'live'",
            )
            .bind(unix(now))
            .bind(id)
            .execute(&mut **self)
            .await?;
        }
        Ok(ended)
    }

    async fn revoke_tokens_of(
        &mut self,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, ?)
             WHERE session_id = ? AND state IN ('live', 'used')",
        )
        .bind(unix(now))
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
            "UPDATE refresh_tokens SET state = 'used', used_at = ?, successor_hash = ?
             WHERE token_hash = ?",
        )
        .bind(unix(now))
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
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&token.token_hash)
        .bind(&token.user_id)
        .bind(token.purpose.as_str())
        .bind(token.credential_version)
        .bind(unix(token.created_at))
        .bind(unix(token.expires_at))
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
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
        )
        .bind(&mail.id)
        .bind(&mail.recipient)
        .bind(&mail.subject)
        .bind(&mail.text_body)
        .bind(&mail.html_body)
        .bind(unix(mail.queued_at))
        .bind(mail.discard_after.map(unix))
        .execute(&mut **self)
        .await
        .map(drop)
    }

    /// The transaction holds the one write lock: nothing can come between the read and the
    /// update.
    async fn spend_account_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<TokenState, sqlx::Error> {
        let row: Option<TokenRow> = sqlx::query_as(ACCOUNT_TOKEN_ROW)
        .bind(token_hash)
        .fetch_optional(&mut **self)
        .await?;
        let state = judge_token(row, purpose, unix(now));
        if matches!(state, TokenState::Usable { .. }) {
            sqlx::query("UPDATE account_tokens SET used_at = ? WHERE token_hash = ?")
                .bind(unix(now))
                .bind(token_hash)
                .execute(&mut **self)
                .await?;
        }
        Ok(state)
    }

    async fn retire_account_tokens(
        &mut self,
        user_id: &str,
        purposes: &[TokenPurpose],
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error> {
        for purpose in purposes {
            sqlx::query(
                "UPDATE account_tokens SET used_at = ?
                 WHERE user_id = ? AND purpose = ? AND used_at IS NULL",
            )
            .bind(unix(now))
            .bind(user_id)
            .bind(purpose.as_str())
            .execute(&mut **self)
            .await?;
        }
        Ok(())
    }

    async fn forget_challenges(&mut self, user_id: &str) -> Result<(), sqlx::Error> {
        sqlx::query("DELETE FROM challenges WHERE user_id = ?")
            .bind(user_id)
            .execute(&mut **self)
            .await
            .map(drop)
    }

    async fn remove_factors(&mut self, user_id: &str, tables: &[&str]) -> Result<(), sqlx::Error> {
        for table in tables {
            sqlx::query(&format!("DELETE FROM {table} WHERE user_id = ?"))
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
        sqlx::query("UPDATE users SET email_verified_at = ? WHERE id = ?")
            .bind(unix(at))
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
                "UPDATE users SET email = ?, email_key = ?, email_verified_at = ?
                 WHERE id = ? AND email = ?",
                address,
            ),
            AddressNow::IsNot(address) => (
                "UPDATE users SET email = ?, email_key = ?, email_verified_at = ?
                 WHERE id = ? AND email <> ?",
                address,
            ),
        };
        let moved = sqlx::query(sql)
            .bind(to)
            .bind(to_key)
            .bind(unix(at))
            .bind(user_id)
            .bind(address)
            .execute(&mut **self)
            .await
            .map_err(crate::store::taken_or_database)?;
        sqlx::query("DELETE FROM held_addresses WHERE email_key = ? AND user_id = ?")
            .bind(to_key)
            .bind(user_id)
            .execute(&mut **self)
            .await?;
        Ok(moved.rows_affected() == 1)
    }

    async fn current_email(&mut self, user_id: &str) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar("SELECT email FROM users WHERE id = ?")
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
            "UPDATE account_tokens SET used_at = ?
             WHERE user_id = ? AND purpose = 'undo_email_change' AND used_at IS NULL
               AND rowid > (SELECT rowid FROM account_tokens WHERE token_hash = ?)",
        )
        .bind(unix(now))
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
            "INSERT INTO held_addresses (email_key, user_id, until) VALUES (?, ?, ?)
             ON CONFLICT (email_key) DO UPDATE SET user_id = excluded.user_id,
                                                   until = excluded.until",
        )
        .bind(key)
        .bind(user_id)
        .bind(unix(until))
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn lock_addresses(&mut self, keys: &mut [&str]) -> Result<(), sqlx::Error> {
        // The transaction holds SQLite's one write lock from its first statement.
        let _ = keys;
        Ok(())
    }

    async fn replace_password(&mut self, user_id: &str, hash: &str) -> Result<(), sqlx::Error> {
        sqlx::query(
            "UPDATE users SET password_hash = ?, credential_version = credential_version + 1
             WHERE id = ?",
        )
        .bind(hash)
        .bind(user_id)
        .execute(&mut **self)
        .await
        .map(drop)
    }

    async fn clear_budgets(&mut self, keys: &[String]) -> Result<(), sqlx::Error> {
        for key in keys {
            sqlx::query("DELETE FROM attempt_budgets WHERE key = ?")
                .bind(key)
                .execute(&mut **self)
                .await?;
        }
        Ok(())
    }

    async fn record_event(&mut self, event: &Event) -> Result<(), sqlx::Error> {
        sqlx::query(
            "INSERT INTO events (user_id, kind, at, actor, ip, device, session_id)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
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
