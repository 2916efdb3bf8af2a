//! Security notices: one mail for each thing the owner of an account should hear of.

use crate::support::{assert_error, log, mail::mails_to, spawn_app, spawn_app_with, Jar, PASSWORD};
use reqwest::StatusCode;

#[tokio::test]
async fn a_password_change_from_the_profile_mails_a_notice_with_a_way_back() {
    let app = spawn_app().await;
    let jar = app.register("noa").await;
    let change = app
        .post(
            "/api/auth/change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another fine passphrase"),
            ],
            &jar,
        )
        .await;
    assert_eq!(change.status(), StatusCode::OK);
    let mail = &mails_to(&app, "noa@example.org", 1).await[0];
    assert_eq!(mail.subject(), "Your Gatehouse password was changed");
    assert!(mail.raw.contains("If it was not you"), "{}", mail.raw);
    assert!(mail.link_to("/forgot").is_none(), "a bare link, no query");
    assert!(mail.raw.contains("/forgot"), "the way back: {}", mail.raw);
}

#[tokio::test]
async fn a_login_from_a_new_browser_mails_a_notice_and_one_from_a_known_browser_does_not() {
    let app = spawn_app().await;
    let registered = app.register("ora").await;
    let form = [("login", "ora"), ("password", PASSWORD)];
    // The browser that registered is known: no mail.
    let again = app.post("/api/auth/login", &form, &registered).await;
    assert_eq!(again.status(), StatusCode::OK);
    // Another browser, from another address.
    let stranger = app.visitor_from(70).try_login("ora", PASSWORD).await;
    assert_eq!(stranger.status(), StatusCode::OK);
    let mails = mails_to(&app, "ora@example.org", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let mails_now = mails_to(&app, "ora@example.org", 1).await;
    assert_eq!(mails_now.len(), 1, "one mail, for the new browser only");
    assert_eq!(
        mails[0].subject(),
        "A new sign-in to your Gatehouse account"
    );
    assert!(
        mails[0].raw.contains("127.0.0.70"),
        "from where: {}",
        mails[0].raw
    );
    assert!(
        mails[0].raw.contains("/sessions"),
        "the way to act: {}",
        mails[0].raw
    );
}

#[tokio::test]
async fn a_session_ended_for_a_reused_refresh_token_mails_its_owner() {
    let app = crate::support::spawn_app_with(&[("REFRESH_REUSE_GRACE", "0")]).await;
    let copied = app.register("pia").await;
    let first = app.post("/api/auth/refresh", &[], &copied).await;
    assert_eq!(first.status(), StatusCode::OK);
    let again = app.post("/api/auth/refresh", &[], &copied).await;
    crate::support::assert_error(again, 401, "token_reused").await;
    let mail = &mails_to(&app, "pia@example.org", 1).await[0];
    assert_eq!(
        mail.subject(),
        "A Gatehouse session was ended to protect your account"
    );
    assert!(mail.raw.contains("/sessions"), "{}", mail.raw);
}

#[tokio::test]
async fn wrong_passwords_from_many_addresses_at_once_lock_the_account_and_mail_its_owner_once() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    app.register("ora").await;
    let guesses = (0..12u8).map(|n| {
        let visitor = app.visitor_from(110 + n);
        async move {
            let form = [("login", "ora"), ("password", "certainly not the password")];
            visitor
                .post("/api/auth/login", &form, &Jar::default())
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(guesses).await;
    // Some of the burst may have been turned away by the hashing queue (429, refunded); the
    // rest of the budget goes one guess at a time.
    while statuses.iter().filter(|s| **s == 401).count() < 3 {
        let answer = app.try_login("ora", "certainly not the password").await;
        statuses.push(answer.status().as_u16());
        assert!(statuses.len() < 20, "{statuses:?}");
    }
    assert_error(app.try_login("ora", PASSWORD).await, 429, "rate_limited").await;
    let mail = &mails_to(&app, "ora@example.org", 1).await[0];
    assert_eq!(
        mail.subject(),
        "Your Gatehouse account was locked after wrong passwords"
    );
    assert!(mail.raw.contains("/forgot"), "the way out: {}", mail.raw);
    // More wrong passwords on the locked account send nothing more.
    app.try_login("ora", "still not the password").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        mails_to(&app, "ora@example.org", 1).await.len(),
        1,
        "one mail per lock"
    );
    // A name of no account is locked alike, and mails nobody.
    for _ in 0..4 {
        app.try_login("nobody-at-all", "not a password").await;
    }
    log::assert_no_server_errors();
}
