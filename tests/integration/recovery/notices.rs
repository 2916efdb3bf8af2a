//! Security notices: one mail for each thing the owner of an account should hear of.

use crate::support::{mail::mails_to, spawn_app, PASSWORD};
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
