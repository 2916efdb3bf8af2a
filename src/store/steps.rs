//! [ssr] The writes that are the same on every database, written once: what a registration, a
//! login, a password change and a refresh exchange do, step by step, inside one transaction.
//!
//! Each database implements [`Steps`] on its own transaction, in its own SQL and with its own
//! locks (SQLite holds the single write lock from `BEGIN IMMEDIATE`; PostgreSQL locks rows in
//! one order, see `postgres/mod.rs`). The order of the steps, and what is checked between them,
//! lives here, so that the two cannot drift apart.

use super::{
    rotation::{judge, TokenRow, Verdict},
    EndReason, NewSession, PasswordChange, RefreshRecord, Rotation, StoreError, SuccessorAt,
    UserRecord,
};
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;

/// Which live sessions a [`Steps::end`] ends.
#[derive(Clone, Copy)]
pub enum Ending<'a> {
    /// This one.
    One(&'a str),
    /// Every one of the account, but `keep`.
    AllOf {
        user_id: &'a str,
        keep: Option<&'a str>,
    },
}

/// One open write transaction, as the shared sequences below drive it.
#[async_trait]
pub trait Steps: Send + Sized {
    /// Inserts the account; [`StoreError::Taken`] when its email or username is.
    async fn insert_user(&mut self, user: &UserRecord, email_key: &str) -> Result<(), StoreError>;

    /// Inserts the session with its first refresh token.
    async fn insert_session(&mut self, session: &NewSession) -> Result<(), sqlx::Error>;

    /// Inserts a refresh token, and makes its session lapse when it does and count as used now.
    async fn insert_refresh(&mut self, record: &RefreshRecord) -> Result<(), sqlx::Error>;

    /// The account's credential version, read so that no password change can commit between
    /// this read and the commit.
    async fn credential_version(&mut self, user_id: &str) -> Result<Option<i64>, sqlx::Error>;

    /// Sets the new password hash and bumps the credential version, if it still is the one
    /// the change verified.
    async fn set_password(&mut self, change: &PasswordChange<'_>) -> Result<bool, sqlx::Error>;

    /// Ends the live sessions `which` names and revokes their live refresh tokens; the ids
    /// that ended.
    async fn end(
        &mut self,
        which: Ending<'_>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, sqlx::Error>;

    /// Revokes every refresh token of a session that goes on, the used ones too, so that a copy
    /// of one cannot draw a token in the grace window.
    async fn revoke_tokens_of(
        &mut self,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error>;

    /// Marks the token `old_hash` used at `now`, rotated into `successor_hash`.
    async fn mark_used(
        &mut self,
        old_hash: &str,
        successor_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error>;

    async fn commit(self) -> Result<(), sqlx::Error>;
}

/// A registration: the account, its first session and that session's first token, or nothing.
pub async fn create_user(
    mut tx: impl Steps,
    user: &UserRecord,
    email_key: &str,
    session: &NewSession,
) -> Result<(), StoreError> {
    tx.insert_user(user, email_key).await?;
    tx.insert_session(session).await?;
    Ok(tx.commit().await?)
}

/// A login: the session starts only if the password verified is still the account's.
pub async fn start_session(
    mut tx: impl Steps,
    session: &NewSession,
    credential_version: i64,
) -> Result<(), StoreError> {
    if tx.credential_version(&session.user_id).await? != Some(credential_version) {
        return Err(StoreError::CredentialsChanged);
    }
    tx.insert_session(session).await?;
    Ok(tx.commit().await?)
}

/// A password change (see [`Store::change_password`](super::Store::change_password)): the new
/// hash, every other session ended, this one's tokens replaced by `fresh`.
pub async fn change_password(
    mut tx: impl Steps,
    change: &PasswordChange<'_>,
) -> Result<Vec<String>, StoreError> {
    if !tx.set_password(change).await? {
        return Err(StoreError::CredentialsChanged);
    }
    let session_id = &change.fresh.session_id;
    let others = Ending::AllOf {
        user_id: change.user_id,
        keep: Some(session_id),
    };
    let ended = tx.end(others, EndReason::PasswordChanged, change.at).await?;
    tx.revoke_tokens_of(session_id, change.at).await?;
    tx.insert_refresh(change.fresh).await?;
    tx.commit().await?;
    Ok(ended)
}

/// A refresh exchange, once the token's row is read under the lock at `now`: judged by
/// [`judge`], then carried out (see [`Store::rotate_refresh`](super::Store::rotate_refresh)).
pub async fn settle_rotation(
    mut tx: impl Steps,
    token: TokenRow,
    session_id: &str,
    old_hash: &str,
    successor_at: &SuccessorAt<'_>,
    now: OffsetDateTime,
    grace: Duration,
) -> Result<Rotation, StoreError> {
    match judge(token, now, grace) {
        Verdict::Answer(answer) => Ok(answer),
        Verdict::EndForReuse => {
            tx.end(Ending::One(session_id), EndReason::Reuse, now)
                .await?;
            tx.commit().await?;
            Ok(Rotation::Reused)
        }
        Verdict::Rotate => {
            let successor = successor_at(now)?;
            tx.mark_used(old_hash, &successor.token_hash, now).await?;
            tx.insert_refresh(&successor).await?;
            tx.commit().await?;
            Ok(Rotation::Rotated { at: now })
        }
    }
}
