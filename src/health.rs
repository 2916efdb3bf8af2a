//! [ssr] Health for those who run the server: `GET /healthz` (the process answers) and
//! `GET /readyz` (it can do its work: the database answers with every migration applied, on
//! PostgreSQL the announcements of other instances are heard, and the mail worker is looking at
//! the outbox). Cheap, unauthenticated, never rate limited, and logged only when they fail.

use crate::state::AppState;
use axum::{extract::State, http::StatusCode, response::IntoResponse, Json};
use serde::Serialize;
use std::{sync::atomic::Ordering, time::Duration};

pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";

/// How long `/readyz` waits for the database: a probe must answer well within a load
/// balancer's own timeout, whatever the database does.
const DATABASE_PATIENCE: Duration = Duration::from_secs(2);

/// Whether `path` is one of the probes (not logged when they succeed).
pub fn is_probe(path: &str) -> bool {
    path == HEALTHZ || path == READYZ
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

pub async fn healthz() -> impl IntoResponse {
    Json(Health { status: "ok" })
}

/// What `/readyz` found: `ok`, or what is wrong, per part.
#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    database: &'static str,
    /// `not used` for a store that announces nothing (both databases do).
    listener: &'static str,
    mail_worker: &'static str,
    /// Messages waiting in the outbox, and how long the oldest has: a mail server that is away
    /// shows here (and in the log), but does not make the instance unready: it cannot help it.
    mail_waiting: i64,
    mail_oldest_seconds: i64,
}

pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let database = match tokio::time::timeout(DATABASE_PATIENCE, state.store.migrations_applied())
        .await
    {
        Ok(Ok(true)) => "ok",
        Ok(Ok(false)) => "migrations pending",
        Ok(Err(_)) => "unavailable",
        Err(_) => "no answer in time",
    };
    let listener = match &state.listening {
        None => "not used",
        Some(listening) if listening.load(Ordering::Relaxed) => "ok",
        Some(_) => "disconnected",
    };
    let mail_worker = if state.mailer.worker_alive() {
        "ok"
    } else {
        "stuck"
    };
    let (mail_waiting, mail_oldest_seconds) = if database == "ok" {
        match tokio::time::timeout(DATABASE_PATIENCE, state.store.outbox_backlog()).await {
            Ok(Ok((count, oldest))) => (
                count,
                oldest.map_or(0, |at| (time::OffsetDateTime::now_utc() - at).whole_seconds()),
            ),
            _ => (-1, -1),
        }
    } else {
        (-1, -1)
    };
    let ready = database == "ok" && listener != "disconnected" && mail_worker == "ok";
    let readiness = Readiness {
        status: if ready { "ok" } else { "unavailable" },
        database,
        listener,
        mail_worker,
        mail_waiting,
        mail_oldest_seconds,
    };
    if !ready {
        tracing::warn!(database, listener, mail_worker, "not ready");
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(readiness))
}
