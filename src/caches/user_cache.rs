//! [ssr] The public view of recently seen accounts, so that `GET /api/auth/me` answers without
//! a database query. Kept correct by the only two ways an account changes: a profile update
//! replaces the entry and a deletion removes it. On PostgreSQL the database announces every
//! change to all instances, and each forgets the entry (see `caches::follow`). Bounded: when full
//! it starts afresh, which costs one query per active account.

use crate::domain::User;
use std::{collections::HashMap, sync::RwLock};

pub struct UserCache {
    users: RwLock<HashMap<String, User>>,
    /// Counts forgets: a fill that read the database before a forget must not store what it
    /// read, which may be the very value the forget was about.
    generation: std::sync::atomic::AtomicU64,
    capacity: usize,
}

impl UserCache {
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(capacity: usize) -> Self {
        Self {
            users: RwLock::new(HashMap::new()),
            generation: Default::default(),
            capacity,
        }
    }

    pub fn get(&self, id: &str) -> Option<User> {
        self.users
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(id)
            .cloned()
    }

    pub fn put(&self, user: &User) {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        if users.len() >= self.capacity && !users.contains_key(&user.id) {
            users.clear();
        }
        users.insert(user.id.clone(), user.clone());
    }

    /// Where the forgets stand: read before a database read whose result goes to
    /// [`Self::fill`].
    pub fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Stores what was read from the database, unless something was forgotten since
    /// `generation`: then the read may predate a change, and the next request reads again.
    pub fn fill(&self, generation: u64, user: &User) {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return;
        }
        if users.len() >= self.capacity && !users.contains_key(&user.id) {
            users.clear();
        }
        users.insert(user.id.clone(), user.clone());
    }

    pub fn forget(&self, id: &str) {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        users.remove(id);
    }

    /// Forgets everything, as when changes may have been missed.
    pub fn clear(&self) {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        users.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> User {
        User {
            id: id.into(),
            email: format!("{name}@example.org"),
            username: name.into(),
            full_name: name.into(),
            email_verified: false,
            created_at: "2026-11-24T00:00:00Z".into(),
        }
    }

    #[test]
    fn a_put_replaces_and_a_forget_removes() {
        let cache = UserCache::new(10);
        cache.put(&user("1", "before"));
        cache.put(&user("1", "after"));
        assert_eq!(cache.get("1").unwrap().username, "after");
        cache.forget("1");
        assert!(cache.get("1").is_none());
    }

    #[test]
    fn a_fill_that_read_before_a_forget_is_not_stored() {
        let cache = UserCache::new(10);
        let before = cache.generation();
        cache.forget("1");
        cache.fill(before, &user("1", "stale"));
        assert!(cache.get("1").is_none());
        cache.fill(cache.generation(), &user("1", "fresh"));
        assert_eq!(cache.get("1").unwrap().username, "fresh");
        cache.clear();
        assert!(cache.get("1").is_none());
    }

    #[test]
    fn a_full_cache_starts_afresh_instead_of_growing() {
        let cache = UserCache::new(2);
        for id in ["1", "2", "3"] {
            cache.put(&user(id, "x"));
        }
        assert!(cache.get("1").is_none());
        assert!(cache.get("3").is_some());
    }
}
