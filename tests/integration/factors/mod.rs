//! Second factors (issue 15): an authenticator app turned on from the profile, the second step
//! of every way into a session, recovery codes, step-up for sensitive changes, and codes in
//! flight at once. On SQLite and PostgreSQL (the suite runs twice).

mod doors;
mod passkeys;
mod step_up;
mod totp;

use crate::support::{assert_error, spawn_app, Jar, TestApp, PASSWORD};
use gatehouse::credentials::factors::Authenticator;
use reqwest::StatusCode;
use serde_json::Value;

/// The name of the cookie a second step is bound by.
pub const CHALLENGE: &str = "__Secure-challenge";

/// Now, in unix seconds.
pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// An account with an authenticator app on: its jar, the app (as the person's phone has it)
/// and its recovery codes.
pub struct Protected {
    pub jar: Jar,
    pub app: Authenticator,
    pub codes: Vec<String>,
}

/// Registers `name` and turns an authenticator app on, as its profile does.
pub async fn protected(app: &TestApp, name: &str) -> Protected {
    let jar = app.register(name).await;
    let (phone, codes) = turn_app_on(app, &jar, &format!("{name}@example.org")).await;
    Protected {
        jar,
        app: phone,
        codes,
    }
}

/// Turns an authenticator app on for the session of `jar` (of the account at `email`), as the
/// security page does: the app, as the phone has it, and the recovery codes.
pub async fn turn_app_on(app: &TestApp, jar: &Jar, email: &str) -> (Authenticator, Vec<String>) {
    let begun = app.post("/api/auth/totp_begin", &[], jar).await;
    assert_eq!(begun.status(), StatusCode::OK);
    let enrolment: Value = begun.json().await.unwrap();
    let secret = enrolment["secret"].as_str().unwrap();
    assert!(enrolment["qr_svg"].as_str().unwrap().contains("<svg"));
    assert!(enrolment["url"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let phone = Authenticator::from_text(secret, email).unwrap();
    let code = phone.code_at(unix_now());
    let confirmed = app
        .post("/api/auth/totp_confirm", &[("code", &code)], jar)
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let codes: Vec<String> = confirmed.json().await.unwrap();
    assert_eq!(codes.len(), 10);
    (phone, codes)
}

/// A login's first step with the right password: `mfa_required`, no token cookie, and the jar
/// holding the second step's cookie.
pub async fn first_step(app: &TestApp, name: &str) -> Jar {
    let answer = app.try_login(name, PASSWORD).await;
    let mut jar = Jar::default();
    jar.absorb(&answer);
    assert_no_session(&jar);
    assert!(
        jar.get(CHALLENGE).is_some(),
        "the second step is bound to this browser"
    );
    assert_error(answer, 401, "mfa_required").await;
    jar
}

/// No token cookie was handed out.
pub fn assert_no_session(jar: &Jar) {
    assert!(
        jar.get(crate::support::ACCESS).is_none() && jar.get(crate::support::REFRESH).is_none(),
        "no session without the second factor: {jar:?}"
    );
}

/// Completes the second step with `code`.
pub async fn second_step(app: &TestApp, jar: &Jar, code: &str) -> reqwest::Response {
    app.post("/api/auth/complete_login", &[("code", code)], jar)
        .await
}

/// The sessions the jar's access token sees.
pub async fn sessions(app: &TestApp, jar: &Jar) -> Vec<Value> {
    let answer = app.get("/api/auth/sessions", jar).await;
    assert_eq!(answer.status(), StatusCode::OK);
    answer.json().await.unwrap()
}

#[tokio::test]
async fn an_account_without_a_factor_logs_in_with_its_password_alone() {
    let app = spawn_app().await;
    app.register("plain").await;
    let jar = app.login("plain").await;
    let listed = sessions(&app, &jar).await;
    assert_eq!(listed[0]["method"], "password");
    assert_eq!(listed[0]["signed_in_with"], "Password");
}
