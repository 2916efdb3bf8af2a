//! [ssr] The writes that are the same on every database, written once: what a registration, a
//! login, a password change and a refresh exchange do, step by step, inside one transaction.
//!
//! Each database implements [`Steps`] on its own transaction, in its own SQL and with its own
//! locks (SQLite holds the single write lock from `BEGIN IMMEDIATE`; PostgreSQL locks rows in
//! one order, see `postgres/mod.rs`). The order of the steps, and what is checked between them,
//! lives here, so that the two cannot drift apart.

use super::{
    rotation::{judge, TokenRow, Verdict},
    AccountToken, EmailChange, EmailChangeUndo, EndReason, Event, NewSession, OutgoingMail,
    PasswordChange, PasswordReset, RefreshRecord, Registration, ResetOutcome, ReuseNotice,
    Rotation, StoreError, SuccessorAt, TokenPurpose, TokenState, UndoOutcome, UserRecord,
};
use async_trait::async_trait;
use std::time::Duration;
use time::OffsetDateTime;

/// What the account's address must be for [`Steps::set_email`] to move it.
#[derive(Clone, Copy)]
pub enum AddressNow<'a> {
    /// This one (a change confirmed from the address it was asked under).
    Is(&'a str),
    /// Any but this one (an undo putting this one back).
    IsNot(&'a str),
}

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

/// The tables that hold an account's second factors: its authenticator app, recovery codes and
/// passkeys (what undoing a taken account removes).
pub const EVERY_FACTOR: &[&str] = &["totp_factors", "recovery_codes", "passkeys"];
/// Its passkeys alone (what a password reset removes).
pub const PASSKEYS: &[&str] = &["passkeys"];

/// One open write transaction, as the shared sequences below drive it.
#[async_trait]
pub trait Steps: Send + Sized {
    /// Inserts the account; [`StoreError::Taken`] when its email or username is.
    async fn insert_user(&mut self, user: &UserRecord, email_key: &str) -> Result<(), StoreError>;

    /// Inserts the session with its first refresh token.
    async fn insert_session(&mut self, session: &NewSession) -> Result<(), sqlx::Error>;

    /// Inserts a refresh token, and makes its session lapse when it does and count as used now.
    async fn insert_refresh(&mut self, record: &RefreshRecord) -> Result<(), sqlx::Error>;

    /// The account's credential version, read so that no password change (nor disabling) can
    /// commit between this read and the commit; `None` for a disabled account.
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

    /// Stores a token sent by mail (its hash).
    async fn insert_account_token(&mut self, token: &AccountToken) -> Result<(), sqlx::Error>;

    /// Puts a message in the outbox, due now.
    async fn queue_mail(&mut self, mail: &OutgoingMail) -> Result<(), sqlx::Error>;

    /// Judges the token `token_hash` for `purpose` at `now` with its account locked (so no
    /// password change or other spending can come between), and spends it if it is usable.
    async fn spend_account_token(
        &mut self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<TokenState, sqlx::Error>;

    /// Sets a new password hash and bumps the credential version, whatever it was (the caller
    /// proved the right to by other means than the old password, under the account's lock).
    async fn replace_password(&mut self, user_id: &str, hash: &str) -> Result<(), sqlx::Error>;

    /// Forgets the failed-password budgets `keys`: the account is no longer locked.
    async fn clear_budgets(&mut self, keys: &[String]) -> Result<(), sqlx::Error>;

    /// Spends every unused token of `user_id` made for one of `purposes`.
    async fn retire_account_tokens(
        &mut self,
        user_id: &str,
        purposes: &[TokenPurpose],
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error>;

    /// Forgets the account's challenges in flight (a login's second step, a passkey ceremony).
    async fn forget_challenges(&mut self, user_id: &str) -> Result<(), sqlx::Error>;

    /// Removes what the account keeps in `tables` ([`EVERY_FACTOR`] or [`PASSKEYS`]) with its
    /// challenges in flight.
    async fn remove_factors(&mut self, user_id: &str, tables: &[&str]) -> Result<(), sqlx::Error>;

    /// Records that the account's address was proved its owner's at `at`.
    async fn mark_verified(&mut self, user_id: &str, at: OffsetDateTime)
        -> Result<(), sqlx::Error>;

    /// Moves the account's address to `to` (proved at `at`) if its address now is as `now`
    /// says; `false` when it is not. [`StoreError::Taken`] when another account has `to` or
    /// holds it. The account's own hold on `to`, if any, ends: it has the address again.
    async fn set_email(
        &mut self,
        user_id: &str,
        (to, to_key): (&str, &str),
        now: AddressNow<'_>,
        at: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// The account's address now.
    async fn current_email(&mut self, user_id: &str) -> Result<Option<String>, sqlx::Error>;

    /// Spends the account's unused undo links made after the one with hash `token_hash`.
    async fn retire_newer_undo_links(
        &mut self,
        user_id: &str,
        token_hash: &str,
        now: OffsetDateTime,
    ) -> Result<(), sqlx::Error>;

    /// Keeps the address `key` for `user_id` until `until` (see `held_addresses`).
    async fn hold_address(
        &mut self,
        user_id: &str,
        key: &str,
        until: OffsetDateTime,
    ) -> Result<(), sqlx::Error>;

    /// Takes the locks that decide who may have the addresses `keys` (PostgreSQL: one advisory
    /// lock each, in one order; SQLite's write lock decides already), so that a registration,
    /// a move and a hold of one address cannot interleave.
    async fn lock_addresses(&mut self, keys: &mut [&str]) -> Result<(), sqlx::Error>;

    /// Writes an entry of the audit trail.
    async fn record_event(&mut self, event: &Event) -> Result<(), sqlx::Error>;

    async fn commit(self) -> Result<(), sqlx::Error>;
}

/// Tokens and the mails that carry them: all or none.
pub async fn issue_account_tokens(
    mut tx: impl Steps,
    tokens: &[AccountToken],
    mails: &[OutgoingMail],
) -> Result<(), StoreError> {
    for token in tokens {
        if token.purpose.supersedes_older() {
            tx.retire_account_tokens(&token.user_id, &[token.purpose], token.created_at)
                .await?;
        }
        tx.insert_account_token(token).await?;
    }
    for mail in mails {
        tx.queue_mail(mail).await?;
    }
    Ok(tx.commit().await?)
}

/// The end of a change its owner is told of: the notice queued and the event recorded in the
/// change's own transaction, which then commits.
pub async fn tell_and_commit(
    mut tx: impl Steps,
    notice: &OutgoingMail,
    event: &Event,
) -> Result<(), StoreError> {
    tx.queue_mail(notice).await?;
    tx.record_event(event).await?;
    Ok(tx.commit().await?)
}

/// A password reset (see [`PasswordReset`]): nothing at all unless its token is spent here.
pub async fn reset_password(
    mut tx: impl Steps,
    reset: &PasswordReset<'_>,
) -> Result<ResetOutcome, StoreError> {
    let state = tx
        .spend_account_token(reset.token_hash, TokenPurpose::PasswordReset, reset.at)
        .await?;
    let user_id = match state {
        TokenState::Usable { user_id, .. } if user_id == reset.user_id => user_id,
        TokenState::Usable { .. } => return Ok(ResetOutcome::Refused(TokenState::Invalid)),
        refused => return Ok(ResetOutcome::Refused(refused)),
    };
    // A disabled account starts no session, by a reset either (the transaction rolls back).
    if tx.credential_version(&user_id).await?.is_none() {
        return Ok(ResetOutcome::Refused(TokenState::Invalid));
    }
    tx.replace_password(&user_id, reset.password_hash).await?;
    // A reset is how an owner takes the account back: a passkey whoever had the password added
    // would outlive it (a passkey is a way in of its own). The app stays: it gates the password,
    // and the second step this reset leads to asks for it.
    tx.remove_factors(&user_id, PASSKEYS).await?;
    let every = Ending::AllOf {
        user_id: &user_id,
        keep: None,
    };
    let ended = tx.end(every, EndReason::PasswordChanged, reset.at).await?;
    tx.clear_budgets(reset.budget_keys).await?;
    // The link came by mail to the account's address: that proves the address too.
    tx.mark_verified(&user_id, reset.at).await?;
    tx.queue_mail(reset.notice).await?;
    if let Some(session) = reset.session {
        tx.insert_session(session).await?;
    }
    tx.record_event(&reset.event.of(&user_id)).await?;
    tx.commit().await?;
    Ok(ResetOutcome::Done { ended })
}

/// A registration: the account, its verification token and mail, and its first session with
/// that session's first token (none when logins wait for a verified address), or nothing.
pub async fn create_user(
    mut tx: impl Steps,
    registration: &Registration<'_>,
) -> Result<(), StoreError> {
    tx.lock_addresses(&mut [registration.email_key]).await?;
    tx.insert_user(registration.user, registration.email_key)
        .await?;
    tx.insert_account_token(registration.verification).await?;
    tx.queue_mail(registration.mail).await?;
    if let Some(session) = registration.session {
        tx.insert_session(session).await?;
    }
    tx.record_event(registration.event).await?;
    Ok(tx.commit().await?)
}

/// A verification (see [`Store::verify_email`](super::Store::verify_email)): the token spent,
/// the address proved, and the account's other verification tokens spent with it.
pub async fn verify_email(
    mut tx: impl Steps,
    token_hash: &str,
    at: OffsetDateTime,
) -> Result<TokenState, StoreError> {
    let state = tx
        .spend_account_token(token_hash, TokenPurpose::VerifyEmail, at)
        .await?;
    if let TokenState::Usable { user_id, .. } = &state {
        tx.mark_verified(user_id, at).await?;
        tx.retire_account_tokens(user_id, &[TokenPurpose::VerifyEmail], at)
            .await?;
        tx.commit().await?;
    }
    Ok(state)
}

/// An address change confirmed from the new address (see [`EmailChange`]).
pub async fn change_email(
    mut tx: impl Steps,
    change: &EmailChange<'_>,
) -> Result<TokenState, StoreError> {
    let state = tx
        .spend_account_token(change.token_hash, TokenPurpose::ChangeEmail, change.at)
        .await?;
    let TokenState::Usable {
        user_id,
        email_was,
        email_to: Some(email_to),
    } = &state
    else {
        return Ok(state);
    };
    if *email_to != change.email_to {
        return Ok(TokenState::Invalid);
    }
    tx.lock_addresses(&mut [change.email_was_key, change.email_to_key])
        .await?;
    let to = (email_to.as_str(), change.email_to_key);
    if !tx
        .set_email(user_id, to, AddressNow::Is(email_was), change.at)
        .await?
    {
        return Ok(TokenState::Invalid);
    }
    tx.hold_address(user_id, change.email_was_key, change.undo.expires_at)
        .await?;
    // Every link made under the old address dies now, not only while the address differs: an
    // address that comes back later must not bring them back. Undo links stay.
    let made_before = [
        TokenPurpose::PasswordReset,
        TokenPurpose::VerifyEmail,
        TokenPurpose::ChangeEmail,
    ];
    tx.retire_account_tokens(user_id, &made_before, change.at)
        .await?;
    tx.insert_account_token(change.undo).await?;
    tx.queue_mail(change.notice).await?;
    tx.record_event(&change.event.of(user_id)).await?;
    tx.commit().await?;
    Ok(state)
}

/// An address change undone from the address it replaced (see [`EmailChangeUndo`]): a pending
/// change's links die; a change already made (and whatever moves followed it) is reverted: the
/// old address is back, every session ends, every link of the account dies, and the password
/// is replaced by one nobody knows, so that only a reset to the old address opens it again.
pub async fn undo_email_change(
    mut tx: impl Steps,
    undo: &EmailChangeUndo<'_>,
) -> Result<UndoOutcome, StoreError> {
    let state = tx
        .spend_account_token(undo.token_hash, undo.purpose, undo.at)
        .await?;
    let TokenState::Usable {
        user_id,
        email_was,
        email_to: Some(_),
    } = state
    else {
        return Ok(UndoOutcome::Refused(state));
    };
    // A cancel link is bound to the address it was sent to (the judge saw it is still the
    // account's): the change it was about, and any asked since, is all there is to stop.
    if undo.purpose == TokenPurpose::CancelEmailChange {
        tx.retire_account_tokens(&user_id, &[TokenPurpose::ChangeEmail], undo.at)
            .await?;
        tx.commit().await?;
        return Ok(UndoOutcome::Cancelled { user_id });
    }
    tx.lock_addresses(&mut [undo.email_was_key]).await?;
    let replaced = tx.current_email(&user_id).await?;
    let back = (email_was.as_str(), undo.email_was_key);
    let away = AddressNow::IsNot(&email_was);
    // Already at this address (a move back the owner did not make through this link), it is
    // secured all the same: whoever made the move may still be signed in.
    let moved = tx.set_email(&user_id, back, away, undo.at).await?;
    let every = Ending::AllOf {
        user_id: &user_id,
        keep: None,
    };
    let ended = tx.end(every, EndReason::Revoked, undo.at).await?;
    tx.replace_password(&user_id, undo.unusable_hash).await?;
    let made_under_the_taker = [
        TokenPurpose::PasswordReset,
        TokenPurpose::VerifyEmail,
        TokenPurpose::ChangeEmail,
        TokenPurpose::CancelEmailChange,
    ];
    tx.retire_account_tokens(&user_id, &made_under_the_taker, undo.at)
        .await?;
    // Undo links made after this one are the taker's (mailed to addresses the taker moved
    // the account through): they die. Older ones stay, so that a taker who undoes a later move
    // of their own first cannot spend the owner's link.
    tx.retire_newer_undo_links(&user_id, undo.token_hash, undo.at)
        .await?;
    // Whoever took the account may have added a second factor of their own: left in place, it
    // would keep the owner out after the reset this undo leads to. The owner sets theirs up again.
    tx.remove_factors(&user_id, EVERY_FACTOR).await?;
    if let Some(replaced) = replaced.filter(|_| moved) {
        let notice = OutgoingMail {
            recipient: replaced,
            ..undo.notice.clone()
        };
        tx.queue_mail(&notice).await?;
    }
    tx.record_event(&undo.event.of(&user_id)).await?;
    tx.commit().await?;
    Ok(UndoOutcome::Restored { user_id, ended })
}

/// A login: the session starts only if the password verified is still the account's.
pub async fn start_session(
    mut tx: impl Steps,
    session: &NewSession,
    credential_version: i64,
    notice: Option<&OutgoingMail>,
    event: &Event,
) -> Result<(), StoreError> {
    if tx.credential_version(&session.user_id).await? != Some(credential_version) {
        return Err(StoreError::CredentialsChanged);
    }
    tx.insert_session(session).await?;
    if let Some(notice) = notice {
        tx.queue_mail(notice).await?;
    }
    tx.record_event(event).await?;
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
    tx.queue_mail(change.notice).await?;
    tx.record_event(change.event).await?;
    tx.commit().await?;
    Ok(ended)
}

/// What a refresh exchange was asked (see [`Store::rotate_refresh`](super::Store::rotate_refresh)).
pub struct Exchange<'a> {
    pub old_hash: &'a str,
    pub successor_at: &'a SuccessorAt<'a>,
    pub grace: Duration,
    pub reuse_notice: &'a ReuseNotice<'a>,
}

/// A refresh exchange, once the token's row is read under the lock at `now`: judged by
/// [`judge`], then carried out (see [`Store::rotate_refresh`](super::Store::rotate_refresh)).
pub async fn settle_rotation(
    mut tx: impl Steps,
    token: TokenRow,
    session_id: &str,
    now: OffsetDateTime,
    exchange: &Exchange<'_>,
) -> Result<Rotation, StoreError> {
    let Exchange {
        old_hash,
        successor_at,
        grace,
        reuse_notice,
    } = *exchange;
    match judge(token, now, grace) {
        Verdict::Answer(answer) => Ok(answer),
        Verdict::EndForReuse => {
            tx.end(Ending::One(session_id), EndReason::Reuse, now)
                .await?;
            let (notice, event) = reuse_notice();
            tx.queue_mail(&notice).await?;
            tx.record_event(&event).await?;
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
