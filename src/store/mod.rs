//! [ssr] Where users, sessions and refresh tokens live. The server functions see only the [`Store`]
//! trait, implemented on SQLite (the default) and PostgreSQL (several instances).
//!
//! The rooms: [`records`] (what is stored), [`failure`] (how it fails), [`open`] (connecting,
//! pruning), [`rotation`] (the rule for a presented refresh token), [`steps`] (the write
//! sequences every database shares, the refresh exchange among them), and one folder per
//! database with its SQL.

mod events;
mod factors;
mod failure;
mod open;
pub mod postgres;
mod records;
mod recovery;
mod rotation;
pub mod sqlite;
mod steps;

use failure::taken_or_database;
pub use events::{Actor, Event, EventKind, EventRecord, Retirement, SigningKeyRecord};
pub use factors::{
    ChallengePurpose, ChallengeRecord, FactorSummary, Factors, PasskeyRecord, SessionProof,
    SignInMethod, TotpRecord,
};
pub use failure::{StoreError, LONGEST_WAIT};
use open::begin;
pub use open::{connect, connect_patiently, spawn_pruning, PRUNE_EVERY};
pub use records::{
    clock, Budget, Change, EndReason, EndedSession, NewSession, PasswordChange, RefreshRecord,
    Reservation, Rotation, SessionRecord, SuccessorAt, UserKey, UserRecord,
};
pub use recovery::{
    AccountToken, ClaimedMail, EmailChange, EmailChangeUndo, OutgoingMail, PasswordReset,
    Registration, ResetOutcome, ReuseNotice, TokenPurpose, TokenState, UndoOutcome,
};

use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait Store: Factors + Send + Sync + 'static {
    /// Creates an account with its verification token and mail, and its first session with
    /// that session's first refresh token, atomically: a registration either fully happened or
    /// not at all (see [`Registration`]).
    async fn create_user(&self, registration: &Registration<'_>) -> Result<(), StoreError>;

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError>;

    async fn find_user_by(&self, key: UserKey<'_>) -> Result<Option<UserRecord>, StoreError>;

    /// Starts a session (a login) with its first refresh token, if the account's credentials
    /// are still at `credential_version` (the one whose password was verified); otherwise
    /// [`StoreError::CredentialsChanged`]. `notice` (a sign-in from a new device) is queued with
    /// it. The check and the insert are one transaction that a
    /// password change cannot interleave with.
    async fn start_session(
        &self,
        session: &NewSession,
        credential_version: i64,
        notice: Option<&OutgoingMail>,
        event: &Event,
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
    /// within `grace`, and later ones [`Rotation::Reused`], which ends the session and queues
    /// the owner's notice (`reuse_notice`) in the same transaction.
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
        reuse_notice: &ReuseNotice<'_>,
    ) -> Result<Rotation, StoreError>;

    /// Ends one live session of `user_id`, writing `event` with it. `false` when the user has
    /// no such live session (never a session of another user, nor one that had ended).
    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: EndReason,
        now: OffsetDateTime,
        event: &Event,
    ) -> Result<bool, StoreError>;

    /// Ends every live session of `user_id` except `keep`, returning the ids that ended.
    async fn end_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        now: OffsetDateTime,
        event: &Event,
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
    /// `verified_version` (another change won).
    async fn change_password(&self, change: &PasswordChange<'_>) -> Result<Vec<String>, StoreError>;

    /// Deletes the account with its sessions and tokens, returning the sessions that were live.
    async fn delete_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
        event: &Event,
    ) -> Result<Vec<String>, StoreError>;

    /// Sessions that ended at or after `since`: their access tokens may still be around.
    async fn ended_since(&self, since: OffsetDateTime) -> Result<Vec<EndedSession>, StoreError>;

    /// Stores tokens sent by mail and queues the mails that carry them, in one transaction.
    async fn issue_account_tokens(
        &self,
        tokens: &[AccountToken],
        mails: &[OutgoingMail],
    ) -> Result<(), StoreError>;

    /// What the token with hash `token_hash` is worth at `now` for `purpose`. Only reads:
    /// opening a link (a mail scanner does) spends nothing.
    async fn account_token_state(
        &self,
        token_hash: &str,
        purpose: TokenPurpose,
        now: OffsetDateTime,
    ) -> Result<TokenState, StoreError>;

    /// Applies a password reset in one transaction (see [`PasswordReset`]), if its token is
    /// still usable once the account is locked; otherwise nothing changes.
    async fn reset_password(&self, reset: &PasswordReset<'_>) -> Result<ResetOutcome, StoreError>;

    /// Whether the database answers, and has every migration this build knows applied (a newer
    /// instance may have added none this one lacks; an older one, run against it, would see
    /// more). For `/readyz`: `Err` when it cannot be asked (503 then, with the reason).
    async fn migrations_applied(&self) -> Result<bool, StoreError>;

    /// The pool's connections now, for metrics.
    fn connections(&self) -> PoolUse;

    /// Accounts, oldest first, at most `limit` (for the command line).
    async fn list_users(&self, limit: u32) -> Result<Vec<UserRecord>, StoreError>;

    /// Disables the account (at `event.at`; its sessions end, as revoked) or enables it again,
    /// writing `event` with it. `None` when there is no such account; otherwise the sessions
    /// it ended.
    async fn set_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        event: &Event,
    ) -> Result<Option<Vec<String>>, StoreError>;

    /// The account a session belongs to, live or not.
    async fn session_owner(&self, session_id: &str) -> Result<Option<String>, StoreError>;

    /// Every signing key, newest first (empty until the first rotation).
    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError>;

    /// Adds the signing key `kid`, made at `at`, which signs from now on; with
    /// `retire_others`, every other key is retired in the same transaction.
    async fn add_signing_key(
        &self,
        kid: &str,
        at: OffsetDateTime,
        retire_others: bool,
    ) -> Result<(), StoreError>;

    /// Retires the live key `kid` at `at`, unless it is the last live one.
    async fn retire_signing_key(
        &self,
        kid: &str,
        at: OffsetDateTime,
    ) -> Result<Retirement, StoreError>;

    /// Writes one event on its own: for what changes nothing else (a failed login).
    async fn record_event(&self, event: &Event) -> Result<(), StoreError>;

    /// The account's events, newest first, at most `limit`.
    async fn events_of(&self, user_id: &str, limit: u32) -> Result<Vec<EventRecord>, StoreError>;

    /// Whether the address `key` is held at `now` for an account other than `except` (see
    /// `held_addresses`): taken, for a registration or a move, as if an account had it.
    async fn address_held(
        &self,
        key: &str,
        except: &str,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError>;

    /// Proves the account's address with the verification token `token_hash`, if it is still
    /// usable once the account is locked: the token and the account's other verification
    /// tokens are spent. The token's state as it was found.
    async fn verify_email(&self, token_hash: &str, at: OffsetDateTime)
        -> Result<TokenState, StoreError>;

    /// The hash of the verification token of `user_id` whose code has the keyed hash
    /// `code_hash`, used or not (the verification judges it).
    async fn verification_by_code(
        &self,
        user_id: &str,
        code_hash: &str,
    ) -> Result<Option<String>, StoreError>;

    /// Moves the account to a new address, in one transaction (see [`EmailChange`]), if its
    /// token is still usable once the account is locked; [`StoreError::Taken`] when another
    /// account has taken the address meanwhile.
    async fn change_email(&self, change: &EmailChange<'_>) -> Result<TokenState, StoreError>;

    /// Undoes an address change, pending or made, in one transaction (see [`UndoOutcome`]).
    async fn undo_email_change(&self, undo: &EmailChangeUndo<'_>)
        -> Result<UndoOutcome, StoreError>;

    /// Queues a message on its own: a notice of something already committed.
    async fn queue_mail(&self, mail: &OutgoingMail) -> Result<(), StoreError>;

    /// Takes the message due first at `now`, moving its next attempt `lease` ahead, so that no
    /// other worker (of this instance or another) takes it while it is being sent. A worker that
    /// dies while sending leaves it to be taken again once the lease is over.
    async fn claim_mail(
        &self,
        now: OffsetDateTime,
        lease: std::time::Duration,
    ) -> Result<Option<ClaimedMail>, StoreError>;

    /// The message was handed to the mail server: it leaves the outbox.
    async fn mail_delivered(&self, id: &str) -> Result<(), StoreError>;

    /// The message could not be sent: one more attempt counted, the next one at
    /// `next_attempt_at`, and why (for the log and the operator; never the message's text).
    async fn mail_failed(
        &self,
        id: &str,
        next_attempt_at: OffsetDateTime,
        error: &str,
    ) -> Result<(), StoreError>;

    /// How many messages wait in the outbox, and when the oldest was queued.
    async fn outbox_backlog(&self) -> Result<(i64, Option<OffsetDateTime>), StoreError>;

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
    /// whose window started before `budgets_before`, and events from before `events_before`
    /// (`AUDIT_RETENTION`). Returns how many sessions, tokens and events went.
    async fn prune(
        &self,
        now: OffsetDateTime,
        ended_before: OffsetDateTime,
        budgets_before: i64,
        events_before: i64,
    ) -> Result<(u64, u64, u64), StoreError>;
}

/// How many of the pool's open connections are lent out and how many wait idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub in_use: u32,
    pub idle: u32,
}

impl PoolUse {
    fn of<DB: sqlx::Database>(pool: &sqlx::Pool<DB>) -> Self {
        let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
        Self {
            in_use: pool.size().saturating_sub(idle),
            idle,
        }
    }
}
