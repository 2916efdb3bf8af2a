//! Guessing passwords: the policy for new ones, the failure budgets with `Retry-After`, and
//! the sameness of every failed login (ASVS V2.1, V2.2, V11.1.4).

use super::*;

// ---- password policy (ASVS V2.1.7, V2.1.1) --------------------------------------------

/// ASVS V2.1.7: a common password is refused at registration, saying so.
#[tokio::test]
async fn v2_1_7_registering_with_a_common_password_is_400_on_password_saying_it_is_common() {
    let app = spawn_app().await;
    let mut form = support::registration("c@example.org", "commoner", "C");
    form[3].1 = "password123";
    let response = app.post("/api/auth/register", &form, &Jar::default()).await;
    let body = assert_error(response, 400, "invalid_input").await;
    assert_eq!(body["field"], "password");
    assert!(
        body["message"].as_str().unwrap().contains("common"),
        "{body}"
    );
}

/// ASVS V2.1.7: a password made of the account's own username or email is refused, saying so.
#[tokio::test]
async fn v2_1_7_a_password_containing_the_username_or_email_local_part_is_refused() {
    let app = spawn_app().await;
    for (password, names) in [
        ("grace.hopper-forever-1906", "username"),
        ("admiral-amazing-cobol-99", "email"),
    ] {
        let mut form = support::registration("amazing@example.org", "grace.hopper", "G");
        form[3].1 = password;
        let response = app.post("/api/auth/register", &form, &Jar::default()).await;
        let body = assert_error(response, 400, "invalid_input").await;
        assert_eq!(body["field"], "password");
        assert!(body["message"].as_str().unwrap().contains(names), "{body}");
    }
}

// ---- rate limits (ASVS V2.2.1, V11.1.4) -----------------------------------------------

fn retry_after_seconds(response: &reqwest::Response) -> u64 {
    response.headers()[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// ASVS V2.2.1: after LOGIN_MAX_FAILURES failed logins an account answers 429, even to the
/// right password, by its email and by its username alike, until the 15-minute window passes.
#[tokio::test]
async fn v2_2_1_an_account_is_rate_limited_after_its_failures_with_retry_after() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    app.register("guarded").await;
    for login in ["guarded", "GUARDED@example.org", "guarded"] {
        let response = app.try_login(login, "wrong password").await;
        assert_error(response, 401, "invalid_credentials").await;
    }
    let limited = app.try_login("guarded@example.org", PASSWORD).await;
    let wait = retry_after_seconds(&limited);
    assert!((800..=900).contains(&wait), "Retry-After {wait}");
    assert_error(limited, 429, "rate_limited").await;
    // Another account from the same address is unaffected.
    app.register("neighbour").await;
    let other = app.try_login("neighbour", PASSWORD).await;
    assert_eq!(other.status(), StatusCode::OK);
}

/// ASVS V2.2.1, V2.2.2 (no enumeration through the limit): a name of no account is limited
/// exactly like a real one.
#[tokio::test]
async fn v2_2_1_unknown_accounts_are_limited_the_same_way() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "2")]).await;
    for _ in 0..2 {
        let response = app.try_login("nobody-at-all", "wrong password").await;
        assert_error(response, 401, "invalid_credentials").await;
    }
    let limited = app.try_login("nobody-at-all", "wrong password").await;
    assert!(retry_after_seconds(&limited) > 0);
    assert_error(limited, 429, "rate_limited").await;
}

/// ASVS V2.2.1: a right password costs nothing from the budget, but does not wipe the failures
/// before it either: the budget is a hard cap on wrong passwords per window, however they are
/// interleaved with the owner's logins. (Before, a success reset the count, so an attacker
/// got a fresh budget every time the owner logged in.)
#[tokio::test]
async fn v2_2_1_a_right_password_is_refunded_but_earlier_failures_still_count() {
    let app = spawn_app_with(&[("LOGIN_MAX_FAILURES", "3")]).await;
    app.register("forgetful").await;
    for _ in 0..2 {
        let response = app.try_login("forgetful", "wrong password").await;
        assert_error(response, 401, "invalid_credentials").await;
    }
    for _ in 0..4 {
        let ok = app.try_login("forgetful", PASSWORD).await;
        assert_eq!(ok.status(), StatusCode::OK, "right passwords cost nothing");
    }
    let third = app.try_login("forgetful", "wrong password").await;
    assert_error(third, 401, "invalid_credentials").await;
    let limited = app.try_login("forgetful", PASSWORD).await;
    assert_error(limited, 429, "rate_limited").await;
}

/// ASVS V11.1.4: one address gets IP_ATTEMPTS_PER_MINUTE login or registration attempts, then
/// 429 with Retry-After; a forged X-Forwarded-For does not buy more.
#[tokio::test]
async fn v11_1_4_an_address_is_limited_per_minute_and_x_forwarded_for_is_not_believed() {
    let app = spawn_app_with(&[("IP_ATTEMPTS_PER_MINUTE", "4")]).await;
    for i in 0..4 {
        let forged = format!("203.0.113.{i}");
        let response = app
            .post_with(
                "/api/auth/login",
                &[("login", "someone"), ("password", "wrong password")],
                &Jar::default(),
                &[("x-forwarded-for", &forged)],
            )
            .await;
        assert_error(response, 401, "invalid_credentials").await;
    }
    let registration = support::registration("late@example.org", "late", "L");
    let limited = app
        .post_with(
            "/api/auth/register",
            &registration,
            &Jar::default(),
            &[("x-forwarded-for", "203.0.113.99")],
        )
        .await;
    let wait = retry_after_seconds(&limited);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    assert_eq!(limited.headers()[header::CACHE_CONTROL], "no-store");
    assert_error(limited, 429, "rate_limited").await;
    // Reading is not an attempt.
    let me = app.get("/api/auth/me", &Jar::default()).await;
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
}

/// ASVS V11.1.4: behind a proxy named in TRUSTED_PROXIES, each client it forwards has its
/// own budget.
#[tokio::test]
async fn v11_1_4_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget() {
    let app = spawn_app_with(&[
        ("IP_ATTEMPTS_PER_MINUTE", "2"),
        ("TRUSTED_PROXIES", "127.0.0.1, ::1"),
    ])
    .await;
    let app = &app;
    let attempt = |client: &'static str| async move {
        let form = [("login", "someone"), ("password", "wrong password")];
        let forwarded = [("x-forwarded-for", client)];
        app.post_with("/api/auth/login", &form, &Jar::default(), &forwarded)
            .await
    };
    for _ in 0..2 {
        assert_eq!(attempt("198.51.100.1").await.status(), 401);
    }
    assert_eq!(attempt("198.51.100.1").await.status(), 429);
    assert_eq!(attempt("198.51.100.2").await.status(), 401);
}

// ---- enumeration (ASVS V2.2.2 / V3.2.x, OWASP "account enumeration") ------------------

/// ASVS V2.2.2 (no user enumeration): a login for an account that does not exist costs the
/// same time as a wrong password for one that does, since both pay a full Argon2 verification.
/// Compared by medians of interleaved runs, with a wide tolerance: skipping the hash would make
/// the unknown case about 30 times faster, far outside it.
#[tokio::test]
async fn v2_2_2_an_unknown_account_costs_the_same_time_as_a_wrong_password() {
    let app = spawn_app_with(&[
        ("LOGIN_MAX_FAILURES", "1000"),
        ("IP_ATTEMPTS_PER_MINUTE", "1000"),
    ])
    .await;
    app.register("timed").await;
    let (mut known, mut unknown) = (Vec::new(), Vec::new());
    for round in 0..15 {
        for (login, samples) in [("timed", &mut known), ("untimed", &mut unknown)] {
            let started = std::time::Instant::now();
            let response = app.try_login(login, "wrong password").await;
            let elapsed = started.elapsed().as_secs_f64();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "round {round}");
            samples.push(elapsed);
        }
    }
    let median = |samples: &mut Vec<f64>| {
        samples.sort_by(f64::total_cmp);
        samples[samples.len() / 2]
    };
    let (known, unknown) = (median(&mut known), median(&mut unknown));
    let ratio = unknown / known;
    assert!(
        (0.5..=2.0).contains(&ratio),
        "median unknown {unknown:.4}s vs wrong password {known:.4}s (ratio {ratio:.2})"
    );
}

/// ASVS V2.2.2: the answers themselves are identical, byte for byte.
#[tokio::test]
async fn v2_2_2_an_unknown_account_and_a_wrong_password_get_the_same_answer() {
    let app = spawn_app().await;
    app.register("twin").await;
    let known = app.try_login("twin", "wrong password").await;
    let unknown = app.try_login("not-twin", "wrong password").await;
    assert_eq!(known.status(), unknown.status());
    assert_eq!(known.text().await.unwrap(), unknown.text().await.unwrap());
}
