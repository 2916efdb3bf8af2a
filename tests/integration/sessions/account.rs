//! The account endpoints, and the housekeeping that keeps the tables small.

use super::*;

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
async fn without_javascript_revoke_returns_to_the_page_and_logout_everywhere_goes_to_login_saying_so(
) {
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
    assert_eq!(
        response.headers()["location"],
        "/login?signed_out=everywhere"
    );
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
    let (sessions, _, _) = store
        .prune(now, now + Duration::from_secs(1), 0, 0)
        .await
        .unwrap();
    assert_eq!(sessions, 1, "the logged-out session");
    let live = refreshed(&app, &live).await;
    assert_eq!(sessions_of(&app, &live).await.len(), 1);

    // A week on, the live session has lapsed and its tokens have expired: all of it goes.
    let later = now + Duration::from_secs(8 * 86_400);
    let (sessions, _, _) = store.prune(later, later, 0, 0).await.unwrap();
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
