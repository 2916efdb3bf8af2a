//! [ssr] What the server counts, in Prometheus' text format on its own address
//! (`METRICS_ADDR`, off by default), never on the public one.
//!
//! Nothing is recorded until [`serve`] installs the Prometheus recorder: a server without
//! `METRICS_ADDR` pays one relaxed load per count. Every label value is from a fixed set (a
//! route pattern, a status, an outcome), so no client can grow the series without bound. Queue
//! lengths and pool use are read when scraped, not tracked on every change.
//!
//! The request histogram is the one on every request, `/me` included: each thread keeps its
//! handles per route and status (`REQUEST_HANDLES`), since building the labelled key on each
//! request (two allocations, a hash, the registry's lookup) or taking a shared lock cost `/me`
//! 17% (`scripts/bench-compare`).

use crate::store::Store;
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use metrics::{counter, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::{
    cell::RefCell,
    collections::HashMap,
    net::SocketAddr,
    sync::Arc,
    sync::atomic::{AtomicBool, Ordering},
    time::Duration,
};

/// Whether the recorder is installed: nothing is counted before.
static ENABLED: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// This thread's handles of the request histogram, by route pattern and then status.
    static REQUEST_HANDLES: RefCell<HashMap<String, HashMap<u16, metrics::Histogram>>> =
        RefCell::new(HashMap::new());
}

/// Whether metrics are being recorded (`METRICS_ADDR` is set).
pub fn enabled() -> bool {
    ENABLED.load(Ordering::Relaxed)
}

pub const PATH: &str = "/metrics";

/// Latency buckets in seconds, from a cached `/me` (under a millisecond) to a login behind a
/// full hashing queue.
const BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

/// How a login attempt ended.
#[derive(Debug, Clone, Copy)]
pub enum Login {
    Ok,
    /// A wrong password or name, or a right password for an account that may not log in yet.
    Failed,
    /// Refused before any check: the account's or the address's budget is spent, or the
    /// hashing queue holds this client's share.
    Limited,
}

/// How a refresh ended.
#[derive(Debug, Clone, Copy)]
pub enum Refresh {
    Ok,
    /// A token rotated moments ago, presented again: answered with the same successor.
    Grace,
    /// A rotated token presented after the grace window: its session ended.
    Reused,
    Expired,
    /// An unknown, ended or malformed token.
    Refused,
}

pub fn login(outcome: Login) {
    if !enabled() {
        return;
    }
    let outcome = match outcome {
        Login::Ok => "ok",
        Login::Failed => "failed",
        Login::Limited => "limited",
    };
    counter!("gatehouse_logins_total", "outcome" => outcome).increment(1);
}

pub fn refresh(outcome: Refresh) {
    if !enabled() {
        return;
    }
    let outcome = match outcome {
        Refresh::Ok => "ok",
        Refresh::Grace => "grace",
        Refresh::Reused => "reused",
        Refresh::Expired => "expired",
        Refresh::Refused => "refused",
    };
    counter!("gatehouse_refreshes_total", "outcome" => outcome).increment(1);
}

pub fn session_started() {
    if !enabled() {
        return;
    }
    counter!("gatehouse_sessions_started_total").increment(1);
}

/// `count` sessions ended for `reason` (a `store::EndReason`, or `account_deleted`,
/// `password_reset`, `email_restored`, `account_disabled`).
pub fn sessions_ended(reason: &'static str, count: usize) {
    if count > 0 && enabled() {
        counter!("gatehouse_sessions_ended_total", "reason" => reason).increment(count as u64);
    }
}

/// A request answered: `route` is the pattern it matched (`/api/auth/login`, `/profile`), or
/// `unmatched`.
pub fn request(route: &str, status: u16, took: Duration) {
    let seconds = took.as_secs_f64();
    REQUEST_HANDLES.with_borrow_mut(|handles| {
        if let Some(handle) = handles.get(route).and_then(|by| by.get(&status)) {
            return handle.record(seconds);
        }
        let handle = histogram!(
            "gatehouse_http_request_duration_seconds",
            "route" => route.to_owned(),
            "status" => status.to_string()
        );
        handle.record(seconds);
        handles
            .entry(route.to_owned())
            .or_default()
            .insert(status, handle);
    });
}

/// How long a password hash or check waited in the queue for a worker thread.
pub fn hash_waited(waited: Duration) {
    if !enabled() {
        return;
    }
    histogram!("gatehouse_password_hash_wait_seconds").record(waited.as_secs_f64());
}

pub fn mail_sent() {
    if !enabled() {
        return;
    }
    counter!("gatehouse_mail_sent_total").increment(1);
}

/// A delivery attempt that failed (the message stays queued and is tried again).
pub fn mail_failed() {
    if !enabled() {
        return;
    }
    counter!("gatehouse_mail_failed_total").increment(1);
}

/// Why metrics could not be served.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    #[error("METRICS_ADDR: cannot install the metrics recorder")]
    Install(#[source] metrics_exporter_prometheus::BuildError),
    #[error("METRICS_ADDR: cannot listen on {0}")]
    Listen(SocketAddr, #[source] std::io::Error),
}

/// What a scrape reads rather than counts: the database (its pool and outbox) and the hashing
/// queue's length. Passed in, not the whole app state, so this module depends on little.
#[derive(Clone)]
pub struct Levels {
    pub store: Arc<dyn Store>,
    pub hash_queue: Arc<dyn Fn() -> usize + Send + Sync>,
}

/// Installs the recorder and serves `GET /metrics` on `addr` until the process ends.
pub async fn serve(addr: SocketAddr, levels: Levels) -> Result<(), MetricsError> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), BUCKETS)
        .map_err(MetricsError::Install)?
        .install_recorder()
        .map_err(MetricsError::Install)?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| MetricsError::Listen(addr, e))?;
    ENABLED.store(true, Ordering::Relaxed);
    // Histogram samples pile up until upkeep folds them in: done here every few seconds, so
    // memory stays flat when nobody scrapes.
    let upkeep = handle.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(5));
        loop {
            every.tick().await;
            upkeep.run_upkeep();
        }
    });
    tracing::info!("metrics on http://{addr}{PATH}");
    let app = Router::new()
        .route(PATH, get(scrape))
        .with_state((levels, handle));
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(())
}

/// The text format, with the levels that are read rather than counted brought up to date.
async fn scrape(State((levels, handle)): State<(Levels, PrometheusHandle)>) -> impl IntoResponse {
    let pool = levels.store.connections();
    gauge!("gatehouse_db_connections", "state" => "in_use").set(pool.in_use as f64);
    gauge!("gatehouse_db_connections", "state" => "idle").set(pool.idle as f64);
    gauge!("gatehouse_password_hash_queue_depth").set((levels.hash_queue)() as f64);
    // The outbox is a table: read it only if the database answers soon.
    let backlog = tokio::time::timeout(Duration::from_secs(1), levels.store.outbox_backlog()).await;
    if let Ok(Ok((waiting, _))) = backlog {
        gauge!("gatehouse_mail_queued").set(waiting as f64);
    }
    // Without the exporter's own runtime, histograms are compacted here, on each scrape.
    handle.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle.render(),
    )
}
