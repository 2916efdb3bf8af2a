//! Cross-site requests and the response headers every answer carries (ASVS V4.2.2, V13.2.3,
//! V14.4, V8.1.1).

use super::*;

// ---- cross-site requests (ASVS V4.2.2, V13.2.3) ---------------------------------------

/// ASVS V4.2.2: a POST from another site's page is refused before it does anything.
#[tokio::test]
async fn v4_2_2_a_post_from_another_origin_is_403_forbidden_and_changes_nothing() {
    let app = spawn_app().await;
    let jar = app.register("victim").await;
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("sec-fetch-site", "cross-site"),
    ] {
        let response = app
            .post_with("/api/auth/logout", &[], &jar, &[(name, value)])
            .await;
        assert_error(response, 403, "forbidden").await;
    }
    // The session the forged logouts aimed at is still alive.
    let refreshed = app.post("/api/auth/refresh", &[], &jar).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
}

/// ASVS V4.2.2: our own pages' posts, and clients that send no browser headers, go through.
#[tokio::test]
async fn v4_2_2_same_origin_and_same_site_posts_and_posts_without_browser_headers_are_accepted() {
    let app = spawn_app().await;
    for browser_headers in [
        [
            ("origin", app.base.as_str()),
            ("sec-fetch-site", "same-origin"),
        ],
        [
            ("origin", app.base.as_str()),
            ("sec-fetch-site", "same-site"),
        ],
        [("origin", app.base.as_str()), ("sec-fetch-site", "none")],
    ] {
        let response = app
            .post_with(
                "/api/auth/login",
                &[("login", "nobody"), ("password", PASSWORD)],
                &Jar::default(),
                &browser_headers,
            )
            .await;
        assert_error(response, 401, "invalid_credentials").await;
    }
    let scripted = app.post("/api/auth/logout", &[], &Jar::default()).await;
    assert_eq!(scripted.status(), StatusCode::OK);
}

// ---- headers (ASVS V14.4) --------------------------------------------------------------

/// ASVS V14.4.3, V14.4.4, V14.4.5, V14.4.6, V14.4.7: every page carries the protective headers.
#[tokio::test]
async fn v14_4_every_page_has_a_csp_with_nonce_nosniff_no_framing_referrer_policy_and_hsts() {
    let app = spawn_app().await;
    // The pages that need a login, as their owner sees them (without one, they redirect).
    let owner = app.register("headers").await;
    let visitor = Jar::default();
    for (path, jar) in [
        ("/", &visitor),
        ("/login", &visitor),
        ("/register", &visitor),
        ("/profile", &owner),
        ("/sessions", &owner),
        ("/no-such-page", &visitor),
    ] {
        let response = app.get(path, jar).await;
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .unwrap_or_else(|| panic!("{path}: no {name}"))
                .to_str()
                .unwrap()
                .to_owned()
        };
        let policy = header("content-security-policy");
        assert!(policy.contains("script-src 'nonce-"), "{path}: {policy}");
        assert!(
            policy.contains("frame-ancestors 'none'"),
            "{path}: {policy}"
        );
        assert!(!policy.contains("unsafe-inline"), "{path}: {policy}");
        assert_eq!(header("x-content-type-options"), "nosniff");
        assert_eq!(header("referrer-policy"), "same-origin");
        assert!(header("strict-transport-security").starts_with("max-age="));
    }
}

/// ASVS V14.4.3: the script nonce is new in every response, and it is the one on the scripts.
#[tokio::test]
async fn v14_4_3_the_csp_nonce_differs_per_response_and_matches_the_page_scripts() {
    let app = spawn_app().await;
    let mut nonces = Vec::new();
    for _ in 0..3 {
        let response = app.get("/login", &Jar::default()).await;
        let policy = response.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_owned();
        let nonce = policy
            .split("'nonce-")
            .nth(1)
            .and_then(|rest| rest.split('\'').next())
            .unwrap()
            .to_owned();
        let page = response.text().await.unwrap();
        assert!(
            page.contains(&format!("nonce=\"{nonce}\"")),
            "scripts carry the nonce"
        );
        nonces.push(nonce);
    }
    nonces.sort();
    nonces.dedup();
    assert_eq!(nonces.len(), 3, "a nonce was reused");
}

/// ASVS V14.4.5: HSTS is only sent when the cookies are `Secure`, that is over HTTPS.
#[tokio::test]
async fn v14_4_5_no_hsts_when_cookie_secure_is_false() {
    let app = spawn_app_with(&[("COOKIE_SECURE", "false")]).await;
    let response = app.get("/", &Jar::default()).await;
    assert!(response
        .headers()
        .get("strict-transport-security")
        .is_none());
}

/// ASVS V8.1.1: no authentication answer may be cached, errors included.
#[tokio::test]
async fn v8_1_1_every_api_answer_is_no_store_even_a_refused_one() {
    let app = spawn_app().await;
    let refused = app
        .post_with(
            "/api/auth/logout",
            &[],
            &Jar::default(),
            &[("origin", "http://evil.example")],
        )
        .await;
    let me = app.get("/api/auth/me", &Jar::default()).await;
    for response in [refused, me] {
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    }
}
