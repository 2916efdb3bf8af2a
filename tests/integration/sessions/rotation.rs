//! Sessions as records, the grace window under concurrency, and reuse detection.

use super::*;

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
    assert_eq!(newest["device"], "Firefox on Linux");
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
    assert_eq!(keys.len(), 10, "{keys:?}");
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
