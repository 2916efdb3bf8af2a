//! The guarantees of the Security section, attacked the way an attacker would: many requests in
//! flight at once, from several loopback addresses (127.0.0.x), on whichever database the run
//! uses (`scripts/test` runs these tests on SQLite, then on PostgreSQL), and on two instances where
//! state is shared (those tests need PostgreSQL and are ignored without it).
//!
//! Every test ends by checking the server log: no 500 and no internal error, whatever raced.

mod budgets;
mod races;
mod shared;

use crate::support;

use futures::future::join_all;

use reqwest::{header, Response, StatusCode};

use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};

use support::{spawn_app_with, Jar, TestApp, Visitor, PASSWORD};

async fn app_with(vars: &[(&str, &str)]) -> TestApp {
    support::log::watch();
    spawn_app_with(vars).await
}

// ---- helpers ----------------------------------------------------------------------------

/// Limits for attacks on the failure budget: the budget is what is under test, so the
/// per-address limit is set out of the way.
const BUDGET: &str = "10";

const BUDGET_VARS: [(&str, &str); 2] = [
    ("LOGIN_MAX_FAILURES", BUDGET),
    ("IP_ATTEMPTS_PER_MINUTE", "100000"),
];

fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// What an attempt came to, as the attacker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 200: the password was right.
    In,
    /// 401 invalid_credentials: the password was verified, and was wrong.
    Verified,
    /// 429 with a long Retry-After: the failure budget is spent.
    Locked,
    Other(u16),
}

/// Sends `attempt` until it is no longer refused for a busy hashing queue (429 with
/// `Retry-After: 1`, which says "your share is in use, come back in a second"), as a patient
/// attacker would, and says what it came to.
async fn persist<F, Fut>(mut attempt: F) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    for _ in 0..2_000 {
        let response = attempt().await;
        match response.status().as_u16() {
            200 => return Outcome::In,
            401 => {
                let code = support::error_code(response).await;
                assert_eq!(code.as_deref(), Some("invalid_credentials"));
                return Outcome::Verified;
            }
            429 if retry_after(&response) > 1 => return Outcome::Locked,
            429 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => return Outcome::Other(other),
        }
    }
    panic!("still refused as busy after 2,000 tries");
}

fn count(outcomes: &[Outcome], which: Outcome) -> usize {
    outcomes.iter().filter(|o| **o == which).count()
}

/// Twenty visitors, each from an address of its own.
fn crowd(app: &TestApp) -> Vec<Visitor> {
    (2..22).map(|n| app.visitor_from(n)).collect()
}

async fn two_instances(vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    support::log::watch();
    support::two_instances(vars).await
}
