//! The token pair after login: `refresh` (rotation), `logout`, and `me`.

use super::*;

// ---- refresh --------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_the_pair_and_the_old_refresh_token_dies() {
    // No grace window: here the second presentation is reuse at once (see `sessions::rotation`).
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let first = app.register("rotor").await;
    let response = app.post("/api/auth/refresh", &[], &first).await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut second = first.clone();
    second.absorb(&response);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body.as_object().unwrap().len(), 1, "{body}");
    assert!(time::OffsetDateTime::parse(
        body["access_expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    assert_ne!(first.get(support::REFRESH), second.get(support::REFRESH));
    assert_ne!(first.get(support::ACCESS), second.get(support::ACCESS));
    // The new pair works, and the new refresh token rotates in turn...
    assert_eq!(
        app.get("/api/auth/me", &second).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.post("/api/auth/refresh", &[], &second).await.status(),
        StatusCode::OK
    );
    // ...while the old one is spent.
    let replayed = app.post("/api/auth/refresh", &[], &first).await;
    assert_error(replayed, 401, "token_reused").await;
}

#[tokio::test]
async fn a_plain_form_refresh_returns_to_the_page_or_goes_to_login_and_back() {
    let app = spawn_app().await;
    let jar = app.register("continue").await;
    let referer = app.url("/profile?tab=1");
    let plain_form = [("accept", "text/html"), ("referer", referer.as_str())];
    let worked = app
        .post_with("/api/auth/refresh", &[], &jar, &plain_form)
        .await;
    assert_eq!(worked.status(), StatusCode::FOUND);
    assert_eq!(worked.headers()[header::LOCATION], "/profile?tab=1");
    assert_eq!(set_cookies(&worked).len(), 2);

    let no_session = app
        .post_with("/api/auth/refresh", &[], &Jar::default(), &plain_form)
        .await;
    assert_eq!(no_session.status(), StatusCode::FOUND);
    assert_eq!(
        no_session.headers()[header::LOCATION],
        "/login?next=/profile%3Ftab%3D1"
    );
}

#[tokio::test]
async fn refresh_without_a_cookie_is_401_unauthenticated() {
    let app = spawn_app().await;
    let response = app.post("/api/auth/refresh", &[], &Jar::default()).await;
    assert_error(response, 401, "unauthenticated").await;
}

#[tokio::test]
async fn refresh_with_a_forged_or_unknown_token_is_401_token_invalid() {
    let app = spawn_app().await;
    let mut jar = app.register("forger").await;
    let real = jar.get(support::REFRESH).unwrap().to_owned();
    jar.0.insert(support::REFRESH.into(), format!("{real}x"));
    assert_error(
        app.post("/api/auth/refresh", &[], &jar).await,
        401,
        "token_invalid",
    )
    .await;
    // An access token is not a refresh token.
    let access = jar.get(support::ACCESS).unwrap().to_owned();
    jar.0.insert(support::REFRESH.into(), access);
    assert_error(
        app.post("/api/auth/refresh", &[], &jar).await,
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test]
async fn a_validly_signed_refresh_token_without_a_database_row_is_401_token_invalid() {
    let secrets = [
        (
            "ACCESS_TOKEN_SECRET",
            "integration-access-secret-0123456789abcdef",
        ),
        (
            "REFRESH_TOKEN_SECRET",
            "integration-refresh-secret-0123456789abcdef",
        ),
    ];
    let app = spawn_app_with(&secrets).await;
    let mut jar = app.register("ghost").await;
    let config = gatehouse::config::Config::from_lookup(|name| {
        secrets
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    })
    .unwrap();
    let keys = gatehouse::credentials::tokens::TokenKeys::new(&config);
    let unknown = keys
        .issue_refresh(
            "some-user",
            "some-session",
            time::OffsetDateTime::now_utc(),
            time::OffsetDateTime::now_utc() + std::time::Duration::from_secs(3600),
        )
        .unwrap();
    jar.0.insert(support::REFRESH.into(), unknown.token);
    assert_error(
        app.post("/api/auth/refresh", &[], &jar).await,
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test]
async fn refresh_with_an_expired_token_is_401_token_expired() {
    let app = spawn_app_with(&[
        ("ACCESS_TOKEN_EXPIRY", "1s"),
        ("REFRESH_TOKEN_EXPIRY", "1s"),
    ])
    .await;
    let jar = app.register("lapsed").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_error(
        app.post("/api/auth/refresh", &[], &jar).await,
        401,
        "token_expired",
    )
    .await;
}

#[tokio::test]
async fn a_failed_refresh_clears_both_cookies() {
    let app = spawn_app().await;
    let mut jar = app.register("cleared").await;
    jar.0.insert(support::REFRESH.into(), "garbage".into());
    let response = app.post("/api/auth/refresh", &[], &jar).await;
    let lines = set_cookies(&response);
    // Under the prefixed names and the plain ones of earlier versions.
    assert_eq!(lines.len(), 4, "{lines:?}");
    assert!(lines.iter().all(|l| l.contains("Max-Age=0")), "{lines:?}");
}

// ---- logout ---------------------------------------------------------------------------

#[tokio::test]
async fn logout_clears_both_cookies_and_revokes_the_session_refresh_token() {
    let app = spawn_app().await;
    let jar = app.register("leaver").await;
    let response = app.post("/api/auth/logout", &[], &jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    let access = set_cookie_line(&response, support::ACCESS);
    let refresh = set_cookie_line(&response, support::REFRESH);
    assert!(
        access.contains("Max-Age=0") && access.contains("Path=/"),
        "{access}"
    );
    assert!(
        refresh.contains("Max-Age=0") && refresh.contains("Path=/api/auth"),
        "{refresh}"
    );
    let replay = app.post("/api/auth/refresh", &[], &jar).await;
    assert_error(replay, 401, "token_revoked").await;
}

#[tokio::test]
async fn logout_ends_only_its_own_session() {
    let app = spawn_app().await;
    let first = app.register("twice").await;
    let login = app.try_login("twice", PASSWORD).await;
    let mut second = Jar::default();
    second.absorb(&login);
    app.post("/api/auth/logout", &[], &first).await;
    assert_eq!(
        app.post("/api/auth/refresh", &[], &second).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn logout_when_not_logged_in_is_200() {
    let app = spawn_app().await;
    let response = app.post("/api/auth/logout", &[], &Jar::default()).await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ---- me -------------------------------------------------------------------------------

#[tokio::test]
async fn me_returns_the_user_of_the_access_cookie_and_is_never_cached() {
    let app = spawn_app().await;
    let jar = app.register("viewer").await;
    let response = app.get("/api/auth/me", &jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["username"], "viewer");
    assert_eq!(body["email"], "viewer@example.org");
}

#[tokio::test]
async fn me_without_a_cookie_is_401_unauthenticated() {
    let app = spawn_app().await;
    assert_error(
        app.get("/api/auth/me", &Jar::default()).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn me_with_a_tampered_token_or_a_refresh_token_is_401_token_invalid() {
    let app = spawn_app().await;
    let mut jar = app.register("tamper").await;
    let access = jar.get(support::ACCESS).unwrap().to_owned();
    let refresh = jar.get(support::REFRESH).unwrap().to_owned();
    jar.0.insert(support::ACCESS.into(), format!("{access}A"));
    assert_error(app.get("/api/auth/me", &jar).await, 401, "token_invalid").await;
    jar.0.insert(support::ACCESS.into(), refresh);
    assert_error(app.get("/api/auth/me", &jar).await, 401, "token_invalid").await;
}

#[tokio::test]
async fn me_with_an_expired_access_token_is_401_token_expired_and_refresh_cures_it() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_EXPIRY", "1s")]).await;
    let mut jar = app.register("expiring").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    assert_error(app.get("/api/auth/me", &jar).await, 401, "token_expired").await;
    let refreshed = app.post("/api/auth/refresh", &[], &jar).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    jar.absorb(&refreshed);
    assert_eq!(app.get("/api/auth/me", &jar).await.status(), StatusCode::OK);
}
