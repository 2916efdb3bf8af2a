//! [ssr] Sessions that ended while their access tokens may still be unexpired.
//!
//! Access tokens are checked without the database (signature, expiry, type), so on their own
//! they would outlive a logout by up to their lifetime. Every session end puts its id here, and
//! every protected request looks it up: one read-locked hash lookup instead of a query. An
//! access token lives at most `ACCESS_TOKEN_EXPIRY`, and none is issued for a session once it
//! has ended, so an id is kept for that long after its end and then forgotten; the set holds
//! only the sessions ended within one access lifetime. It is loaded from the database at start
//! so a restart forgets nothing, and kept per process (see the README on several instances).

use crate::store::EndedSession;
use std::{collections::HashMap, sync::RwLock, time::Duration};
use time::OffsetDateTime;

pub struct RevokedSessions {
    /// Session id → when it may be forgotten (unix seconds).
    until: RwLock<HashMap<String, i64>>,
    keep_for: i64,
}

impl RevokedSessions {
    /// A set that keeps each id for `access_ttl` after its session ended.
    pub fn new(access_ttl: Duration) -> Self {
        Self {
            until: RwLock::new(HashMap::new()),
            keep_for: i64::try_from(access_ttl.as_secs()).unwrap_or(i64::MAX),
        }
    }

    /// Since when ended sessions still matter at `now`: what to load at start-up.
    pub fn horizon(&self, now: OffsetDateTime) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(now.unix_timestamp().saturating_sub(self.keep_for))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }

    /// Records that `ids` ended at `ended_at`, and forgets those no longer needed.
    pub fn insert<I, S>(&self, ids: I, ended_at: OffsetDateTime)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let until = ended_at.unix_timestamp().saturating_add(self.keep_for);
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let mut map = self.until.write().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, forget_at| *forget_at >= now);
        for id in ids {
            let entry = map.entry(id.into()).or_insert(until);
            *entry = (*entry).max(until);
        }
    }

    /// Fills the set at start-up from the sessions that ended within the horizon.
    pub fn load(&self, ended: impl IntoIterator<Item = EndedSession>) {
        let mut map = self.until.write().unwrap_or_else(|e| e.into_inner());
        for session in ended {
            let until = session
                .ended_at
                .unix_timestamp()
                .saturating_add(self.keep_for);
            map.insert(session.id, until);
        }
    }

    pub fn contains(&self, session_id: &str) -> bool {
        self.until
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(session_id)
    }

    pub fn len(&self) -> usize {
        self.until.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_session_is_revoked_until_its_access_tokens_have_expired() {
        let set = RevokedSessions::new(Duration::from_secs(900));
        set.insert(["s1"], OffsetDateTime::now_utc());
        assert!(set.contains("s1"));
        assert!(!set.contains("s2"));
    }

    #[test]
    fn ids_older_than_an_access_lifetime_are_forgotten_on_the_next_insert() {
        let set = RevokedSessions::new(Duration::from_secs(60));
        let long_ago = OffsetDateTime::now_utc() - Duration::from_secs(3600);
        set.insert(["old"], long_ago);
        set.insert(["new"], OffsetDateTime::now_utc());
        assert!(!set.contains("old"));
        assert!(set.contains("new"));
        assert_eq!(set.len(), 1);
    }

    #[test]
    fn the_horizon_is_one_access_lifetime_back() {
        let set = RevokedSessions::new(Duration::from_secs(900));
        let now = OffsetDateTime::now_utc();
        assert_eq!(
            now.unix_timestamp() - set.horizon(now).unix_timestamp(),
            900
        );
    }
}
