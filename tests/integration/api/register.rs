//! `register`: the account and its first session, each invalid field, taken names.

use super::*;

// ---- register -------------------------------------------------------------------------

#[tokio::test]
async fn register_returns_the_user_json_and_logs_the_new_account_in() {
    let app = spawn_app().await;
    let response = app
        .try_register("Ada@Example.org", "ada", " Ada Lovelace ")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mut jar = Jar::default();
    jar.absorb(&response);
    let body: Value = response.json().await.unwrap();
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys.len(), 6, "{body}");
    for key in [
        "id",
        "email",
        "username",
        "full_name",
        "email_verified",
        "created_at",
    ] {
        assert!(body.get(key).is_some(), "user JSON lacks {key}");
    }
    assert_eq!(body["email"], "Ada@Example.org");
    assert_eq!(body["full_name"], "Ada Lovelace");
    assert_eq!(
        body["email_verified"], false,
        "nobody has opened the link yet"
    );
    assert!(time::OffsetDateTime::parse(
        body["created_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339
    )
    .is_ok());
    // Logged in: both cookies set, and /me answers with the same user.
    let me: Value = app.get("/api/auth/me", &jar).await.json().await.unwrap();
    assert_eq!(me, body);
    // Tokens live in cookies only, never in a JSON body.
    for token in [
        jar.get(support::ACCESS).unwrap(),
        jar.get(support::REFRESH).unwrap(),
    ] {
        assert!(!body.to_string().contains(token));
    }
}

#[tokio::test]
async fn register_sets_both_cookies_with_the_contract_attributes() {
    let app = spawn_app().await;
    let response = app.try_register("c@example.org", "cookie", "C").await;
    let access = set_cookie_line(&response, support::ACCESS);
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Path=/",
        "Max-Age=900",
    ] {
        assert!(
            access.split("; ").any(|a| a == attribute),
            "{access} lacks {attribute}"
        );
    }
    let refresh = set_cookie_line(&response, support::REFRESH);
    for attribute in [
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/auth",
        "Max-Age=604800",
    ] {
        assert!(
            refresh.split("; ").any(|a| a == attribute),
            "{refresh} lacks {attribute}"
        );
    }
}

#[tokio::test]
async fn cookies_leave_out_secure_only_when_cookie_secure_is_false() {
    let app = spawn_app_with(&[("COOKIE_SECURE", "false")]).await;
    let response = app.try_register("s@example.org", "insecure", "S").await;
    for line in set_cookies(&response) {
        assert!(!line.contains("Secure"), "{line}");
    }
}

#[tokio::test]
async fn register_rejects_each_invalid_field_with_400_naming_it() {
    let app = spawn_app().await;
    let valid = [
        ("email", "v@example.org"),
        ("username", "valid"),
        ("full_name", "V"),
        ("password", PASSWORD),
    ];
    let cases = [
        ("email", "not-an-email"),
        ("email", ""),
        ("username", "no"),
        ("username", "bad name!"),
        ("full_name", "   "),
        ("password", "short"),
    ];
    for (field, value) in cases {
        let form: Vec<(&str, &str)> = valid
            .iter()
            .map(|&(k, v)| if k == field { (k, value) } else { (k, v) })
            .collect();
        let response = app.post("/api/auth/register", &form, &Jar::default()).await;
        assert!(set_cookies(&response).is_empty(), "no cookies on failure");
        let body = assert_error(response, 400, "invalid_input").await;
        assert_eq!(body["field"], field, "{field}={value:?}");
    }
}

#[tokio::test]
async fn register_with_a_missing_field_is_400_invalid_input_not_500() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/auth/register",
            &[
                ("email", "m@example.org"),
                ("username", "missing"),
                ("full_name", "M"),
            ],
            &Jar::default(),
        )
        .await;
    let body = assert_error(response, 400, "invalid_input").await;
    assert_eq!(body["field"], "password");
}

#[tokio::test]
async fn a_malformed_body_is_400_invalid_input_not_500() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/auth/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("login[=%%&password=%ZZ[[")
        .send()
        .await
        .unwrap();
    assert_error(response, 400, "invalid_input").await;
}

#[tokio::test]
async fn a_body_over_16_kib_is_413() {
    let app = spawn_app().await;
    let huge = "x".repeat(17 * 1024);
    let response = app
        .post(
            "/api/auth/login",
            &[("login", huge.as_str()), ("password", "p")],
            &Jar::default(),
        )
        .await;
    let body = assert_error(response, 413, "invalid_input").await;
    assert_eq!(body["field"], "body");
}

#[tokio::test]
async fn register_with_a_taken_email_or_username_is_409_whatever_the_case() {
    let app = spawn_app().await;
    app.register("taken").await;
    let email_again = app.try_register("TAKEN@example.org", "other", "T").await;
    assert_eq!(
        assert_error(email_again, 409, "conflict").await["field"],
        "email"
    );
    let name_again = app.try_register("new@example.org", "Taken", "T").await;
    assert_eq!(
        assert_error(name_again, 409, "conflict").await["field"],
        "username"
    );
}

#[tokio::test]
async fn concurrent_registrations_with_one_email_give_one_200_and_409s_never_500() {
    let app = spawn_app().await;
    // Each from an address of its own: one address may hold only a small share of the hashing
    // queue, and this test is about the unique email, not that share.
    let attempts = (0..8).map(|i| {
        let username = format!("racer{i}");
        let visitor = app.visitor_from(10 + i);
        async move {
            visitor
                .try_register("race@example.org", &username, "R")
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = futures::future::join_all(attempts).await;
    statuses.sort();
    assert_eq!(statuses, [200, 409, 409, 409, 409, 409, 409, 409]);
}
