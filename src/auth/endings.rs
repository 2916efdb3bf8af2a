//! [ssr] Ending sessions, in one call each: the database, then this instance's revoked set (so
//! the sessions' access tokens are refused at once, not at their expiry) and, for an account
//! that is gone, the user cache. Other instances hear of it from the database (`follow`).
//!
//! Every end goes through here. Before, each flow called the store and then remembered to
//! update the caches itself, six times over; a seventh that forgot would have left an ended
//! session's access tokens working for up to their lifetime on SQLite.

use crate::caches::{revoked::RevokedSessions, user_cache::UserCache};
use crate::telemetry::metrics;
use crate::store::{
    EmailChangeUndo, EndReason, Event, PasswordChange, PasswordReset, ResetOutcome, Store,
    StoreError, UndoOutcome,
};
use time::OffsetDateTime;

/// The store and the caches an end must reach, borrowed from the app state.
pub struct Endings<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) revoked: &'a RevokedSessions,
    pub(crate) users: &'a UserCache,
}

impl Endings<'_> {
    /// Logs out the caller's own session (its id from its verified token). Its access tokens
    /// are refused here at once even if the database had ended it already and word of that
    /// has not arrived yet. Each end is written to the account's trail as `event` says (its
    /// account, time and author), in the same transaction.
    pub async fn logout(&self, session_id: &str, event: &Event) -> Result<(), StoreError> {
        let (user_id, now) = (&event.user_id, event.at);
        let event = event.clone().about(session_id);
        let ended = self
            .store
            .end_session(user_id, session_id, EndReason::Logout, now, &event)
            .await?;
        metrics::sessions_ended(EndReason::Logout.as_str(), usize::from(ended));
        self.revoked.insert([session_id], now);
        Ok(())
    }

    /// Revokes one session of `user_id` that the caller named (from the sessions page). False
    /// when there was no such live session of that user; then nothing is revoked, since the
    /// id may be anyone's.
    pub async fn revoke(&self, session_id: &str, event: &Event) -> Result<bool, StoreError> {
        let (user_id, now) = (&event.user_id, event.at);
        let event = event.clone().about(session_id);
        let found = self
            .store
            .end_session(user_id, session_id, EndReason::Revoked, now, &event)
            .await?;
        if found {
            metrics::sessions_ended(EndReason::Revoked.as_str(), 1);
            self.revoked.insert([session_id], now);
        }
        Ok(found)
    }

    /// Ends every live session of `user_id`; the ids of those it ended.
    pub async fn end_all(&self, reason: EndReason, event: &Event) -> Result<Vec<String>, StoreError> {
        let (user_id, now) = (&event.user_id, event.at);
        let ended = self
            .store
            .end_sessions(user_id, None, reason, now, event)
            .await?;
        metrics::sessions_ended(reason.as_str(), ended.len());
        self.revoked.insert(ended.iter().map(String::as_str), now);
        Ok(ended)
    }

    /// Sets a new password hash (refused if the account's credentials changed since the
    /// verified version was read), starts the changing session's fresh refresh token, and ends
    /// every other session of the account; the ids of those it ended.
    pub async fn change_password(
        &self,
        change: &PasswordChange<'_>,
    ) -> Result<Vec<String>, StoreError> {
        let ended = self.store.change_password(change).await?;
        metrics::sessions_ended(EndReason::PasswordChanged.as_str(), ended.len());
        self.revoked
            .insert(ended.iter().map(String::as_str), change.at);
        Ok(ended)
    }

    /// Applies a password reset (its token spent, the new password, every session ended); the
    /// sessions it ended are refused here at once.
    pub async fn reset_password(
        &self,
        reset: &PasswordReset<'_>,
    ) -> Result<ResetOutcome, StoreError> {
        let outcome = self.store.reset_password(reset).await?;
        if let ResetOutcome::Done { ended } = &outcome {
            metrics::sessions_ended("password_reset", ended.len());
            self.revoked.insert(ended.iter().map(String::as_str), reset.at);
            // The reset proved the address: the cached view's `email_verified` is stale.
            self.users.forget(reset.user_id);
        }
        Ok(outcome)
    }

    /// Undoes an address change; when it was made already, the old address is back and every
    /// session has ended: refused here at once, and the account's cached view is forgotten.
    pub async fn undo_email_change(
        &self,
        undo: &EmailChangeUndo<'_>,
    ) -> Result<UndoOutcome, StoreError> {
        let outcome = self.store.undo_email_change(undo).await?;
        if let UndoOutcome::Restored { user_id, ended } = &outcome {
            metrics::sessions_ended("email_restored", ended.len());
            self.revoked.insert(ended.iter().map(String::as_str), undo.at);
            self.users.forget(user_id);
        }
        Ok(outcome)
    }

    /// Deletes the account with its sessions and tokens; the ids of the sessions it ended.
    pub async fn delete_account(&self, event: &Event) -> Result<Vec<String>, StoreError> {
        let (user_id, now) = (&event.user_id, event.at);
        let ended = self.store.delete_user(user_id, now, event).await?;
        metrics::sessions_ended("account_deleted", ended.len());
        self.users.forget(user_id);
        self.revoked.insert(ended.iter().map(String::as_str), now);
        Ok(ended)
    }

    /// A session the store has already ended on its own (a refresh token reused past the grace
    /// window ends its session inside the rotation's transaction): the caches follow.
    pub fn ended_by_rotation(&self, session_id: &str, now: OffsetDateTime) {
        metrics::sessions_ended(EndReason::Reuse.as_str(), 1);
        self.revoked.insert([session_id], now);
    }
}
