//! [ssr] Keeps this instance's caches (ended sessions, accounts) in step with changes that any
//! instance made, as the database announces them: PostgreSQL with NOTIFY, SQLite in a table
//! that each server polls (so a change from the command line, another process, arrives too).

use super::{revoked::RevokedSessions, user_cache::UserCache};
use crate::credentials::tokens::TokenKeys;
use crate::store::{Change, Store, StoreError};
use std::sync::{
    atomic::{AtomicBool, Ordering},
    Arc,
};
use time::OffsetDateTime;

/// What a change needs to reach: the caches, and the store to reload them from.
#[derive(Clone)]
pub struct Caches {
    pub store: Arc<dyn Store>,
    pub revoked: Arc<RevokedSessions>,
    pub users: Arc<UserCache>,
    /// The signing keys, read again when the database's list changes.
    pub tokens: Arc<TokenKeys>,
    pub keys_reload: Arc<tokio::sync::Mutex<()>>,
    /// Whether announcements are being heard (for `/readyz`): false between a failed
    /// notification connection and its return.
    pub listening: Arc<AtomicBool>,
}

impl Caches {
    pub fn apply(&self, change: Change) {
        match change {
            Change::SessionEnded { id, ended_at } => self.revoked.insert([id], ended_at),
            Change::UserChanged { id } => self.users.forget(&id),
            Change::KeysChanged => {
                let caches = self.clone();
                // Until it works: a key left unread here would be refused here once another
                // instance signs with it, and a retired one still accepted.
                tokio::spawn(async move {
                    let mut wait = std::time::Duration::from_millis(250);
                    while let Err(e) = caches.load_keys().await {
                        tracing::warn!(error = %e, "cannot read the signing keys yet; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(std::time::Duration::from_secs(10));
                    }
                });
            }
            Change::Disconnected => self.listening.store(false, Ordering::Relaxed),
            Change::Missed => {
                self.listening.store(true, Ordering::Relaxed);
                self.users.clear();
                let caches = self.clone();
                // Until it works: the database can go away again between the notification
                // connection's return and this read, and a reload given up on would leave
                // sessions ended meanwhile working here until their access tokens expire.
                tokio::spawn(async move {
                    let mut wait = std::time::Duration::from_secs(1);
                    while let Err(e) = caches.load_revoked().await.and(caches.load_keys().await) {
                        tracing::warn!(error = %e, "cannot reload ended sessions yet; retrying");
                        tokio::time::sleep(wait).await;
                        wait = (wait * 2).min(std::time::Duration::from_secs(30));
                    }
                });
            }
        }
    }

    /// Reads the live signing keys and signs and verifies with them from now on.
    pub async fn load_keys(&self) -> Result<(), StoreError> {
        // One reload at a time, so that an older read is never installed after a newer one.
        let _one = self.keys_reload.lock().await;
        let live: Vec<(String, i64)> = self
            .store
            .signing_keys()
            .await?
            .into_iter()
            .filter(|key| key.retired_at.is_none())
            .map(|key| (key.kid, key.created_at))
            .collect();
        self.tokens.install(&live);
        Ok(())
    }

    /// Loads the sessions that ended within one access lifetime: at start-up, since their access
    /// tokens may still be out there, and after announcements may have been missed.
    pub async fn load_revoked(&self) -> Result<(), StoreError> {
        let since = self.revoked.horizon(OffsetDateTime::now_utc());
        self.revoked.load(self.store.ended_since(since).await?);
        Ok(())
    }
}
