//! Operating the service: the audit trail and what its owner sees of it, disabled accounts.

mod disable;
mod events;

use crate::support::{mail::mails_where, Jar, TestApp};
use reqwest::StatusCode;

/// Asks for a password reset link for `email` and returns its token, from the mail.
pub async fn reset_token(app: &TestApp, email: &str) -> String {
    let form = [("email", email)];
    let asked = app
        .post("/api/auth/request_password_reset", &form, &Jar::default())
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let mail = &mails_where(app, email, 1, |m| m.link_to("/reset").is_some()).await[0];
    let link = mail.link_to("/reset").expect("a link to /reset");
    link.split_once("token=").expect("a token").1.to_owned()
}
