//! [ssr] Attempt limits: how many password attempts (logins, registrations, password changes,
//! account deletions) one address may make per minute (a GCRA limiter from `governor`, checked
//! before any work is done, kept per instance in a bounded amount of memory), and how many
//! wrong passwords one account may take in a window.
//!
//! The second is a hard cap, so it lives in the database ([`crate::store::Store::reserve_attempt`]):
//! every password check reserves an attempt before Argon2 runs and gets it back if the password
//! was right. Counting failures after the check, as before, let 300 concurrent guesses all be
//! verified (the count was read before any of them had failed), and let every instance count
//! on its own.

use crate::{
    config::TrustedProxies,
    credentials::tokens::{derive_key, keyed_digest},
    error::AppError,
    security::client_ip,
    store::Budget,
};
use axum::{
    extract::Request,
    http::{header, HeaderValue, Method},
    response::{IntoResponse, Response},
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::{
    net::{IpAddr, Ipv6Addr},
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError, RwLock},
    time::{Duration, Instant},
};

/// The paths whose POSTs count as attempts: every endpoint that checks or sets a password, or
/// spends or sends a mailed token or code (a profile update may ask for a new address).
/// Login first: its refusals here are counted as limited logins.
const ATTEMPT_PATHS: [&str; 13] = [
    "/api/auth/login",
    "/api/auth/passkey_login_finish",
    "/api/auth/confirm_identity",
    "/api/auth/register",
    "/api/auth/change_password",
    "/api/auth/delete_account",
    "/api/auth/request_password_reset",
    "/api/auth/reset_password",
    "/api/auth/verify_email",
    "/api/auth/resend_verification",
    "/api/auth/confirm_email_change",
    "/api/auth/cancel_email_change",
    "/api/auth/update_profile",
];
/// The paths whose POSTs start a passkey ceremony (the login page asks for one as it opens, for
/// the browser's autofill), each writing a row that waits for its answer. Counted per address
/// in a budget of their own, so that opening the login page spends none of the login attempts,
/// and nobody (signed in or not) can fill the table from one address.
const CEREMONY_PATHS: [&str; 3] = [
    "/api/auth/passkey_login_begin",
    "/api/auth/passkey_confirm_begin",
    "/api/auth/passkey_add_begin",
];
/// How long failed logins against one account are remembered.
pub const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// The longest window of any budget kept in the database: failed logins (15 minutes), mail
/// caps (an hour), wrong verification codes (a day). Pruning forgets a budget only after this
/// (it forgot the hourly and daily ones after 15 minutes before, refilling them early).
pub const LONGEST_BUDGET_WINDOW: Duration = Duration::from_secs(24 * 3600);
/// Most addresses or accounts tracked at once; beyond this, the oldest knowledge is dropped.
const MAX_TRACKED: usize = 100_000;
/// How often idle addresses are forgotten, at the most.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// Both limits, shared by every request.
pub struct AttemptLimits {
    pub per_address: AddressLimiter,
    /// Ceremonies begun per address, with the same quota as attempts.
    pub ceremonies: AddressLimiter,
    /// The failure budget of each account (and of each trusted device), kept in the database.
    pub failures: Budget,
    /// Keys the names of budgets, so the table holds no login names or emails.
    budget_key: Vec<u8>,
}

impl AttemptLimits {
    pub fn new(config: &crate::config::Config) -> Self {
        Self {
            per_address: AddressLimiter::new(config.limits.ip_attempts_per_minute),
            ceremonies: AddressLimiter::new(config.limits.ip_attempts_per_minute),
            failures: Budget {
                max: config.limits.login_max_failures,
                window: FAILURE_WINDOW,
            },
            budget_key: derive_key(
                config.refresh_secret.expose(),
                "gatehouse attempt budget v1",
            ),
        }
    }

    /// The database key of the budget named `name` (`user:<id>`, `name:<login>`, `device:<id>`).
    pub fn budget_key(&self, name: &str) -> String {
        keyed_digest(&self.budget_key, name.as_bytes())
    }

    /// What the database keeps of a verification code of `user_id`: a keyed hash, bound to the
    /// account, so a copy of the database alone cannot find codes by trying all million.
    pub fn code_digest(&self, user_id: &str, code: &str) -> String {
        keyed_digest(&self.budget_key, format!("code:{user_id}:{code}").as_bytes())
    }
}

/// What one client address holds in the hashing queue under (see `credentials::passwords`).
pub fn hashing_claimant(ip: Option<IpAddr>) -> String {
    match ip {
        Some(ip) => format!("ip:{}", bucket(ip)),
        None => "ip:unknown".to_owned(),
    }
}

/// `Retry-After` in whole seconds, rounded up so that a client that waits that long succeeds.
pub fn retry_after(wait: Duration) -> HeaderValue {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(seconds.max(1))
}

/// Counts attempts (and passkey ceremonies begun) per client address, before anything else
/// runs: the refusal (429 with `Retry-After`) once an address is over its budget.
pub fn refusal(
    limits: &AttemptLimits,
    trusted: &TrustedProxies,
    request: &Request,
) -> Option<Response> {
    if request.method() != Method::POST {
        return None;
    }
    let path = request.uri().path();
    let limiter = if ATTEMPT_PATHS.contains(&path) {
        &limits.per_address
    } else if CEREMONY_PATHS.contains(&path) {
        &limits.ceremonies
    } else {
        return None;
    };
    // Served without connect info (not the case in `server::serve`), all clients would share
    // the unspecified address: one shared budget, failing closed rather than open.
    let client = client_ip::of_request(request.extensions(), request.headers(), trusted)
        .unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED));
    let wait = limiter.check(client).err()?;
    if path == ATTEMPT_PATHS[0] {
        crate::telemetry::metrics::login(crate::telemetry::metrics::Login::Limited);
    }
    let mut response = AppError::rate_limited_for("from your network", wait).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, retry_after(wait));
    Some(response)
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

/// The budget an address counts against: itself, or for IPv6 its /64.
pub fn bucket(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => {
            let network = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(Ipv6Addr::from(network))
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
