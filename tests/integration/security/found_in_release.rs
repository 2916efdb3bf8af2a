//! What attacking the release build found (issue 10), each kept as a test.

use super::*;

// ---- found by attacking the release build (issue 10) ------------------------------------

/// Issue 10 item 7: an ended session's access tokens stay refused for their whole lifetime,
/// whatever the setting when they come back: logged out under `1h`, restarted with `5s`, the
/// old token (an hour-long one) is refused, not honoured because the revocation set now
/// remembers ends for only five seconds.
#[tokio::test]
async fn an_ended_sessions_access_token_stays_refused_after_a_restart_with_a_shorter_lifetime() {
    let app = spawn_app_with(&[("ACCESS_TOKEN_EXPIRY", "1h")]).await;
    let jar = app.register("horizon").await;
    let logout = app.post("/api/auth/logout", &[], &jar).await;
    assert_eq!(logout.status(), StatusCode::OK);
    // Back more than five seconds after the logout: the start-up load of recently ended
    // sessions, reaching back one (new) lifetime, no longer includes it.
    tokio::time::sleep(std::time::Duration::from_secs(6)).await;
    let app = app.restart(&[("ACCESS_TOKEN_EXPIRY", "5s")]).await;
    let me = app.get("/api/auth/me", &jar).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    let form = [("username", "renamed"), ("full_name", "Renamed")];
    let update = app.post("/api/auth/update_profile", &form, &jar).await;
    assert_eq!(update.status(), StatusCode::UNAUTHORIZED);
}

/// Issue 10 item 8: behind a trusted proxy, client hops written with a port or in brackets
/// are the clients, each with its own budget (before, they were not understood and every
/// client shared the proxy's budget).
#[tokio::test]
async fn behind_a_trusted_proxy_forwarded_hops_with_ports_are_separate_clients() {
    let app = spawn_app_with(&[
        ("IP_ATTEMPTS_PER_MINUTE", "2"),
        ("TRUSTED_PROXIES", "127.0.0.1"),
    ])
    .await;
    let attempt = |client: &'static str| {
        let app = &app;
        async move {
            let form = [("login", "someone"), ("password", "wrong password")];
            app.post_with(
                "/api/auth/login",
                &form,
                &Jar::default(),
                &[("x-forwarded-for", client)],
            )
            .await
            .status()
        }
    };
    for _ in 0..2 {
        assert_eq!(attempt("203.0.113.9:5555").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(
        attempt("203.0.113.9:6666").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        attempt("[2001:db8::1]:443").await,
        StatusCode::UNAUTHORIZED,
        "another client behind the same proxy has its own budget"
    );
}

/// Issue 10 item 9: pages rendered for a logged-in person are never cached.
#[tokio::test]
async fn pages_rendered_for_a_logged_in_person_are_no_store() {
    let app = spawn_app().await;
    let jar = app.register("private").await;
    for page in ["/profile", "/sessions", "/"] {
        let response = app.get(page, &jar).await;
        assert_eq!(response.status(), StatusCode::OK, "{page}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "no-store",
            "{page}"
        );
    }
}

/// Issue 10 item 10: the SQLite database and its `-wal` and `-shm` files are readable by their
/// owner alone: they hold password hashes, emails and addresses.
#[tokio::test]
async fn the_sqlite_files_are_readable_by_their_owner_alone() {
    use std::os::unix::fs::PermissionsExt;
    if support::on_postgres() {
        return; // no files of ours
    }
    let app = spawn_app().await;
    app.register("filemode").await;
    for name in ["gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"] {
        let path = app.dir.path().join(name);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{name} has mode {mode:o}");
    }
}

/// Issue 10 item 12b: the same host under another scheme is another origin: an `https` page
/// cannot post to this `http` site.
#[tokio::test]
async fn a_post_from_the_same_host_under_another_scheme_is_403() {
    let app = spawn_app().await;
    let jar = app.register("schemes").await;
    let other_scheme = app.base.replacen("http://", "https://", 1);
    let response = app
        .post_with("/api/auth/logout", &[], &jar, &[("origin", &other_scheme)])
        .await;
    assert_error(response, 403, "forbidden").await;
    let same = app
        .post_with("/api/auth/logout", &[], &jar, &[("origin", &app.base)])
        .await;
    assert_eq!(same.status(), StatusCode::OK);
}

/// Issue 10 item 12c: cookies carry the `__Host-` and `__Secure-` prefixes. A token under an
/// unprefixed name that was issued after the prefixes took effect was planted there (by a
/// sibling subdomain, say): it is refused, so nobody is switched into someone else's account.
#[tokio::test]
async fn a_token_planted_under_an_unprefixed_name_is_refused() {
    let app = spawn_app().await;
    let mallory = app.register("mallory").await;
    let mut planted = Jar::default();
    planted.0.insert(
        "access_token".into(),
        mallory.get(support::ACCESS).unwrap().into(),
    );
    planted.0.insert(
        "refresh_token".into(),
        mallory.get(support::REFRESH).unwrap().into(),
    );
    assert_error(
        app.get("/api/auth/me", &planted).await,
        401,
        "unauthenticated",
    )
    .await;
    let refresh = app.post("/api/auth/refresh", &[], &planted).await;
    assert_error(refresh, 401, "unauthenticated").await;
}

/// Issue 10 item 12c: a browser from before the upgrade keeps its session: tokens issued
/// before the prefixes took effect still work under their old names, and the next refresh
/// moves them to the prefixed ones.
#[tokio::test]
async fn tokens_from_before_the_prefixes_still_work_under_their_old_names() {
    let app = spawn_app().await;
    let jar = app.register("upgrader").await;
    // As if the upgrade had come after these tokens were issued.
    let db = support::inspect(&app).await;
    let later = time::OffsetDateTime::now_utc().unix_timestamp() + 60;
    sqlx::query(&format!(
        "UPDATE upgrades SET at = {later} WHERE name = 'cookie_prefixes'"
    ))
    .execute(&db)
    .await
    .unwrap();
    let app = app.restart(&[]).await;
    let mut old = Jar::default();
    old.0.insert(
        "access_token".into(),
        jar.get(support::ACCESS).unwrap().into(),
    );
    old.0.insert(
        "refresh_token".into(),
        jar.get(support::REFRESH).unwrap().into(),
    );
    assert_eq!(app.get("/api/auth/me", &old).await.status(), StatusCode::OK);
    let refreshed = app.post("/api/auth/refresh", &[], &old).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let lines = support::set_cookies(&refreshed);
    assert!(
        lines.iter().any(|l| l.starts_with("__Host-access_token=")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("__Secure-refresh_token=")),
        "{lines:?}"
    );
}

/// Issue 10 item 12d: a login page opened from a link carrying an error (`?__err=`, how a form
/// posted without JavaScript comes back) never shows the link's text.
#[tokio::test]
async fn the_login_page_never_shows_text_from_its_url() {
    use base64::{engine::general_purpose::URL_SAFE, Engine};
    let app = spawn_app().await;
    let forged =
        r#"{"code":"invalid_credentials","message":"Account locked: call +1 555 0100 now"}"#;
    let url = format!(
        "/login?__path=/api/auth/login&__err={}",
        URL_SAFE.encode(forged)
    );
    let page = app.get(&url, &Jar::default()).await.text().await.unwrap();
    assert!(!page.contains("555 0100"), "the URL's text was shown");
    assert!(
        page.contains("That login and password do not match an account."),
        "our own message for the code is shown instead"
    );
}

/// Issue 10 item 12e: right after a password change, a copy of this session's rotated refresh
/// token gets nothing, even within the grace window (before, it still drew a fresh access
/// token: a thief holding it kept a way in after the owner changed the password).
#[tokio::test]
async fn a_rotated_refresh_token_gets_nothing_in_the_grace_window_after_a_password_change() {
    let app = spawn_app_with(&[("REFRESH_REUSE_GRACE", "60s")]).await;
    let stolen = app.register("changed").await;
    let refreshed = app.post("/api/auth/refresh", &[], &stolen).await;
    assert_eq!(refreshed.status(), StatusCode::OK);
    let mut owner = stolen.clone();
    owner.absorb(&refreshed);
    let form = [
        ("current_password", PASSWORD),
        ("new_password", "a fresh passphrase for me 5"),
    ];
    let changed = app.post("/api/auth/change_password", &form, &owner).await;
    assert_eq!(changed.status(), StatusCode::OK);
    let thief = app.post("/api/auth/refresh", &[], &stolen).await;
    assert_eq!(thief.status(), StatusCode::UNAUTHORIZED);
    assert!(
        support::set_cookies(&thief)
            .iter()
            .all(|line| line.contains("Max-Age=0")),
        "no token handed out"
    );
}
