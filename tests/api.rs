//! Every row of the contract's endpoint table, against the real server: success and each
//! failure, the cookies' attributes, rotation, logout and restart persistence.
#![cfg(feature = "ssr")]

mod support;

use reqwest::{header, StatusCode};
use serde_json::Value;
use support::*;

// ---- register -------------------------------------------------------------------------

#[tokio::test]
async fn register_returns_the_user_json_and_logs_the_new_account_in() {
    let app = spawn_app().await;
    let response = app
        .try_register("Ada@Example.org", "ada", " Ada Lovelace ")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut jar = Jar::default();
    jar.absorb(&response);
    let body: Value = response.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 5, "{body}");
    for key in ["id", "email", "username", "full_name", "created_at"] {
        assert!(body.get(key).is_some(), "user JSON lacks {key}");
    }
    assert_eq!(body["email"], "Ada@Example.org");
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert!(time::OffsetDateTime::parse(
        body["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    // Logged in: both cookies set, and /me answers with the same user.
    let me: Value = app.get("/api/auth/me", &jar).await.json().await.unwrap();
    assert_eq!(me, body);
    // Tokens live in cookies only, never in a JSON body.
    for token in [
        jar.get(support::ACCESS).unwrap(),
        jar.get(support::REFRESH).unwrap(),
    ] {
        assert!(!body.to_string().contains(token));
    }
}

#[tokio::test]
async fn register_sets_both_cookies_with_the_contract_attributes() {
    let app = spawn_app().await;
    let response = app.try_register("c@example.org", "cookie", "C").await;
    let access = set_cookie_line(&response, support::ACCESS);
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=900",
    ] {
        assert!(
            access.split("; ").any(|a| a == attribute),
            "{access} lacks {attribute}"
        );
    }
    let refresh = set_cookie_line(&response, support::REFRESH);
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/auth",
        "Max-Age=604800",
    ] {
        assert!(
            refresh.split("; ").any(|a| a == attribute),
            "{refresh} lacks {attribute}"
        );
    }
}

#[tokio::test]
async fn cookies_leave_out_secure_only_when_cookie_secure_is_false() {
    let app = spawn_app_with(&[("COOKIE_SECURE", "false")]).await;
    let response = app.try_register("s@example.org", "insecure", "S").await;
    for line in set_cookies(&response) {
        assert!(!line.contains("Secure"), "{line}");
    }
}

#[tokio::test]
async fn register_rejects_each_invalid_field_with_400_naming_it() {
    let app = spawn_app().await;
    let valid = [
        ("email", "v@example.org"),
        ("username", "valid"),
        ("full_name", "V"),
        ("password", PASSWORD),
    ];
    let cases = [
        ("email", "not-an-email"),
        ("email", ""),
        ("username", "no"),
        ("username", "bad name!"),
        ("full_name", "   "),
        ("password", "short"),
    ];
    for (field, value) in cases {
        let form: Vec<(&str, &str)> = valid
            .iter()
            .map(|&(k, v)| if k == field { (k, value) } else { (k, v) })
            .collect();
        let response = app.post("/api/auth/register", &form, &Jar::default()).await;
        assert!(set_cookies(&response).is_empty(), "no cookies on failure");
        let body = assert_error(response, 400, "invalid_input").await;
        assert_eq!(body["field"], field, "{field}={value:?}");
    }
}

#[tokio::test]
async fn register_with_a_missing_field_is_400_invalid_input_not_500() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/register",
            &[
                ("email", "m@example.org"),
                ("username", "missing"),
                ("full_name", "M"),
            ],
            &Jar::default(),
        )
        .await;
    let body = assert_error(response, 400, "invalid_input").await;
    assert_eq!(body["field"], "password");
}

#[tokio::test]
async fn a_malformed_body_is_400_invalid_input_not_500() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("login[=%%&password=%ZZ[[")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_input").await;
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(17 * 1024);
    let response = app
        .post(
            "/api/auth/login",
            &[("login", huge.as_str()), ("password", "p")],
            &Jar::default(),
        )
        .await;
    let body = assert_error(response, 413, "invalid_input").await;
    assert_eq!(body["field"], "body");
}

#[tokio::test]
async fn register_with_a_taken_email_or_username_is_409_whatever_the_case() {
    let app = spawn_app().await;
    app.register("taken").await;
    let email_again = app.try_register("TAKEN@example.org", "other", "T").await;
    assert_eq!(
        assert_error(email_again, 409, "conflict").await["field"],
        "email"
    );
    let name_again = app.try_register("new@example.org", "Taken", "T").await;
    assert_eq!(
        assert_error(name_again, 409, "conflict").await["field"],
        "username"
    );
}

#[tokio::test]
async fn concurrent_registrations_with_one_email_give_one_200_and_409s_never_500() {
    let app = spawn_app().await;
    // Each from an address of its own: one address may hold only a small share of the hashing
    // queue, and this test is about the unique email, not that share.
    let attempts = (0..8).map(|i| {
        let username = format!("racer{i}");
        let visitor = app.visitor_from(10 + i);
        async move {
            visitor
                .try_register("race@example.org", &username, "R")
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(attempts).await;
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
}

// ---- login ----------------------------------------------------------------------------

#[tokio::test]
async fn login_accepts_the_email_or_the_username_in_any_case() {
    let app = spawn_app().await;
    app.register("grace").await;
    for login in ["grace@example.org", "GRACE@EXAMPLE.ORG", "grace", "Grace"] {
        let response = app.try_login(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login as {login}");
        let mut jar = Jar::default();
        jar.absorb(&response);
        assert!(jar.get(support::ACCESS).is_some() && jar.get(support::REFRESH).is_some());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["username"], "grace");
        assert!(body.get("password_hash").is_none());
    }
}

#[tokio::test]
async fn login_answers_an_unknown_account_and_a_wrong_password_identically() {
    let app = spawn_app().await;
    app.register("known").await;
    let wrong = app.try_login("known", "wrong password").await;
    assert!(set_cookies(&wrong).is_empty());
    let wrong = assert_error(wrong, 401, "invalid_credentials").await;
    let unknown = app.try_login("nobody", "wrong password").await;
    let unknown = assert_error(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn login_without_a_login_or_password_is_400_naming_the_field() {
    let app = spawn_app().await;
    let no_login = app
        .post(
            "/api/auth/login",
            &[("password", PASSWORD)],
            &Jar::default(),
        )
        .await;
    assert_eq!(
        assert_error(no_login, 400, "invalid_input").await["field"],
        "login"
    );
    let no_password = app
        .post("/api/auth/login", &[("login", "someone")], &Jar::default())
        .await;
    assert_eq!(
        assert_error(no_password, 400, "invalid_input").await["field"],
        "password"
    );
}

#[tokio::test]
async fn a_plain_form_login_without_javascript_redirects_to_the_next_page() {
    let app = spawn_app().await;
    app.register("nojs").await;
    let referer = app.url("/login?next=%2Fprofile%3Ftab%3D1");
    let response = app
        .post_with(
            "/api/auth/login",
            &[("login", "nojs"), ("password", PASSWORD)],
            &Jar::default(),
            &[
                ("accept", "text/html,application/xhtml+xml"),
                ("referer", &referer),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/profile?tab=1");
    let names: Vec<String> = set_cookies(&response)
        .iter()
        .map(|line| line.split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in [support::ACCESS, support::REFRESH, support::DEVICE] {
        assert!(names.iter().any(|n| n == name), "{name} not set: {names:?}");
    }
}

// ---- refresh --------------------------------------------------------------------------

#[tokio::test]
async fn refresh_rotates_the_pair_and_the_old_refresh_token_dies() {
    // No grace window: here the second presentation is reuse at once (see tests/sessions.rs).
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

// ---- persistence ----------------------------------------------------------------------

#[tokio::test]
async fn accounts_and_tokens_survive_a_restart_with_generated_secrets() {
    let app = spawn_app().await;
    let jar = app.register("stayer").await;
    let app = app.restart(&[]).await;
    // SQLite keeps generated secrets beside the database; PostgreSQL runs are given theirs.
    assert_eq!(
        app.dir.path().join("gatehouse.secrets").exists(),
        !support::on_postgres()
    );
    assert_eq!(
        app.get("/api/auth/me", &jar).await.status(),
        StatusCode::OK,
        "access token still valid"
    );
    assert_eq!(
        app.post("/api/auth/refresh", &[], &jar).await.status(),
        StatusCode::OK
    );
    let login = app.try_login("stayer", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
}

#[tokio::test]
async fn writes_abandoned_at_any_point_leave_no_transaction_behind() {
    // A request's future is dropped wherever it is waiting when its client disconnects,
    // including inside the opening of a transaction. Abandon store writes after 0, 1, 2, ...
    // polls, so that some stop at each of their waits, then check that writes still work.
    use gatehouse::store::EndReason;
    let app = spawn_app().await;
    let jar = app.register("quitter").await;
    let store = support::open_store(&app).await;
    let now = time::OffsetDateTime::now_utc();
    for polls in 0..400 {
        let mut write = Box::pin(store.end_sessions("nobody", None, EndReason::LogoutAll, now));
        for _ in 0..polls % 40 {
            if futures::poll!(write.as_mut()).is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    // A connection left inside a transaction would fail these: "database is locked" once the
    // busy timeout ran out, or a refused BEGIN.
    store
        .end_sessions("nobody", None, EndReason::LogoutAll, now)
        .await
        .expect("a write after the abandoned ones");
    let refreshed = app.post("/api/auth/refresh", &[], &jar).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let response = app
        .try_register("after@example.org", "after", "Later")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

// ---- pages ---------------------------------------------------------------------------

#[tokio::test]
async fn the_client_bundle_goes_out_precompressed_to_browsers_that_accept_it() {
    let site = tempfile::tempdir().unwrap();
    let pkg = site.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(pkg.join("gatehouse.wasm"), b"raw wasm").unwrap();
    std::fs::write(pkg.join("gatehouse.wasm.br"), b"brotli wasm").unwrap();
    std::fs::write(pkg.join("gatehouse.wasm.gz"), b"gzip wasm").unwrap();
    let root = site.path().to_str().unwrap();
    let app = spawn_app_with(&[("LEPTOS_SITE_ROOT", root)]).await;
    let fetch = |encoding: &'static str| {
        app.http
            .get(app.url("/pkg/gatehouse.wasm"))
            .header(header::ACCEPT_ENCODING, encoding)
            .send()
    };
    for (accepts, sent, body) in [
        ("br, gzip", Some("br"), "brotli wasm"),
        ("gzip", Some("gzip"), "gzip wasm"),
        ("identity", None, "raw wasm"),
    ] {
        let response = fetch(accepts).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{accepts}");
        let encoding = response.headers().get(header::CONTENT_ENCODING).cloned();
        assert_eq!(
            encoding.as_ref().map(|v| v.to_str().unwrap()),
            sent,
            "{accepts}"
        );
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/wasm");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        assert_eq!(response.text().await.unwrap(), body, "{accepts}");
    }
}

#[tokio::test]
async fn the_profile_page_renders_the_user_on_the_server() {
    let app = spawn_app().await;
    let jar = app.register("rendered").await;
    let html = app.get("/profile", &jar).await.text().await.unwrap();
    assert!(
        html.contains("rendered@example.org"),
        "profile page lacks the email"
    );
    assert!(html.contains("Log out"));
}

#[tokio::test]
async fn every_page_renders_and_unknown_paths_are_404() {
    let app = spawn_app().await;
    for (path, marker) in [
        ("/", "Gatehouse"),
        ("/login", "name=\"login\""),
        ("/register", "name=\"full_name\""),
    ] {
        let response = app.get(path, &Jar::default()).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(
            response.text().await.unwrap().contains(marker),
            "{path} lacks {marker}"
        );
    }
    assert_eq!(
        app.get("/no-such-page", &Jar::default()).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A taken email or username is refused before any password hashing: twenty registrations of a
/// taken email at once from one address all get 409, none a 429 for a full share of the hashing
/// queue (at ef7d2e1 each hashed the password first, then found the name taken).
#[tokio::test]
async fn a_taken_name_is_refused_before_any_password_hashing() {
    let app = spawn_app_with(&[
        ("PASSWORD_QUEUE_SHARE", "1"),
        ("IP_ATTEMPTS_PER_MINUTE", "1000"),
    ])
    .await;
    app.register("taken").await;
    let attempts = (0..20).map(|i| {
        let app = &app;
        async move {
            let username = format!("other{i}");
            let email = if i % 2 == 0 {
                "taken@example.org"
            } else {
                "fresh@example.org"
            };
            let name = if i % 2 == 0 {
                username.as_str()
            } else {
                "taken"
            };
            app.try_register(email, name, "T").await.status().as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert!(statuses.iter().all(|s| *s == 409), "{statuses:?}");
}

/// Pages and static files are only read: any other method is 405 with `Allow` (at ef7d2e1 a
/// POST to a static file answered 200 with the file).
#[tokio::test]
async fn writing_methods_on_pages_and_files_are_405() {
    let app = spawn_app().await;
    for path in ["/favicon.ico", "/login", "/pkg/gatehouse.js"] {
        for method in [
            reqwest::Method::POST,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let response = app
                .http
                .request(method.clone(), app.url(path))
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{method} {path}"
            );
            assert_eq!(response.headers()[header::ALLOW], "GET, HEAD");
        }
    }
}

/// docs/API.md is the public contract: every server function the app serves is in it, as
/// "`METHOD /path`", and every endpoint it names is one the app serves.
#[test]
fn every_server_function_is_in_the_api_document() {
    let document = include_str!("../docs/API.md");
    let served: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| format!("`{method} {path}`"))
        .collect();
    assert!(served.len() >= 11, "{served:?}");
    for endpoint in &served {
        assert!(
            document.contains(endpoint.as_str()),
            "{endpoint} is served but not in docs/API.md"
        );
    }
    let named = document
        .split('`')
        .filter(|part| part.contains(" /api/"))
        .map(|part| format!("`{part}`"));
    for endpoint in named {
        assert!(
            served.contains(&endpoint),
            "docs/API.md names {endpoint}, which is not served"
        );
    }
}
