//! [ssr] Keeps this instance's caches (ended sessions, accounts) in step with changes that any
//! instance made, as the database announces them. Only PostgreSQL announces; on SQLite there is
//! one instance, which updates its caches itself.

use super::{revoked::RevokedSessions, user_cache::UserCache};
use crate::store::{Change, Store};
use std::sync::Arc;
use time::OffsetDateTime;

/// What a change needs to reach: the caches, and the store to reload them from.
#[derive(Clone)]
pub struct Caches {
    pub store: Arc<dyn Store>,
    pub revoked: Arc<RevokedSessions>,
    pub users: Arc<UserCache>,
}

impl Caches {
    pub fn apply(&self, change: Change) {
        match change {
            Change::SessionEnded { id, ended_at } => self.revoked.insert([id], ended_at),
            Change::UserChanged { id } => self.users.forget(&id),
            Change::Missed => {
                self.users.clear();
                let caches = self.clone();
                tokio::spawn(async move { caches.reload_revoked().await });
            }
        }
    }

    /// Loads the sessions that ended within one access lifetime; what start-up does too.
    pub async fn reload_revoked(&self) {
        let since = self.revoked.horizon(OffsetDateTime::now_utc());
        match self.store.ended_since(since).await {
            Ok(ended) => self.revoked.load(ended),
            Err(e) => tracing::error!(error = %e, "cannot reload ended sessions"),
        }
    }
}
