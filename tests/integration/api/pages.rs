//! What outlives a request and what a browser fetches: persistence across restarts, pages,
//! the client bundle, and the API document.

use super::*;

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
    let event = gatehouse::store::Event {
        user_id: "nobody".into(),
        kind: gatehouse::store::EventKind::SessionsEnded,
        at: now,
        actor: gatehouse::store::Actor::Operator,
        ip: None,
        device: None,
        session_id: None,
    };
    for polls in 0..400 {
        let ending = store.end_sessions("nobody", None, EndReason::LogoutAll, now, &event);
        let mut write = Box::pin(ending);
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
        .end_sessions("nobody", None, EndReason::LogoutAll, now, &event)
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
        ("/forgot", "name=\"email\""),
        ("/reset?link=expired", "has expired"),
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
    let document = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/API.md"));
    let mut served: Vec<String> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, method)| format!("`{method} {path}`"))
        .collect();
    assert!(served.len() >= 11, "{served:?}");
    // The plain routes beside them (`server::router`).
    served.push(format!("`GET {}`", gatehouse::auth::RESUME_PATH));
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
