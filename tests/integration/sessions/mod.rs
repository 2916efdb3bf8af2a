//! The session lifecycle of CONTRACT.md, "Sessions and account", over real HTTP against the
//! real app: sessions as records, the grace window under concurrency, reuse detection,
//! immediate revocation after every kind of session end, the lifetime cap, and the account
//! endpoints.

mod account;
mod resume;
mod revocation;
mod rotation;

use crate::support;

use futures::future::join_all;

use reqwest::StatusCode;

use serde_json::Value;

use std::time::Duration;

use support::{assert_error, set_cookie_line, spawn_app, spawn_app_with, Jar, TestApp, PASSWORD};

const NEW_PASSWORD: &str = "violet tractor harbour";

/// Logs `name` in again from a device calling itself `agent`: a second session.
async fn login_from(app: &TestApp, name: &str, agent: &str) -> Jar {
    let form = [("login", name), ("password", PASSWORD)];
    let response = app
        .post_with(
            "/api/auth/login",
            &form,
            &Jar::default(),
            &[("user-agent", agent)],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK, "login of {name}");
    let mut jar = Jar::default();
    jar.absorb(&response);
    jar
}

async fn sessions_of(app: &TestApp, jar: &Jar) -> Vec<Value> {
    let response = app.get("/api/auth/sessions", jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn refresh(app: &TestApp, jar: &Jar) -> reqwest::Response {
    app.post("/api/auth/refresh", &[], jar).await
}

/// `jar` after a successful refresh.
async fn refreshed(app: &TestApp, jar: &Jar) -> Jar {
    let response = refresh(app, jar).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh");
    let mut next = jar.clone();
    next.absorb(&response);
    next
}

async fn assert_me_revoked(app: &TestApp, jar: &Jar) {
    assert_error(app.get("/api/auth/me", jar).await, 401, "token_revoked").await;
}

async fn assert_me_ok(app: &TestApp, jar: &Jar) {
    assert_eq!(app.get("/api/auth/me", jar).await.status(), StatusCode::OK);
}

/// `/me` names `full_name` within a second: what the PostgreSQL trigger's announcement does.
async fn assert_eventually_full_name(app: &TestApp, jar: &Jar, full_name: &str) {
    support::within(
        Duration::from_secs(1),
        "the changed name on /me",
        || async {
            let me: Value = app.get("/api/auth/me", jar).await.json().await.unwrap();
            me["full_name"] == full_name
        },
    )
    .await;
}

fn id_of(session: &Value) -> String {
    session["id"].as_str().unwrap().to_owned()
}
