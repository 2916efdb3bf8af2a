//! [ssr] Password hashing with Argon2id (m = 19 MiB, t = 2, p = 1: OWASP's baseline), always on
//! the blocking pool so a login never stalls the async threads that serve everyone else, and
//! never more at once than there are cores but one: each hash holds 19 MiB and a core for ~15 ms, so a
//! flood of logins waits its turn in a queue (costing a few bytes each) instead of growing the
//! blocking pool to hundreds of threads and gigabytes.
//!
//! The queue is shared fairly ([`Passwords::admit`]): one client address or one account holds a
//! few places in it at most, and it holds a bounded number per slot in all ([`QueueLimits`]);
//! work past either is refused at once (429) rather than queued. Before this, one account sending
//! 1,000 password changes filled the queue and an unrelated login waited 19 s behind it.

use argon2::{
    password_hash::{
        rand_core::OsRng, PasswordHash, PasswordHasher as _, PasswordVerifier, SaltString,
    },
    Algorithm, Argon2, Params, Version,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};
use tokio::sync::Semaphore;

/// How the hashing queue is shared (`PASSWORD_QUEUE_SHARE`, `PASSWORD_QUEUE_PER_CORE`).
#[derive(Debug, Clone, Copy)]
pub struct QueueLimits {
    /// Places (waiting or hashing) one claimant may hold at once.
    pub per_claimant: usize,
    /// Places in the whole queue per hashing slot.
    pub per_slot: usize,
}

impl QueueLimits {
    pub fn of(limits: &crate::config::Limits) -> Self {
        Self {
            per_claimant: limits.password_queue_share as usize,
            per_slot: limits.password_queue_per_core as usize,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HashError {
    #[error("password hashing failed: {0}")]
    Hash(argon2::password_hash::Error),
    #[error("password hashing task failed")]
    Task(#[from] tokio::task::JoinError),
    /// The claimant already holds its share of the queue, or the queue is full.
    #[error("password hashing is busy")]
    Busy,
}

/// Who holds places in the hashing queue, and how many in all.
struct Shares {
    per_claimant: usize,
    most: usize,
    held: Mutex<(usize, HashMap<String, usize>)>,
}

/// A place in the hashing queue, held while the work waits and runs; dropping it gives it back.
#[must_use = "the place is given back when this is dropped"]
pub struct Share {
    shares: Arc<Shares>,
    claimants: Vec<String>,
}

impl Shares {
    fn admit(self: &Arc<Self>, claimants: &[&str]) -> Result<Share, HashError> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let (total, by_claimant) = &mut *held;
        let over = *total >= self.most
            || claimants
                .iter()
                .any(|c| by_claimant.get(*c).copied().unwrap_or(0) >= self.per_claimant);
        if over {
            return Err(HashError::Busy);
        }
        *total += 1;
        for claimant in claimants {
            *by_claimant.entry((*claimant).to_owned()).or_default() += 1;
        }
        Ok(Share {
            shares: Arc::clone(self),
            claimants: claimants.iter().map(|c| (*c).to_owned()).collect(),
        })
    }
}

impl Drop for Share {
    fn drop(&mut self) {
        let mut held = self
            .shares
            .held
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (total, by_claimant) = &mut *held;
        *total -= 1;
        for claimant in &self.claimants {
            if let Some(count) = by_claimant.get_mut(claimant) {
                *count -= 1;
                if *count == 0 {
                    by_claimant.remove(claimant);
                }
            }
        }
    }
}

/// Runs CPU-heavy work on the blocking pool, at most `slots` at a time.
struct Bounded {
    slots: Arc<Semaphore>,
}

impl Bounded {
    fn new(slots: usize) -> Self {
        Self {
            slots: Arc::new(Semaphore::new(slots.max(1))),
        }
    }

    async fn run<T, F>(&self, work: F) -> Result<T, HashError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let permit = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Ok(tokio::task::spawn_blocking(move || {
            let _slot = permit;
            work()
        })
        .await?)
    }
}

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords. Holds a hash of a random password, verified against whenever
/// the account does not exist, so an unknown login costs as much as a wrong password.
pub struct Passwords {
    decoy_hash: String,
    cpu: Bounded,
    shares: Arc<Shares>,
}

impl Passwords {
    /// One hashing slot per core but one: a login flood then leaves a core to everything else
    /// (the pages, `/me`, refreshes), at the price of that core's share of login throughput.
    pub async fn new(queue: QueueLimits) -> Result<Self, HashError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let slots = cores.saturating_sub(1).max(1);
        let cpu = Bounded::new(slots);
        let random = uuid::Uuid::new_v4().to_string();
        let decoy_hash = cpu.run(move || hash(&random)).await??;
        let shares = Arc::new(Shares {
            per_claimant: queue.per_claimant.max(1),
            most: slots * queue.per_slot.max(1),
            held: Mutex::new((0, HashMap::new())),
        });
        Ok(Self {
            decoy_hash,
            cpu,
            shares,
        })
    }

    /// A place in the hashing queue for work on behalf of `claimants` (the client's address,
    /// the account), or [`HashError::Busy`] at once if any of them holds its share already or
    /// the queue is full. Hold it across the [`Self::hash`] or [`Self::verify`] it is for.
    pub fn admit(&self, claimants: &[&str]) -> Result<Share, HashError> {
        self.shares.admit(claimants)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.cpu.run(move || hash(&password)).await?
    }

    /// True when `password` matches `stored`; with no stored hash, pays the same price and
    /// answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.decoy_hash).to_owned();
        let password = password.to_owned();
        let matches = self
            .cpu
            .run(move || {
                let parsed = PasswordHash::new(&stored).map_err(HashError::Hash)?;
                Ok::<_, HashError>(
                    argon2()
                        .verify_password(password.as_bytes(), &parsed)
                        .is_ok(),
                )
            })
            .await??;
        Ok(known && matches)
    }
}

fn hash(password: &str) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(HashError::Hash)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_is_argon2id_with_the_baseline_parameters_and_salted() {
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        let first = passwords.hash("correct horse").await.unwrap();
        let second = passwords.hash("correct horse").await.unwrap();
        assert!(
            first.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{first}"
        );
        assert_ne!(first, second, "each hash has its own salt");
        assert!(!first.contains("correct horse"));
    }

    #[tokio::test]
    async fn verify_accepts_the_password_and_refuses_others() {
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        let stored = passwords.hash("correct horse").await.unwrap();
        assert!(passwords
            .verify("correct horse", Some(&stored))
            .await
            .unwrap());
        assert!(!passwords
            .verify("correct horsE", Some(&stored))
            .await
            .unwrap());
    }

    #[tokio::test]
    async fn verify_without_an_account_is_false_even_for_the_decoy_password() {
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        assert!(!passwords.verify("anything at all", None).await.unwrap());
    }

    const TEST_QUEUE: QueueLimits = QueueLimits {
        per_claimant: 2,
        per_slot: 32,
    };

    fn shares(per_claimant: usize, most: usize) -> Arc<Shares> {
        Arc::new(Shares {
            per_claimant,
            most,
            held: Mutex::new((0, HashMap::new())),
        })
    }

    #[test]
    fn one_claimant_holds_at_most_its_share_of_the_queue_and_others_still_get_in() {
        let shares = shares(2, 100);
        let first = shares.admit(&["ip:a", "acct:x"]).unwrap();
        let _second = shares.admit(&["ip:a", "acct:y"]).unwrap();
        assert!(matches!(
            shares.admit(&["ip:a", "acct:z"]),
            Err(HashError::Busy)
        ));
        assert!(shares.admit(&["ip:b", "acct:x"]).is_ok(), "x holds one");
        drop(first);
        assert!(
            shares.admit(&["ip:a"]).is_ok(),
            "a place given back is free again"
        );
    }

    #[test]
    fn the_whole_queue_is_bounded_and_every_place_is_given_back() {
        let shares = shares(2, 3);
        let held: Vec<_> = ["a", "b", "c"]
            .iter()
            .map(|c| shares.admit(&[c]).unwrap())
            .collect();
        assert!(matches!(shares.admit(&["d"]), Err(HashError::Busy)));
        drop(held);
        let state = shares.held.lock().unwrap();
        assert_eq!(state.0, 0);
        assert!(
            state.1.is_empty(),
            "no claimant is remembered once it holds nothing"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn heavy_work_never_runs_more_at_once_than_its_slots() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let bounded = Bounded::new(2);
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let jobs = (0..8).map(|_| {
            let (running, most) = (running.clone(), most.clone());
            bounded.run(move || {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                std::thread::sleep(std::time::Duration::from_millis(20));
                running.fetch_sub(1, Ordering::SeqCst);
            })
        });
        for outcome in futures::future::join_all(jobs).await {
            outcome.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
