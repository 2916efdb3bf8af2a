//! The audit trail: one event per change, written in the change's own transaction, shown to
//! the account's owner on `/api/auth/activity`, pruned after `AUDIT_RETENTION`.

use crate::support::{
    assert_error, log, open_store, spawn_app, spawn_app_with, Jar, TestApp, PASSWORD,
};
use gatehouse::store::{Actor, Event, EventKind, EventRecord, UserKey};
use reqwest::StatusCode;
use std::time::Duration;

/// The account's events, oldest first.
async fn events_of(app: &TestApp, name: &str) -> Vec<EventRecord> {
    let store = open_store(app).await;
    let user = store
        .find_user_by(UserKey::Username(name))
        .await
        .unwrap()
        .expect("the account");
    let mut events = store.events_of(&user.id, 500).await.unwrap();
    events.reverse();
    events
}

fn kinds(events: &[EventRecord]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// Waits for the events written after an answer (a failed login, a lock) to be there.
async fn settle(app: &TestApp, name: &str, kind: &str, count: usize) -> Vec<EventRecord> {
    let mut events = Vec::new();
    for _ in 0..200 {
        events = events_of(app, name).await;
        if kinds(&events).iter().filter(|k| **k == kind).count() >= count {
            return events;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{count} × {kind} not written: {:?}", kinds(&events));
}

#[tokio::test]
async fn each_change_to_an_account_writes_one_event_with_its_device_and_address() {
    let app = spawn_app().await;
    let first = app.register("ada").await;
    let wrong = app
        .visitor_from(41)
        .try_login("ada", "not the password at all")
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    settle(&app, "ada", "login_failed", 1).await;
    let second = app.visitor_from(42).login("ada").await;
    let changed = app
        .post(
            "/api/auth/change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another fine passphrase"),
            ],
            &second,
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    // `first` ended with the change; `second` logs out.
    assert_eq!(
        app.post("/api/auth/logout", &[], &second).await.status(),
        200
    );

    let events = events_of(&app, "ada").await;
    assert_eq!(
        kinds(&events),
        [
            "registered",
            "login_failed",
            "logged_in",
            "password_changed",
            "logged_out"
        ]
    );
    let failed = &events[1];
    assert_eq!(failed.actor, "stranger");
    assert_eq!(failed.ip.as_deref(), Some("127.0.0.41"));
    let logged_in = &events[2];
    assert_eq!(
        (logged_in.actor.as_str(), logged_in.ip.as_deref()),
        ("owner", Some("127.0.0.42"))
    );
    assert!(logged_in.session_id.is_some(), "the session it started");
    assert_eq!(
        events[4].session_id, logged_in.session_id,
        "the same session logged out"
    );
    drop(first);
    log::assert_no_internal_errors();
}

#[tokio::test]
async fn a_failed_login_with_a_name_of_no_account_writes_nothing() {
    let app = spawn_app().await;
    app.register("bea").await;
    let before = events_of(&app, "bea").await.len();
    assert_eq!(
        app.try_login("nobody-here", "not the password")
            .await
            .status(),
        401
    );
    // A failed login of `bea` afterwards is written: the one before it would be there first.
    app.try_login("bea", "not the password").await;
    let events = settle(&app, "bea", "login_failed", 1).await;
    assert_eq!(events.len(), before + 1);
    let store = open_store(&app).await;
    assert!(store.events_of("nobody-here", 10).await.unwrap().is_empty());
}

/// Wrong passwords from many addresses at once: an event for each one that was checked (the
/// budget's), one lock, and nothing for the refused; no 500 on the way.
#[tokio::test]
async fn wrong_passwords_sent_all_at_once_write_one_event_per_checked_guess_and_one_lock() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "4")]).await;
    app.register("cyd").await;
    let guesses = (0..16u8).map(|n| {
        let visitor = app.visitor_from(140 + n);
        async move {
            let form = [("login", "cyd"), ("password", "a wrong guess, surely")];
            let answer = visitor
                .post("/api/auth/login", &form, &Jar::default())
                .await;
            answer.status().as_u16()
        }
    });
    let mut statuses = futures::future::join_all(guesses).await;
    // Guesses the hashing queue turned away were refunded: the rest of the budget one by one.
    while statuses.iter().filter(|s| **s == 401).count() < 4 {
        statuses.push(
            app.try_login("cyd", "a wrong guess, surely")
                .await
                .status()
                .as_u16(),
        );
        assert!(statuses.len() < 30, "{statuses:?}");
    }
    settle(&app, "cyd", "locked", 1).await;
    settle(&app, "cyd", "login_failed", 4).await;
    // Anything more still on its way would show by now.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let events = events_of(&app, "cyd").await;
    let count = |kind| kinds(&events).iter().filter(|k| **k == kind).count();
    assert_eq!(
        count("login_failed"),
        4,
        "{:?} {statuses:?}",
        kinds(&events)
    );
    assert_eq!(count("locked"), 1, "{:?}", kinds(&events));
    log::assert_no_internal_errors();
}

/// One reset link used from eight addresses at once: one reset happened, so one event.
#[tokio::test]
async fn a_reset_link_used_many_times_at_once_writes_one_password_reset_event() {
    let app = spawn_app().await;
    app.register("dot").await;
    let token = super::reset_token(&app, "dot@example.org").await;
    let attempts = (0..8u8).map(|n| {
        let visitor = app.visitor_from(60 + n);
        let token = token.clone();
        async move {
            let form = [
                ("token", token.as_str()),
                ("new_password", "a brand new passphrase"),
            ];
            visitor
                .post("/api/auth/reset_password", &form, &Jar::default())
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    let events = events_of(&app, "dot").await;
    let resets = kinds(&events)
        .iter()
        .filter(|k| **k == "password_reset")
        .count();
    assert_eq!(resets, 1, "{:?}", kinds(&events));
    log::assert_no_internal_errors();
}

#[tokio::test]
async fn the_owner_sees_their_own_activity_newest_first_and_nobody_elses() {
    let app = spawn_app().await;
    let eve = app.register("eve").await;
    app.register("fay").await;
    app.visitor_from(77)
        .try_login("eve", "wrong, wrong, wrong")
        .await;
    settle(&app, "eve", "login_failed", 1).await;
    app.try_login("fay", "wrong for fay too").await;
    settle(&app, "fay", "login_failed", 1).await;

    let answer = app.get("/api/auth/activity", &eve).await;
    assert_eq!(answer.status(), StatusCode::OK);
    let entries: serde_json::Value = answer.json().await.unwrap();
    let entries = entries.as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["login_failed", "registered"]);
    assert_eq!(entries[0]["what"], "Wrong password entered at login");
    assert_eq!(entries[0]["ip"], "127.0.0.77");
    assert_eq!(entries[0]["notable"], true);
    assert_error(
        app.get("/api/auth/activity", &Jar::default()).await,
        401,
        "unauthenticated",
    )
    .await;
}

#[tokio::test]
async fn events_older_than_the_retention_are_pruned_and_newer_ones_kept() {
    let app = spawn_app().await;
    app.register("gil").await;
    let store = open_store(&app).await;
    let user = store
        .find_user_by(UserKey::Username("gil"))
        .await
        .unwrap()
        .unwrap();
    let now = time::OffsetDateTime::now_utc();
    let old = Event {
        user_id: user.id.clone(),
        kind: EventKind::LoggedIn,
        at: now - Duration::from_secs(91 * 86_400),
        actor: Actor::Owner,
        ip: None,
        device: None,
        session_id: None,
    };
    store.record_event(&old).await.unwrap();
    assert_eq!(events_of(&app, "gil").await.len(), 2);
    let retention = Duration::from_secs(90 * 86_400);
    let (_, _, pruned) = store
        .prune(
            now,
            now - Duration::from_secs(1),
            0,
            (now - retention).unix_timestamp(),
        )
        .await
        .unwrap();
    assert_eq!(pruned, 1);
    assert_eq!(kinds(&events_of(&app, "gil").await), ["registered"]);
}

/// Found in review: a dead session's cookie posted to `/logout` again and again wrote a
/// `logged_out` event each time, pushing what mattered off the owner's activity page.
#[tokio::test]
async fn logging_out_an_ended_session_again_writes_nothing() {
    let app = spawn_app().await;
    let jar = app.register("lou").await;
    assert_eq!(app.post("/api/auth/logout", &[], &jar).await.status(), 200);
    let attacker = app.visitor_from(62);
    for _ in 0..20 {
        attacker.post("/api/auth/logout", &[], &jar).await;
    }
    let events = events_of(&app, "lou").await;
    assert_eq!(kinds(&events), ["registered", "logged_out"]);
}
