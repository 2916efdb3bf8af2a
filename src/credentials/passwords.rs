//! [ssr] Password hashing with Argon2id (m = 19 MiB, t = 2, p = 1: OWASP's baseline), always on
//! the server's worker threads ([`super::workers`]) so a login never stalls the async threads
//! that serve everyone else, and never more at once than there are cores but one: each hash
//! holds 19 MiB and a core for ~15 ms, so a flood of logins waits its turn in a queue (costing
//! a few bytes each) instead of growing threads and memory.
//!
//! The queue is shared fairly ([`Passwords::admit`]): one client address or one account holds a
//! few places in it at most, and it holds a bounded number per slot in all ([`QueueLimits`]);
//! work past either is refused at once (429) rather than queued. Before this, one account sending
//! 1,000 password changes filled the queue and an unrelated login waited 19 s behind it.

use super::workers::{Memory, Stopped, Workers};
use argon2::{
    password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString},
    Algorithm, Argon2, Params, Version,
};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
};

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
    #[error("password hashing stopped")]
    Stopped(#[from] Stopped),
    #[error("cannot start the password-hashing threads")]
    Threads(#[source] std::io::Error),
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

fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes and verifies passwords. Holds a hash of a random password, verified against whenever
/// the account does not exist, so an unknown login costs as much as a wrong password.
pub struct Passwords {
    decoy_hash: String,
    workers: Workers,
    shares: Arc<Shares>,
}

impl Passwords {
    /// A hash of a password nobody knows (made from random bytes at start-up, never kept): an
    /// account given it can log in again only after a reset.
    pub fn unusable_hash(&self) -> &str {
        &self.decoy_hash
    }

    /// One worker thread per core but one: a login flood then leaves a core to everything else
    /// (the pages, `/me`, refreshes), at the price of that core's share of login throughput.
    pub async fn new(queue: QueueLimits) -> Result<Self, HashError> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let slots = cores.saturating_sub(1).max(1);
        let workers = Workers::start(slots).map_err(HashError::Threads)?;
        let random = uuid::Uuid::new_v4().to_string();
        let decoy_hash = workers.run(move |memory| hash(&random, memory)).await??;
        let shares = Arc::new(Shares {
            per_claimant: queue.per_claimant.max(1),
            most: slots * queue.per_slot.max(1),
            held: Mutex::new((0, HashMap::new())),
        });
        Ok(Self {
            decoy_hash,
            workers,
            shares,
        })
    }

    /// The threads hashing runs on, for other CPU-heavy work to queue on too.
    /// Hashes and checks waiting for a thread now.
    pub fn queued(&self) -> usize {
        self.workers.waiting()
    }

    pub fn workers(&self) -> &Workers {
        &self.workers
    }

    /// A place in the hashing queue for work on behalf of `claimants` (the client's address,
    /// the account), or [`HashError::Busy`] at once if any of them holds its share already or
    /// the queue is full. Hold it across the [`Self::hash`] or [`Self::verify`] it is for.
    pub fn admit(&self, claimants: &[&str]) -> Result<Share, HashError> {
        self.shares.admit(claimants)
    }

    pub async fn hash(&self, password: &str) -> Result<String, HashError> {
        let password = password.to_owned();
        self.workers
            .run(move |memory| hash(&password, memory))
            .await?
    }

    /// True when `password` matches `stored`; with no stored hash, pays the same price and
    /// answers false.
    pub async fn verify(&self, password: &str, stored: Option<&str>) -> Result<bool, HashError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or(&self.decoy_hash).to_owned();
        let password = password.to_owned();
        let matches = self
            .workers
            .run(move |memory| verify(&password, &stored, memory))
            .await??;
        Ok(known && matches)
    }
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`) of `password` with a new
/// salt, computed in `memory`: what `PasswordHasher::hash_password` makes, without allocating
/// 19 MiB for it.
fn hash(password: &str, memory: &mut Memory) -> Result<String, HashError> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .as_salt()
        .decode_b64(&mut salt_bytes)
        .map_err(HashError::Hash)?;
    let argon2 = argon2();
    let params = argon2.params();
    let length = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
    let blocks = memory.blocks(params.block_count());
    let output = compute(&argon2, password, salt_bytes, length, blocks)?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(HashError::Hash)?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(phc.to_string())
}

/// The most a stored hash may ask for: 64 MiB, 10 passes, 4 lanes. A hash needing more was not
/// made here; computing it could take gigabytes or minutes of a worker (m is a `u32` of KiB).
const MOST_MEMORY_KIB: u32 = 64 * 1024;
const MOST_PASSES: u32 = 10;
const MOST_LANES: u32 = 4;

/// Whether `password` hashes to `stored` (a PHC string, with whatever parameters it was made
/// with), computed in `memory`. The comparison is `Output`'s, in constant time. A stored hash
/// that cannot be used (malformed, or asking for more than the bounds above) matches nothing,
/// and says so in the log: the account cannot log in until its password is reset.
fn verify(password: &str, stored: &str, memory: &mut Memory) -> Result<bool, HashError> {
    let Some(usable) = Usable::parse(stored) else {
        tracing::error!("a stored password hash is malformed or out of bounds; it matches nothing");
        return Ok(false);
    };
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = usable
        .salt
        .decode_b64(&mut salt_bytes)
        .map_err(HashError::Hash)?;
    let argon2 = Argon2::new(usable.algorithm, usable.version, usable.params.clone());
    let count = usable.params.block_count();
    // Hashes with the current parameters (or smaller) use the worker's kept memory; a larger
    // one gets memory of its own, freed after, so the kept memory stays the size it was.
    let mut own = Vec::new();
    let blocks = if count <= argon2_block_count() {
        memory.blocks(count)
    } else {
        own.resize(count, argon2::Block::default());
        &mut own[..]
    };
    let computed = compute(&argon2, password, salt_bytes, usable.expected.len(), blocks)?;
    Ok(computed == usable.expected)
}

/// Argon2 of `password` with `salt`, `length` bytes long, in `blocks` (at least as many as
/// `argon2`'s parameters need).
fn compute(
    argon2: &Argon2<'_>,
    password: &str,
    salt: &[u8],
    length: usize,
    blocks: &mut [argon2::Block],
) -> Result<Output, HashError> {
    Output::init_with(length, |out| {
        argon2
            .hash_password_into_with_memory(password.as_bytes(), salt, out, blocks)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(HashError::Hash)
}

fn argon2_block_count() -> usize {
    argon2().params().block_count()
}

/// A stored hash's parts, within bounds.
struct Usable<'a> {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: argon2::password_hash::Salt<'a>,
    expected: Output,
}

impl<'a> Usable<'a> {
    fn parse(stored: &'a str) -> Option<Self> {
        let parsed = PasswordHash::new(stored).ok()?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).ok()?,
            None => Version::default(),
        };
        let params = Params::try_from(&parsed).ok()?;
        let within = params.m_cost() <= MOST_MEMORY_KIB
            && params.t_cost() <= MOST_PASSES
            && params.p_cost() <= MOST_LANES;
        within.then_some(())?;
        Some(Self {
            algorithm: Algorithm::try_from(parsed.algorithm).ok()?,
            version,
            params,
            salt: parsed.salt?,
            expected: parsed.hash?,
        })
    }
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

    /// Whether `stored` accepts "correct horse", and whether it accepts "correct horsE".
    async fn verdicts(passwords: &Passwords, stored: &str) -> (bool, bool) {
        let right = passwords.verify("correct horse", Some(stored)).await;
        let wrong = passwords.verify("correct horsE", Some(stored)).await;
        (right.unwrap(), wrong.unwrap())
    }

    #[tokio::test]
    async fn verify_accepts_the_password_and_refuses_others() {
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        let stored = passwords.hash("correct horse").await.unwrap();
        assert_eq!(verdicts(&passwords, &stored).await, (true, false));
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

    /// Hashes stored before the worker threads (made by the argon2 crate's own hasher) still
    /// verify, and the new ones verify with it: the PHC strings are the same format.
    #[tokio::test]
    async fn hashes_agree_with_the_argon2_crates_own_hasher_both_ways() {
        use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        let salt = SaltString::generate(&mut OsRng);
        let theirs = argon2()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        assert_eq!(verdicts(&passwords, &theirs).await, (true, false));
        let ours = passwords.hash("correct horse").await.unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"correct horsE", &parsed).is_err());
    }

    /// A hash stored with other parameters (a smaller m, an older setting) is verified with
    /// its own.
    #[tokio::test]
    async fn a_hash_made_with_other_parameters_verifies_with_its_own() {
        use argon2::password_hash::PasswordHasher as _;
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        let params = Params::new(8 * 1024, 3, 1, None).unwrap();
        let other = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let stored = other.hash_password(b"old hash", &salt).unwrap().to_string();
        assert!(stored.contains("m=8192,t=3"), "{stored}");
        assert!(passwords.verify("old hash", Some(&stored)).await.unwrap());
        assert!(!passwords.verify("old hasH", Some(&stored)).await.unwrap());
    }

    /// A stored hash asking for 4 TiB (m is a u32 of KiB) matches nothing, at once, instead of
    /// aborting the process on the allocation; so does one that is not a PHC string.
    #[tokio::test]
    async fn a_stored_hash_out_of_bounds_or_malformed_matches_nothing() {
        let passwords = Passwords::new(TEST_QUEUE).await.unwrap();
        let ours = passwords.hash("correct horse").await.unwrap();
        let huge = ours.replace("m=19456", "m=4294967295");
        assert!(!passwords
            .verify("correct horse", Some(&huge))
            .await
            .unwrap());
        let slow = ours.replace("t=2", "t=4000000");
        assert!(!passwords
            .verify("correct horse", Some(&slow))
            .await
            .unwrap());
        assert!(!passwords
            .verify("correct horse", Some("not a hash"))
            .await
            .unwrap());
        assert!(passwords
            .verify("correct horse", Some(&ours))
            .await
            .unwrap());
    }
}
