//! [ssr] The public view of recently seen accounts, so that `GET /api/auth/me` answers without
//! a database query. Kept correct by the only two ways an account changes: a profile update
//! replaces the entry and a deletion removes it (in this process; several instances need to
//! tell each other, like the revoked-session set). Bounded: when full it starts afresh, which
//! costs one query per active account.

use crate::domain::User;
use std::{collections::HashMap, sync::RwLock};

pub struct UserCache {
    users: RwLock<HashMap<String, User>>,
    capacity: usize,
}

impl UserCache {
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(capacity: usize) -> Self {
        Self {
            users: RwLock::new(HashMap::new()),
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

    pub fn forget(&self, id: &str) {
        self.users
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(id);
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
    fn a_full_cache_starts_afresh_instead_of_growing() {
        let cache = UserCache::new(2);
        for id in ["1", "2", "3"] {
            cache.put(&user(id, "x"));
        }
        assert!(cache.get("1").is_none());
        assert!(cache.get("3").is_some());
    }
}
