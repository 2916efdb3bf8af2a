//! The session lifecycle of CONTRACT.md, "Sessions and account", over real HTTP against the
//! real app: sessions as records, the grace window under concurrency, reuse detection,
//! immediate revocation after every kind of session end, the lifetime cap, and the account
//! endpoints.

mod support;

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

// ---- sessions as records ----------------------------------------------------------------

#[tokio::test]
async fn each_login_is_a_session_listed_newest_first_with_device_address_and_times() {
    let app = spawn_app().await;
    app.register("ada").await;
    let laptop = login_from(&app, "ada", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0").await;
    let sessions = sessions_of(&app, &laptop).await;
    assert_eq!(sessions.len(), 2, "{sessions:?}");
    let newest = &sessions[0];
    assert_eq!(newest["current"], true);
    assert_eq!(sessions[1]["current"], false);
    assert_eq!(
        newest["user_agent"],
        "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"
    );
    assert_eq!(newest["ip"], "127.0.0.1");
    for field in ["created_at", "last_used_at", "expires_at"] {
        let value = newest[field].as_str().unwrap();
        assert!(
            time::OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339)
                .is_ok(),
            "{field}: {value}"
        );
    }
    let keys: Vec<&String> = newest.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 7, "{keys:?}");
}

#[tokio::test]
async fn a_refresh_updates_last_used_and_keeps_one_session() {
    let app = spawn_app().await;
    let jar = app.register("busy").await;
    let before = sessions_of(&app, &jar).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let jar = refreshed(&app, &jar).await;
    let after = sessions_of(&app, &jar).await;
    assert_eq!(after.len(), 1);
    assert_eq!(id_of(&before[0]), id_of(&after[0]));
    assert!(after[0]["last_used_at"].as_str() > before[0]["last_used_at"].as_str());
}

#[tokio::test]
async fn every_session_endpoint_needs_a_valid_access_token() {
    let app = spawn_app().await;
    let nobody = Jar::default();
    assert_error(
        app.get("/api/auth/sessions", &nobody).await,
        401,
        "unauthenticated",
    )
    .await;
    for (path, form) in [
        ("/api/auth/revoke_session", vec![("session_id", "x")]),
        ("/api/auth/logout_all", vec![]),
        (
            "/api/auth/update_profile",
            vec![("username", "newname"), ("full_name", "N")],
        ),
        (
            "/api/auth/change_password",
            vec![
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
            ],
        ),
        ("/api/auth/delete_account", vec![("password", PASSWORD)]),
    ] {
        let response = app.post(path, &form, &nobody).await;
        assert_error(response, 401, "unauthenticated").await;
    }
}

// ---- the grace window -------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_simultaneous_refreshes_with_one_token_all_succeed_with_one_successor() {
    let app = spawn_app().await;
    let jar = app.register("tabs").await;
    let answers = join_all((0..12).map(|_| refresh(&app, &jar))).await;
    let mut successors = Vec::new();
    for answer in &answers {
        assert_eq!(answer.status(), StatusCode::OK);
        let mut next = jar.clone();
        next.absorb(answer);
        successors.push(next.get(support::REFRESH).unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all twelve");
    assert_ne!(Some(successors[0].as_str()), jar.get(support::REFRESH));

    // The chain goes on from that one successor, in the one session.
    let mut next = jar.clone();
    next.0
        .insert(support::REFRESH.into(), successors[0].clone());
    let next = refreshed(&app, &next).await;
    assert_eq!(sessions_of(&app, &next).await.len(), 1);

    // The database holds hashes only: no column anywhere holds a token.
    let db = support::inspect(&app).await;
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT token_hash, successor_hash FROM refresh_tokens")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3, "first, successor, and its successor");
    for token in [jar.get(support::REFRESH).unwrap(), &successors[0]] {
        for (hash, successor) in &rows {
            assert_ne!(hash, token);
            assert_ne!(successor.as_deref(), Some(token));
        }
    }
}

#[tokio::test]
async fn a_rotated_token_presented_again_within_the_window_gets_the_same_successor() {
    let app = spawn_app().await;
    let jar = app.register("again").await;
    let first = refreshed(&app, &jar).await;
    let second = refreshed(&app, &jar).await;
    assert_eq!(first.get(support::REFRESH), second.get(support::REFRESH));
    // A fresh access token each time, in the same session.
    assert_me_ok(&app, &second).await;
    assert_eq!(sessions_of(&app, &second).await.len(), 1);
}

// ---- reuse detection --------------------------------------------------------------------

#[tokio::test]
async fn reuse_after_the_window_is_token_reused_and_ends_the_whole_session_at_once() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "1s")]).await;
    let stolen = app.register("victim").await;
    let newest = refreshed(&app, &stolen).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_error(refresh(&app, &stolen).await, 401, "token_reused").await;
    // The session's newest refresh token and its access token are dead too.
    assert_me_revoked(&app, &newest).await;
    assert_error(refresh(&app, &newest).await, 401, "token_revoked").await;
}

#[tokio::test]
async fn reuse_ends_only_the_session_it_happened_in() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let stolen = app.register("careful").await;
    let other = login_from(&app, "careful", "Other device").await;
    refreshed(&app, &stolen).await;
    assert_error(refresh(&app, &stolen).await, 401, "token_reused").await;
    assert_me_ok(&app, &other).await;
}

// ---- immediate revocation ---------------------------------------------------------------

#[tokio::test]
async fn after_logout_the_sessions_access_token_is_refused_at_once() {
    let app = spawn_app().await;
    let jar = app.register("leaving").await;
    assert_me_ok(&app, &jar).await;
    app.post("/api/auth/logout", &[], &jar).await;
    assert_me_revoked(&app, &jar).await;
}

#[tokio::test]
async fn revoking_another_session_refuses_its_tokens_at_once_and_keeps_this_one() {
    let app = spawn_app().await;
    let phone = app.register("owner").await;
    let laptop = login_from(&app, "owner", "Laptop").await;
    let sessions = sessions_of(&app, &laptop).await;
    let phone_session = sessions.iter().find(|s| s["current"] == false).unwrap();
    let response = app
        .post(
            "/api/auth/revoke_session",
            &[("session_id", &id_of(phone_session))],
            &laptop,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_me_revoked(&app, &phone).await;
    assert_error(refresh(&app, &phone).await, 401, "token_revoked").await;
    assert_me_ok(&app, &laptop).await;
    assert_eq!(sessions_of(&app, &laptop).await.len(), 1);
}

#[tokio::test]
async fn revoking_the_current_session_is_a_logout() {
    let app = spawn_app().await;
    let jar = app.register("selfish").await;
    let me = id_of(&sessions_of(&app, &jar).await[0]);
    let response = app
        .post("/api/auth/revoke_session", &[("session_id", &me)], &jar)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie_line(&response, support::ACCESS).contains("Max-Age=0"));
    assert_me_revoked(&app, &jar).await;
}

#[tokio::test]
async fn another_users_session_or_an_unknown_id_is_404_and_nothing_ends() {
    let app = spawn_app().await;
    let alice = app.register("alice").await;
    let mallory = app.register("mallory").await;
    let alices = id_of(&sessions_of(&app, &alice).await[0]);
    for id in [alices.as_str(), "no-such-session"] {
        let response = app
            .post("/api/auth/revoke_session", &[("session_id", id)], &mallory)
            .await;
        assert_error(response, 404, "not_found").await;
    }
    assert_me_ok(&app, &alice).await;
    let empty = app
        .post("/api/auth/revoke_session", &[("session_id", "")], &mallory)
        .await;
    let body = assert_error(empty, 400, "invalid_input").await;
    assert_eq!(body["field"], "session_id");
}

#[tokio::test]
async fn logout_everywhere_refuses_every_sessions_tokens_at_once() {
    let app = spawn_app().await;
    let first = app.register("everywhere").await;
    let second = login_from(&app, "everywhere", "Second").await;
    let response = app.post("/api/auth/logout_all", &[], &second).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie_line(&response, support::REFRESH).contains("Max-Age=0"));
    for jar in [&first, &second] {
        assert_me_revoked(&app, jar).await;
        assert_error(refresh(&app, jar).await, 401, "token_revoked").await;
    }
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_renews_this_one() {
    let app = spawn_app().await;
    let other = app.register("changer").await;
    let this = login_from(&app, "changer", "This device").await;
    let form = [
        ("current_password", PASSWORD),
        ("new_password", NEW_PASSWORD),
    ];
    let response = app.post("/api/auth/change_password", &form, &this).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut renewed = this.clone();
    renewed.absorb(&response);
    assert_ne!(renewed.get(support::REFRESH), this.get(support::REFRESH));

    assert_me_revoked(&app, &other).await;
    assert_error(refresh(&app, &other).await, 401, "token_revoked").await;
    assert_me_ok(&app, &renewed).await;
    refreshed(&app, &renewed).await;
    // The refresh token from before the change is spent, without ending this session.
    assert_error(refresh(&app, &this).await, 401, "token_revoked").await;

    assert_error(
        app.try_login("changer", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_eq!(
        app.try_login("changer", NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn deleting_the_account_refuses_its_tokens_at_once_and_forgets_it() {
    let app = spawn_app().await;
    let jar = app.register("goner").await;
    let other = login_from(&app, "goner", "Other").await;
    let response = app
        .post("/api/auth/delete_account", &[("password", PASSWORD)], &jar)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(set_cookie_line(&response, support::ACCESS).contains("Max-Age=0"));
    for session in [&jar, &other] {
        assert_me_revoked(&app, session).await;
        assert_error(
            app.get("/api/auth/sessions", session).await,
            401,
            "token_revoked",
        )
        .await;
    }
    assert_error(
        app.try_login("goner", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    // The name is free again.
    app.register("goner").await;

    let db = support::inspect(&app).await;
    let (sessions, tokens): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM refresh_tokens)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        (sessions, tokens),
        (1, 1),
        "only the new account's session is left"
    );
}

#[tokio::test]
async fn ended_sessions_stay_refused_after_a_restart() {
    let app = spawn_app().await;
    let jar = app.register("restart").await;
    app.post("/api/auth/logout", &[], &jar).await;
    let app = app.restart(&[]).await;
    assert_me_revoked(&app, &jar).await;
}

// ---- the lifetime cap -------------------------------------------------------------------

#[tokio::test]
async fn refreshing_never_extends_a_session_past_its_cap() {
    let app = spawn_app_with(&[
        ("ACCESS_TOKEN_EXPIRY", "1s"),
        ("REFRESH_TOKEN_EXPIRY", "1h"),
        ("SESSION_MAX_LIFETIME", "3s"),
    ])
    .await;
    let response = app
        .try_register("capped@example.org", "capped", "Cap")
        .await;
    let cookie = set_cookie_line(&response, support::REFRESH);
    assert!(cookie.contains("Max-Age=3"), "{cookie}");
    let mut jar = Jar::default();
    jar.absorb(&response);

    tokio::time::sleep(Duration::from_millis(1200)).await;
    let renewed = refresh(&app, &jar).await;
    assert_eq!(renewed.status(), StatusCode::OK);
    let cookie = set_cookie_line(&renewed, support::REFRESH);
    let max_age: u64 = cookie
        .split("Max-Age=")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        max_age <= 2,
        "the successor lives only to the cap: {cookie}"
    );
    jar.absorb(&renewed);

    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_error(refresh(&app, &jar).await, 401, "token_expired").await;
}

// ---- the account ------------------------------------------------------------------------

#[tokio::test]
async fn update_profile_changes_username_and_full_name() {
    let app = spawn_app().await;
    let jar = app.register("before").await;
    let form = [("username", "After"), ("full_name", "  New Name ")];
    let response = app.post("/api/auth/update_profile", &form, &jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    let user: Value = response.json().await.unwrap();
    assert_eq!(user["username"], "after");
    assert_eq!(user["full_name"], "New Name");
    let me: Value = app.get("/api/auth/me", &jar).await.json().await.unwrap();
    assert_eq!(me["username"], "after");
    assert_eq!(
        app.try_login("after", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn update_profile_refuses_a_taken_or_invalid_username() {
    let app = spawn_app().await;
    app.register("taken").await;
    let jar = app.register("mine").await;
    let taken = [("username", "TAKEN"), ("full_name", "X")];
    let body = assert_error(
        app.post("/api/auth/update_profile", &taken, &jar).await,
        409,
        "conflict",
    )
    .await;
    assert_eq!(body["field"], "username");
    for (username, full_name, field) in [("a", "X", "username"), ("valid_name", "", "full_name")] {
        let form = [("username", username), ("full_name", full_name)];
        let body = assert_error(
            app.post("/api/auth/update_profile", &form, &jar).await,
            400,
            "invalid_input",
        )
        .await;
        assert_eq!(body["field"], field);
    }
}

#[tokio::test]
async fn change_password_refuses_a_wrong_current_password_and_a_weak_or_same_new_one() {
    let app = spawn_app().await;
    let jar = app.register("strict").await;
    let change = |current: &'static str, new: &'static str| {
        let form = [("current_password", current), ("new_password", new)];
        let app = &app;
        let jar = &jar;
        async move { app.post("/api/auth/change_password", &form, jar).await }
    };
    assert_error(
        change("not my password", NEW_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    for new in ["short", "password123", PASSWORD] {
        let body = assert_error(change(PASSWORD, new).await, 400, "invalid_input").await;
        assert_eq!(body["field"], "new_password", "{new}");
    }
    assert_me_ok(&app, &jar).await;
}

#[tokio::test]
async fn delete_account_with_a_wrong_password_is_401_and_deletes_nothing() {
    let app = spawn_app().await;
    let jar = app.register("stays").await;
    let response = app
        .post(
            "/api/auth/delete_account",
            &[("password", "wrong password")],
            &jar,
        )
        .await;
    assert_error(response, 401, "invalid_credentials").await;
    assert_me_ok(&app, &jar).await;
}

#[tokio::test]
async fn without_javascript_revoke_returns_to_the_page_and_logout_everywhere_goes_to_login() {
    let app = spawn_app().await;
    app.register("plain").await;
    let jar = login_from(&app, "plain", "Plain browser").await;
    let other = id_of(&sessions_of(&app, &jar).await[1]);
    let html = [
        ("accept", "text/html"),
        ("referer", "http://127.0.0.1/sessions"),
    ];
    let response = app
        .post_with(
            "/api/auth/revoke_session",
            &[("session_id", &other)],
            &jar,
            &html,
        )
        .await;
    assert!(response.status().is_redirection(), "{}", response.status());
    assert_eq!(response.headers()["location"], "/sessions");
    let response = app
        .post_with("/api/auth/logout_all", &[], &jar, &html)
        .await;
    assert!(response.status().is_redirection());
    assert_eq!(response.headers()["location"], "/login");
}

// ---- housekeeping -----------------------------------------------------------------------

#[tokio::test]
async fn pruning_deletes_ended_and_lapsed_sessions_and_keeps_live_ones() {
    let app = spawn_app().await;
    let ended = app.register("pruned").await;
    let live = login_from(&app, "pruned", "Live device").await;
    app.post("/api/auth/logout", &[], &ended).await;
    let live = refreshed(&app, &live).await;

    let store = support::open_store(&app).await;
    let now = time::OffsetDateTime::now_utc();
    // Ended sessions go once their access tokens can no longer be alive.
    let (sessions, _) = store
        .prune(now, now + Duration::from_secs(1), 0)
        .await
        .unwrap();
    assert_eq!(sessions, 1, "the logged-out session");
    let live = refreshed(&app, &live).await;
    assert_eq!(sessions_of(&app, &live).await.len(), 1);

    // A week on, the live session has lapsed and its tokens have expired: all of it goes.
    let later = now + Duration::from_secs(8 * 86_400);
    let (sessions, _) = store.prune(later, later, 0).await.unwrap();
    assert_eq!(sessions, 1);
    let db = support::inspect(&app).await;
    let rows: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM sessions), (SELECT COUNT(*) FROM refresh_tokens)",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(rows, (0, 0));
}

#[tokio::test]
async fn me_is_answered_from_memory_once_the_account_is_known() {
    let app = spawn_app().await;
    let jar = app.register("cached").await;
    assert_me_ok(&app, &jar).await;
    // Behind the app's back, the row changes: `/me` no longer reads it...
    let db = support::inspect(&app).await;
    sqlx::query("UPDATE users SET full_name = 'Changed Behind' WHERE username = 'cached'")
        .execute(&db)
        .await
        .unwrap();
    let me: Value = app.get("/api/auth/me", &jar).await.json().await.unwrap();
    if support::on_postgres() {
        // ...except on PostgreSQL, whose trigger announces any change to every instance.
        assert_eventually_full_name(&app, &jar, "Changed Behind").await;
    } else {
        assert_eq!(me["full_name"], "Test Person");
    }
    // ...while a change through the app is seen at once.
    let form = [("username", "cached"), ("full_name", "Changed Through")];
    app.post("/api/auth/update_profile", &form, &jar).await;
    let me: Value = app.get("/api/auth/me", &jar).await.json().await.unwrap();
    assert_eq!(me["full_name"], "Changed Through");
}
