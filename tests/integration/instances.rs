//! Two instances of the app on one PostgreSQL database, as behind a load balancer without sticky
//! sessions: a session works on both, an ending on one is refused on the other within a second
//! (LISTEN/NOTIFY, no query per request), and the grace window and reuse detection hold when
//! the requests of one session land on different instances.
//!
//! These need `GATEHOUSE_TEST_POSTGRES` (SQLite is one process's database), so they are ignored
//! by a plain `cargo test`; `scripts/test` starts PostgreSQL and runs them with
//! `--include-ignored`.

use crate::support;

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;
use support::{assert_error, error_code, within, Jar, TestApp};

use support::two_instances;

async fn refreshed_on(app: &TestApp, jar: &Jar) -> Jar {
    let response = app.post("/api/auth/refresh", &[], jar).await;
    assert_eq!(response.status(), StatusCode::OK, "refresh on {}", app.base);
    let mut next = jar.clone();
    next.absorb(&response);
    next
}

/// Waits until `app` refuses the jar's access token as revoked; returns how long that took.
async fn refused_within_a_second(app: &TestApp, jar: &Jar) -> Duration {
    within(
        Duration::from_secs(1),
        "token_revoked on the other instance",
        || async {
            error_code(app.get("/api/auth/me", jar).await)
                .await
                .as_deref()
                == Some("token_revoked")
        },
    )
    .await
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_session_started_on_one_instance_works_and_refreshes_on_the_other() {
    let (a, b) = two_instances(&[]).await;
    let jar = a.register("roamer").await;
    let me: Value = b.get("/api/auth/me", &jar).await.json().await.unwrap();
    assert_eq!(me["username"], "roamer");
    let jar = refreshed_on(&b, &jar).await;
    assert_eq!(a.get("/api/auth/me", &jar).await.status(), StatusCode::OK);
    let jar = refreshed_on(&a, &jar).await;
    assert_eq!(b.get("/api/auth/me", &jar).await.status(), StatusCode::OK);
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_logout_on_one_instance_is_refused_on_the_other_within_a_second() {
    let (a, b) = two_instances(&[]).await;
    let jar = a.register("leaver").await;
    assert_eq!(b.get("/api/auth/me", &jar).await.status(), StatusCode::OK);
    let logout = a.post("/api/auth/logout", &[], &jar).await;
    assert_eq!(logout.status(), StatusCode::OK);
    refused_within_a_second(&b, &jar).await;
}

/// A full page load on B after a logout on A (the access token still within its lifetime):
/// B sends it through resume, which ends on the login page, saying why; while tabs of a live
/// session resuming on both instances at once come back to their page in one chain.
#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_page_load_on_one_instance_after_a_logout_on_the_other_goes_to_login_saying_why() {
    use reqwest::header::LOCATION;
    let (a, b) = two_instances(&[]).await;
    let going = a.register("pageleaver").await;
    let staying = a.login("pageleaver").await;
    let mut staying_without_access = staying.clone();
    staying_without_access.0.remove(support::ACCESS);
    let resumed = join_all(
        [&a, &b, &a, &b]
            .map(|app| app.get("/api/auth/resume?next=/profile", &staying_without_access)),
    )
    .await;
    for answer in &resumed {
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(answer.headers()[LOCATION], "/profile");
    }

    let logout = a.post("/api/auth/logout", &[], &going).await;
    assert_eq!(logout.status(), StatusCode::OK);
    refused_within_a_second(&b, &going).await;
    let detour = b.get("/profile", &going).await;
    assert_eq!(detour.status(), StatusCode::SEE_OTHER);
    let resume = detour.headers()[LOCATION].to_str().unwrap().to_owned();
    let answer = b.get(&resume, &going).await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        answer.headers()[LOCATION],
        "/login?next=/profile&signed_out=elsewhere"
    );
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn ending_sessions_on_one_instance_reaches_the_other_for_every_kind_of_end() {
    let (a, b) = two_instances(&[]).await;
    // Log out everywhere, from A: B refuses the other session.
    let first = a.register("ender").await;
    let second = b.login("ender").await;
    let all = a.post("/api/auth/logout_all", &[], &first).await;
    assert_eq!(all.status(), StatusCode::OK);
    refused_within_a_second(&b, &second).await;

    // Deleting the account on B (its sessions go with it): A refuses the access token.
    let jar = b.register("deleted").await;
    assert_eq!(a.get("/api/auth/me", &jar).await.status(), StatusCode::OK);
    let deletion = b
        .post(
            "/api/auth/delete_account",
            &[("password", support::PASSWORD)],
            &jar,
        )
        .await;
    assert_eq!(deletion.status(), StatusCode::OK);
    refused_within_a_second(&a, &jar).await;
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_profile_change_on_one_instance_shows_on_the_other_within_a_second() {
    let (a, b) = two_instances(&[]).await;
    let jar = a.register("renamed").await;
    // B now holds the account in its cache.
    let me: Value = b.get("/api/auth/me", &jar).await.json().await.unwrap();
    assert_eq!(me["full_name"], "Test Person");
    let form = [("username", "renamed"), ("full_name", "New Name")];
    let update = a.post("/api/auth/update_profile", &form, &jar).await;
    assert_eq!(update.status(), StatusCode::OK);
    within(Duration::from_secs(1), "the new name on B", || async {
        let me: Value = b.get("/api/auth/me", &jar).await.json().await.unwrap();
        me["full_name"] == "New Name"
    })
    .await;
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn twelve_simultaneous_refreshes_across_two_instances_all_succeed_with_one_successor() {
    let (a, b) = two_instances(&[]).await;
    let jar = a.register("racer").await;
    let responses = join_all((0..12).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post("/api/auth/refresh", &[], &jar)
    }))
    .await;
    let mut successors = Vec::new();
    for response in &responses {
        assert_eq!(response.status(), StatusCode::OK);
        let mut next = jar.clone();
        next.absorb(response);
        successors.push(next.get(support::REFRESH).unwrap().to_owned());
    }
    successors.dedup();
    assert_eq!(successors.len(), 1, "one successor for all twelve");
    // The chain goes on from it, on either instance.
    let mut next = jar.clone();
    next.0
        .insert(support::REFRESH.into(), successors[0].clone());
    let next = refreshed_on(&b, &next).await;
    refreshed_on(&a, &next).await;
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn reuse_after_the_window_on_one_instance_ends_the_session_on_both() {
    let (a, b) = two_instances(&[("REFRESH_REUSE_GRACE", "1s")]).await;
    let stolen = a.register("victim").await;
    let current = refreshed_on(&a, &stolen).await;
    // Within the window, the other instance hands out the same successor.
    let repeat = b.post("/api/auth/refresh", &[], &stolen).await;
    assert_eq!(repeat.status(), StatusCode::OK);
    let mut again = stolen.clone();
    again.absorb(&repeat);
    assert_eq!(again.get(support::REFRESH), current.get(support::REFRESH));

    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_error(
        b.post("/api/auth/refresh", &[], &stolen).await,
        401,
        "token_reused",
    )
    .await;
    // The session is over everywhere: its newest refresh token on A, its access token on both.
    assert_error(
        a.post("/api/auth/refresh", &[], &current).await,
        401,
        "token_revoked",
    )
    .await;
    refused_within_a_second(&a, &current).await;
    refused_within_a_second(&b, &current).await;
}

/// A key rotated while two instances run (`gatehouse keys rotate` writes the same rows): both
/// sign with it and accept each other's tokens within a second; retiring the original key
/// refuses its tokens on both.
#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_signing_key_rotated_under_two_instances_is_used_and_accepted_by_both() {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let (a, b) = two_instances(&[]).await;
    let original = a.register("kira").await;
    let store = support::open_store(&a).await;
    let now = time::OffsetDateTime::now_utc();
    store.add_signing_key("k2test", now, false).await.unwrap();
    let kid_of = |jar: &support::Jar| {
        let token = jar.get(support::ACCESS).unwrap().to_owned();
        let header = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
        header["kid"].as_str().map(str::to_owned)
    };
    for (signer, checker) in [(&a, &b), (&b, &a)] {
        // It signs once every instance has had time to read it (5 s); one login a second, as
        // the address's attempt limit is 60 a minute.
        let mut jar = support::Jar::default();
        for second in 0.. {
            assert!(second < 9, "not signing with the new key after {second} s");
            jar = support::Jar::default();
            jar.absorb(&signer.try_login("kira", support::PASSWORD).await);
            if kid_of(&jar).as_deref() == Some("k2test") {
                break;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        assert_eq!(
            checker.get("/api/auth/me", &jar).await.status(),
            StatusCode::OK
        );
    }
    assert_eq!(
        b.get("/api/auth/me", &original).await.status(),
        StatusCode::OK
    );
    store.retire_signing_key("0", now).await.unwrap();
    for app in [&a, &b] {
        support::within(
            Duration::from_secs(1),
            "the original key's token refused",
            || async {
                app.get("/api/auth/me", &original).await.status() == StatusCode::UNAUTHORIZED
            },
        )
        .await;
    }
    support::log::assert_no_internal_errors();
}
