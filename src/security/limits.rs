//! [ssr] Attempt limits: how many login and registration attempts one address may make per
//! minute (a GCRA limiter from `governor`, checked before any work is done), and how many
//! failed logins one account may take in a window (counted here, because only failures count
//! and a success clears them, which a generic limiter cannot do). Both hold a bounded amount
//! of memory however many addresses and accounts an attacker invents.

use crate::{
    error::{AppError, ErrorCode},
    security::client_ip,
    state::AppState,
};
use axum::{
    extract::Request,
    http::{header, HeaderValue, Method},
    response::{IntoResponse, Response},
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::{
    collections::{hash_map::RandomState, HashMap},
    hash::BuildHasher,
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::{Duration, Instant},
};

/// The paths whose POSTs count as attempts.
const ATTEMPT_PATHS: [&str; 2] = ["/api/auth/login", "/api/auth/register"];
/// How long failed logins against one account are remembered.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// Most addresses or accounts tracked at once; beyond this, the oldest knowledge is dropped.
const MAX_TRACKED: usize = 100_000;
/// How often idle addresses are forgotten, at the most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Both limits, shared by every request.
pub struct AttemptLimits {
    pub per_address: AddressLimiter,
    pub failures: FailureLimiter,
}

impl AttemptLimits {
    pub fn new(limits: &crate::config::Limits) -> Self {
        Self {
            per_address: AddressLimiter::new(limits.ip_attempts_per_minute),
            failures: FailureLimiter::new(limits.login_max_failures, FAILURE_WINDOW),
        }
    }
}

/// The 429 answer's body; its `Retry-After` header comes from [`retry_after`].
pub fn rate_limited() -> AppError {
    AppError::new(
        ErrorCode::RateLimited,
        "Too many attempts. Please wait a moment and try again.",
    )
}

/// `Retry-After` in whole seconds, rounded up so that a client that waits that long succeeds.
pub fn retry_after(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// Counts login and registration POSTs per client address, before anything else runs: the
/// refusal (429 with `Retry-After`) once an address is over its budget.
pub fn refusal(state: &AppState, request: &Request) -> Option<Response> {
    let counted = request.method() == Method::POST && ATTEMPT_PATHS.contains(&request.uri().path());
    if counted {
        // Served without connect info (not the case in `server::app`), all clients would share
        // the unspecified address: one shared budget, failing closed rather than open.
        let client = client_ip::of_request(
            request.extensions(),
            request.headers(),
            &state.config.limits.trusted_proxies,
        )
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
        if let Err(wait) = state.limits.per_address.check(client) {
            let mut response = rate_limited().into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, retry_after(wait));
            return Some(response);
        }
    }
    None
}

/// Attempts per address per minute. IPv6 addresses count by their /64 network, the block one
/// subscriber is given, so that inventing addresses within it gains nothing.
pub struct AddressLimiter {
    quota: Quota,
    limiter: RwLock<Arc<DefaultKeyedRateLimiter<IpAddr>>>,
    last_sweep: Mutex<Instant>,
}

impl AddressLimiter {
    pub fn new(per_minute: u32) -> Self {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN));
        Self {
            quota,
            limiter: RwLock::new(Arc::new(RateLimiter::keyed(quota))),
            last_sweep: Mutex::new(Instant::now()),
        }
    }

    /// Counts one attempt from `ip`; `Err` holds how long until the next one is allowed.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        let limiter = Arc::clone(&self.limiter.read().unwrap_or_else(PoisonError::into_inner));
        let outcome = limiter
            .check_key(&bucket(ip))
            .map_err(|not_until| not_until.wait_time_from(limiter.clock().now()));
        self.sweep_if_due(&limiter);
        outcome
    }

    /// Addresses tracked now.
    pub fn tracked(&self) -> usize {
        self.limiter
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Forgets addresses whose budget is full again; if that is not enough to get under the
    /// cap, starts afresh (everyone's budget refills: the price of a bounded memory).
    fn sweep_if_due(&self, limiter: &DefaultKeyedRateLimiter<IpAddr>) {
        let over_cap = limiter.len() > MAX_TRACKED;
        let mut last = self
            .last_sweep
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if !over_cap && last.elapsed() < SWEEP_EVERY {
            return;
        }
        *last = Instant::now();
        limiter.retain_recent();
        limiter.shrink_to_fit();
        if limiter.len() > MAX_TRACKED {
            tracing::warn!(
                tracked = limiter.len(),
                "address limiter full; starting afresh"
            );
            *self.limiter.write().unwrap_or_else(PoisonError::into_inner) =
                Arc::new(RateLimiter::keyed(self.quota));
        }
    }
}

fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

/// Failed logins per account within a window that starts at the first failure. Accounts are
/// kept by a keyed hash of their name, so each entry is small whatever the login typed.
pub struct FailureLimiter {
    max: u32,
    window: Duration,
    hasher: RandomState,
    entries: Mutex<HashMap<u64, Failures>>,
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    since: Instant,
    count: u32,
}

impl FailureLimiter {
    pub fn new(max: u32, window: Duration) -> Self {
        Self {
            max,
            window,
            hasher: RandomState::new(),
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// `Some(wait)` while `account` has used up its failures; `wait` is until the window ends.
    pub fn locked_for(&self, account: &str, now: Instant) -> Option<Duration> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let failures = entries.get(&self.hasher.hash_one(account))?;
        let ends = failures.since + self.window;
        (failures.count >= self.max && now < ends).then(|| ends - now)
    }

    pub fn record_failure(&self, account: &str, now: Instant) {
        let key = self.hasher.hash_one(account);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_TRACKED && !entries.contains_key(&key) {
            self.make_room(&mut entries, now);
        }
        let failures = entries.entry(key).or_insert(Failures {
            since: now,
            count: 0,
        });
        if now >= failures.since + self.window {
            *failures = Failures {
                since: now,
                count: 0,
            };
        }
        failures.count = failures.count.saturating_add(1);
    }

    /// A successful login clears the account's failures.
    pub fn reset(&self, account: &str) {
        let key = self.hasher.hash_one(account);
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.remove(&key);
    }

    /// Accounts tracked now.
    pub fn tracked(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Drops finished windows; if the map is still full, drops an eighth of it (hash order,
    /// which an attacker cannot steer), so a flood costs O(n) once per n/8 new accounts.
    fn make_room(&self, entries: &mut HashMap<u64, Failures>, now: Instant) {
        entries.retain(|_, f| now < f.since + self.window);
        if entries.len() >= MAX_TRACKED {
            let mut dropped = 0;
            entries.retain(|_, _| {
                dropped += 1;
                dropped > MAX_TRACKED / 8
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_is_locked_after_max_failures_until_the_window_ends() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(900));
        let start = Instant::now();
        for _ in 0..2 {
            limiter.record_failure("ada", start);
        }
        assert_eq!(limiter.locked_for("ada", start), None);
        limiter.record_failure("ada", start);
        let wait = limiter.locked_for("ada", start + Duration::from_secs(100));
        assert_eq!(wait, Some(Duration::from_secs(800)));
        assert_eq!(
            limiter.locked_for("ada", start + Duration::from_secs(900)),
            None
        );
        assert_eq!(
            limiter.locked_for("grace", start),
            None,
            "other accounts are free"
        );
    }

    #[test]
    fn a_success_clears_the_failures() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(900));
        let now = Instant::now();
        limiter.record_failure("ada", now);
        limiter.reset("ada");
        limiter.record_failure("ada", now);
        assert_eq!(limiter.locked_for("ada", now), None);
    }

    #[test]
    fn a_new_window_starts_after_the_old_one_ends() {
        let limiter = FailureLimiter::new(2, Duration::from_secs(60));
        let start = Instant::now();
        limiter.record_failure("ada", start);
        limiter.record_failure("ada", start + Duration::from_secs(61));
        assert_eq!(
            limiter.locked_for("ada", start + Duration::from_secs(62)),
            None
        );
    }

    #[test]
    fn failure_memory_stays_bounded_however_many_accounts_are_invented() {
        let limiter = FailureLimiter::new(10, Duration::from_secs(900));
        let now = Instant::now();
        for i in 0..MAX_TRACKED + 20_000 {
            limiter.record_failure(&format!("invented-{i}"), now);
        }
        assert!(limiter.tracked() <= MAX_TRACKED, "{}", limiter.tracked());
    }

    #[test]
    fn address_memory_stays_bounded_however_many_addresses_are_invented() {
        let limiter = AddressLimiter::new(60);
        for i in 0..(MAX_TRACKED as u32 + 20_000) {
            let _ = limiter.check(IpAddr::V4(std::net::Ipv4Addr::from(i)));
        }
        assert!(limiter.tracked() <= MAX_TRACKED, "{}", limiter.tracked());
    }

    #[test]
    fn an_address_gets_its_quota_then_a_wait() {
        let limiter = AddressLimiter::new(5);
        let ip: IpAddr = "198.51.100.7".parse().unwrap();
        for _ in 0..5 {
            assert!(limiter.check(ip).is_ok());
        }
        let wait = limiter.check(ip).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_secs(12),
            "{wait:?}"
        );
        assert!(limiter.check("198.51.100.8".parse().unwrap()).is_ok());
    }

    #[test]
    fn ipv6_addresses_in_one_slash_64_share_a_budget() {
        let limiter = AddressLimiter::new(2);
        assert!(limiter.check("2001:db8:1:2::1".parse().unwrap()).is_ok());
        assert!(limiter
            .check("2001:db8:1:2:ffff::9".parse().unwrap())
            .is_ok());
        assert!(limiter
            .check("2001:db8:1:2:abcd::5".parse().unwrap())
            .is_err());
        assert!(limiter.check("2001:db8:1:3::1".parse().unwrap()).is_ok());
    }

    #[test]
    fn retry_after_is_whole_seconds_rounded_up_and_at_least_one() {
        assert_eq!(retry_after(Duration::from_millis(1500)), "2");
        assert_eq!(retry_after(Duration::from_secs(60)), "60");
        assert_eq!(retry_after(Duration::ZERO), "1");
    }
}
