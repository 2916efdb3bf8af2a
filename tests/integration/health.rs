//! `/healthz` and `/readyz`, as a load balancer and an operator use them.

use crate::support::{on_postgres, spawn_app, Jar};
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

async fn probe(app: &crate::support::TestApp, path: &str) -> (StatusCode, Value) {
    let answer = app.get(path, &Jar::default()).await;
    let status = answer.status();
    (status, answer.json().await.unwrap())
}

#[tokio::test]
async fn healthz_answers_and_readyz_says_what_it_checked() {
    let app = spawn_app().await;
    let (status, body) = probe(&app, "/healthz").await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, serde_json::json!({"status": "ok"}))
    );
    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["mail_worker"], "ok");
    // Both databases announce changes: PostgreSQL by NOTIFY, SQLite in a polled table.
    assert_eq!(body["listener"], "ok");
    assert!(body["mail_waiting"].as_i64().unwrap() >= 0, "{body}");
    // Probes are never limited: a load balancer asks often.
    for _ in 0..200 {
        assert_eq!(
            app.get("/readyz", &Jar::default()).await.status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn readyz_is_503_while_the_sqlite_file_is_gone_and_200_once_it_is_back() {
    if on_postgres() {
        return; // PostgreSQL going away is `outage::readyz_*`.
    }
    let app = spawn_app().await;
    let file = app.dir.path().join("gatehouse.db");
    let aside = app.dir.path().join("gatehouse.db.aside");
    std::fs::rename(&file, &aside).unwrap();
    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["status"], "unavailable");
    assert_eq!(body["database"], "unavailable");
    assert_eq!(
        probe(&app, "/healthz").await.0,
        StatusCode::OK,
        "the process still answers"
    );
    std::fs::rename(&aside, &file).unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
