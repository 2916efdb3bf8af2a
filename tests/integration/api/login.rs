//! `login`: by email or username, one answer for every failure, the plain-form path.

use super::*;

// ---- login ----------------------------------------------------------------------------

#[tokio::test]
async fn login_accepts_the_email_or_the_username_in_any_case() {
    let app = spawn_app().await;
    app.register("grace").await;
    for login in ["grace@example.org", "GRACE@EXAMPLE.ORG", "grace", "Grace"] {
        let response = app.try_login(login, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "login as {login}");
        let mut jar = Jar::default();
        jar.absorb(&response);
        assert!(jar.get(support::ACCESS).is_some() && jar.get(support::REFRESH).is_some());
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["username"], "grace");
        assert!(body.get("password_hash").is_none());
    }
}

#[tokio::test]
async fn login_answers_an_unknown_account_and_a_wrong_password_identically() {
    let app = spawn_app().await;
    app.register("known").await;
    let wrong = app.try_login("known", "wrong password").await;
    assert!(set_cookies(&wrong).is_empty());
    let wrong = assert_error(wrong, 401, "invalid_credentials").await;
    let unknown = app.try_login("nobody", "wrong password").await;
    let unknown = assert_error(unknown, 401, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
}

#[tokio::test]
async fn login_without_a_login_or_password_is_400_naming_the_field() {
    let app = spawn_app().await;
    let no_login = app
        .post(
            "/api/auth/login",
            &[("password", PASSWORD)],
            &Jar::default(),
        )
        .await;
    assert_eq!(
        assert_error(no_login, 400, "invalid_input").await["field"],
        "login"
    );
    let no_password = app
        .post("/api/auth/login", &[("login", "someone")], &Jar::default())
        .await;
    assert_eq!(
        assert_error(no_password, 400, "invalid_input").await["field"],
        "password"
    );
}

#[tokio::test]
async fn a_plain_form_login_without_javascript_redirects_to_the_next_page() {
    let app = spawn_app().await;
    app.register("nojs").await;
    let referer = app.url("/login?next=%2Fprofile%3Ftab%3D1");
    let response = app
        .post_with(
            "/api/auth/login",
            &[("login", "nojs"), ("password", PASSWORD)],
            &Jar::default(),
            &[
                ("accept", "text/html,application/xhtml+xml"),
                ("referer", &referer),
            ],
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], "/profile?tab=1");
    let names: Vec<String> = set_cookies(&response)
        .iter()
        .map(|line| line.split('=').next().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    for name in [support::ACCESS, support::REFRESH, support::DEVICE] {
        assert!(names.iter().any(|n| n == name), "{name} not set: {names:?}");
    }
}
