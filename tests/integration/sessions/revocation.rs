//! Immediate revocation after every kind of end, across restarts, and the lifetime cap.

use super::*;

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
