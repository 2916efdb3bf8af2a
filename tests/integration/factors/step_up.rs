//! Sensitive changes need a recent proof of who is asking, not just a live session: the
//! password and the authenticator's code, within `STEP_UP_WINDOW` (1 s here).

use super::*;
use std::time::Duration;

const WINDOW: [(&str, &str); 1] = [("STEP_UP_WINDOW", "1s")];

#[tokio::test]
async fn with_an_app_on_a_stale_session_must_confirm_before_a_sensitive_change() {
    let app = crate::support::spawn_app_with(&WINDOW).await;
    let account = protected(&app, "stale").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let jar = &account.jar;
    let change = [
        ("current_password", PASSWORD),
        ("new_password", "another quite long passphrase 7"),
    ];
    let move_to = [
        ("username", "stale"),
        ("full_name", "Test Person"),
        ("email", "elsewhere@example.org"),
    ];
    for (path, form) in [
        ("/api/auth/change_password", &change[..]),
        ("/api/auth/update_profile", &move_to[..]),
        ("/api/auth/delete_account", &[("password", PASSWORD)][..]),
        ("/api/auth/totp_disable", &[][..]),
        ("/api/auth/recovery_codes", &[][..]),
        ("/api/auth/totp_begin", &[][..]),
    ] {
        let refused = app.post(path, form, jar).await;
        assert_error(refused, 403, "step_up_required").await;
    }
    // The password alone is not the proof an account with an app gives.
    let alone = app
        .post("/api/auth/confirm_identity", &[("password", PASSWORD)], jar)
        .await;
    assert_error(alone, 400, "invalid_input").await;
    let wrong = [("password", "not the password at all"), ("code", "000000")];
    let refused = app.post("/api/auth/confirm_identity", &wrong, jar).await;
    assert_error(refused, 401, "invalid_credentials").await;
    let code = account.app.code_at(unix_now() + 30);
    let proof = [("password", PASSWORD), ("code", code.as_str())];
    let confirmed = app.post("/api/auth/confirm_identity", &proof, jar).await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    assert_eq!(
        app.post("/api/auth/change_password", &change, jar)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_a_factor_the_password_typed_is_the_proof_and_an_address_change_asks_for_it() {
    let app = crate::support::spawn_app_with(&WINDOW).await;
    let jar = app.register("plainer").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let move_to = [
        ("username", "plainer"),
        ("full_name", "Test Person"),
        ("email", "moved@example.org"),
    ];
    let refused = app.post("/api/auth/update_profile", &move_to, &jar).await;
    assert_error(refused, 403, "step_up_required").await;
    // A name alone is no sensitive change.
    let rename = [("username", "plainer2"), ("full_name", "Test Person")];
    assert_eq!(
        app.post("/api/auth/update_profile", &rename, &jar)
            .await
            .status(),
        StatusCode::OK
    );
    let confirmed = app
        .post(
            "/api/auth/confirm_identity",
            &[("password", PASSWORD)],
            &jar,
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let move_to = [
        ("username", "plainer2"),
        ("full_name", "Test Person"),
        ("email", "moved@example.org"),
    ];
    assert_eq!(
        app.post("/api/auth/update_profile", &move_to, &jar)
            .await
            .status(),
        StatusCode::OK
    );
    // The password typed in the form proves it, as before second factors.
    let change = [
        ("current_password", PASSWORD),
        ("new_password", "another quite long passphrase 7"),
    ];
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        app.post("/api/auth/change_password", &change, &jar)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn without_javascript_the_profile_asks_to_confirm_and_comes_back_to_try_again() {
    let app = crate::support::spawn_app_with(&WINDOW).await;
    let jar = app.register("nojsconfirm").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let profile = app.url("/profile");
    let plain = [("accept", "text/html"), ("referer", profile.as_str())];
    let move_to = [
        ("username", "nojsconfirm"),
        ("full_name", "Test Person"),
        ("email", "moved@example.org"),
    ];
    let refused = app
        .post_with("/api/auth/update_profile", &move_to, &jar, &plain)
        .await;
    assert_eq!(refused.status(), StatusCode::FOUND);
    let back = refused.headers()["location"].to_str().unwrap().to_owned();
    let back = back.strip_prefix(&app.base).unwrap_or(&back).to_owned();
    assert!(back.starts_with("/profile?"), "{back}");
    let page = app.get(&back, &jar).await.text().await.unwrap();
    assert!(
        page.contains("Confirm it&#x27;s you") || page.contains("Confirm it's you"),
        "{page}"
    );
    assert!(
        page.contains(r#"action="/api/auth/confirm_identity""#),
        "{page}"
    );
    let confirmed = app
        .post_with(
            "/api/auth/confirm_identity",
            &[("password", PASSWORD)],
            &jar,
            &plain,
        )
        .await;
    assert_eq!(confirmed.status(), StatusCode::FOUND);
    assert_eq!(confirmed.headers()["location"], "/profile");
    let moved = app
        .post_with("/api/auth/update_profile", &move_to, &jar, &plain)
        .await;
    assert_eq!(moved.headers()["location"], "/profile?email_change=1");
}
