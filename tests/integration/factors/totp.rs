//! The authenticator app: turned on, asked for at login, a code good once, recovery codes good
//! once, wrong codes capped however many arrive at once, turned off again.

use super::*;
use crate::support::log;

#[tokio::test]
async fn with_an_app_on_login_asks_for_a_code_and_the_code_starts_the_session() {
    log::watch();
    let app = spawn_app().await;
    let account = protected(&app, "coded").await;
    let jar = first_step(&app, "coded").await;
    let options: Value = app
        .get("/api/auth/second_step", &jar)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(options, serde_json::json!({"totp": true, "passkey": false}));
    // The code that turned the app on is spent; the app's next one is good.
    let done = second_step(&app, &jar, &account.app.code_at(unix_now() + 30)).await;
    assert_eq!(done.status(), StatusCode::OK);
    let mut signed_in = jar.clone();
    signed_in.absorb(&done);
    assert!(
        signed_in.get(CHALLENGE).is_none(),
        "the second step is done with"
    );
    let listed = sessions(&app, &signed_in).await;
    let current = listed.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["method"], "password_totp");
    assert_eq!(current["signed_in_with"], "Password and authenticator code");
    // The step cannot be done twice: its cookie, kept by a copy of the jar, leads nowhere.
    let again = second_step(&app, &jar, &account.codes[0]).await;
    assert_error(again, 401, "token_expired").await;
    log::assert_no_server_errors();
}

#[tokio::test]
async fn a_code_is_accepted_once() {
    let app = spawn_app().await;
    let account = protected(&app, "once").await;
    // The code that turned the app on is spent: a login with it is refused.
    let spent = account.app.code_at(unix_now());
    let jar = first_step(&app, "once").await;
    let refused = second_step(&app, &jar, &spent).await;
    assert_error(refused, 400, "invalid_input").await;
    // The next step's code (the app's, a little ahead) is still good, once.
    let next = account.app.code_at(unix_now() + 30);
    assert_eq!(
        second_step(&app, &jar, &next).await.status(),
        StatusCode::OK
    );
    let other = first_step(&app, "once").await;
    assert_error(second_step(&app, &other, &next).await, 400, "invalid_input").await;
}

#[tokio::test]
async fn a_recovery_code_works_once_and_is_refused_twice() {
    let app = spawn_app().await;
    let account = protected(&app, "recover").await;
    let code = account.codes[3].to_uppercase().replace('-', " ");
    let jar = first_step(&app, "recover").await;
    let done = second_step(&app, &jar, &code).await;
    assert_eq!(done.status(), StatusCode::OK);
    let mut signed_in = jar.clone();
    signed_in.absorb(&done);
    let listed = sessions(&app, &signed_in).await;
    let current = listed.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["method"], "password_recovery_code");
    let status: Value = app
        .get("/api/auth/factors", &signed_in)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recovery_codes_left"], 9);
    let again = first_step(&app, "recover").await;
    assert_error(second_step(&app, &again, &code).await, 400, "invalid_input").await;
    assert_error(
        second_step(&app, &again, &account.codes[3]).await,
        400,
        "invalid_input",
    )
    .await;
}

#[test]
fn wrong_codes_in_flight_at_once_never_exceed_the_budget() {
    log::watch();
    log::runtime(4).block_on(async {
        let app = spawn_app().await;
        let account = protected(&app, "guessed").await;
        // Each guess on a second step of its own, from an address of its own (the steps are
        // made one by one: logins at once would meet the password budget first).
        let mut steps = Vec::new();
        for i in 0..24u8 {
            let visitor = app.visitor_from(10 + i);
            let answer = visitor.try_login("guessed", PASSWORD).await;
            let mut jar = Jar::default();
            jar.absorb(&answer);
            assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
            steps.push((visitor, jar));
        }
        let jar = first_step(&app, "guessed").await;
        let right = account.app.code_at(unix_now() + 30);
        let answers =
            futures::future::join_all(steps.iter().enumerate().map(|(i, (visitor, jar))| {
                let code = format!(
                    "{:06}",
                    (right.parse::<u32>().unwrap() + 1 + i as u32) % 1_000_000
                );
                async move {
                    visitor
                        .post("/api/auth/complete_login", &[("code", &code)], jar)
                        .await
                        .status()
                }
            }))
            .await;
        let checked = answers
            .iter()
            .filter(|s| **s == StatusCode::BAD_REQUEST)
            .count();
        let limited = answers
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!(checked + limited, 24, "{answers:?}");
        assert_eq!(
            checked, 10,
            "exactly the budget (LOGIN_MAX_FAILURES) was checked"
        );
        // The budget is spent: the right code waits too, as a right password would.
        assert_eq!(
            second_step(&app, &jar, &right).await.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let events: Vec<Value> = app
            .get("/api/auth/activity", &account.jar)
            .await
            .json()
            .await
            .unwrap();
        let failed = events
            .iter()
            .filter(|e| e["kind"] == "second_factor_failed")
            .count();
        assert_eq!(failed, 10);
        // Its owner hears that the password is known, once.
        let told = crate::support::mail::mails_where(&app, "guessed@example.org", 1, |m| {
            m.subject().contains("Someone has your Gatehouse password")
        })
        .await;
        assert_eq!(told.len(), 1);
        // And the owner's browser (it registered the account) has a budget of its own.
        let own = app
            .post(
                "/api/auth/login",
                &[("login", "guessed"), ("password", PASSWORD)],
                &account.jar,
            )
            .await;
        let mut owner = account.jar.clone();
        owner.absorb(&own);
        assert_error(own, 401, "mfa_required").await;
        let done = second_step(&app, &owner, &account.codes[0]).await;
        assert_eq!(
            done.status(),
            StatusCode::OK,
            "the owner's browser is not locked out"
        );
        log::assert_no_server_errors();
    });
}

#[test]
fn two_right_codes_at_once_start_one_session() {
    log::watch();
    log::runtime(4).block_on(async {
        let app = spawn_app().await;
        let account = protected(&app, "twice").await;
        let jar = first_step(&app, "twice").await;
        let totp = account.app.code_at(unix_now() + 30);
        let codes = [
            totp.as_str(),
            account.codes[0].as_str(),
            account.codes[1].as_str(),
        ];
        let answers = futures::future::join_all(
            codes.map(|code| async { second_step(&app, &jar, code).await.status() }),
        )
        .await;
        let started = answers.iter().filter(|s| **s == StatusCode::OK).count();
        assert_eq!(started, 1, "{answers:?}");
        assert!(answers
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::UNAUTHORIZED));
        assert_eq!(
            sessions(&app, &account.jar).await.len(),
            2,
            "registration's and one more"
        );
        log::assert_no_server_errors();
    });
}

#[tokio::test]
async fn turning_the_app_off_lets_the_password_alone_in_and_new_codes_end_the_old() {
    let app = spawn_app().await;
    let account = protected(&app, "offagain").await;
    let fresh = app
        .post("/api/auth/recovery_codes", &[], &account.jar)
        .await;
    assert_eq!(fresh.status(), StatusCode::OK);
    let fresh: Vec<String> = fresh.json().await.unwrap();
    assert!(fresh.iter().all(|code| !account.codes.contains(code)));
    let jar = first_step(&app, "offagain").await;
    assert_error(
        second_step(&app, &jar, &account.codes[0]).await,
        400,
        "invalid_input",
    )
    .await;
    assert_eq!(
        second_step(&app, &jar, &fresh[0]).await.status(),
        StatusCode::OK
    );
    let off = app.post("/api/auth/totp_disable", &[], &account.jar).await;
    assert_eq!(off.status(), StatusCode::OK);
    let status: Value = app
        .get("/api/auth/factors", &account.jar)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        status,
        serde_json::json!({"totp": false, "recovery_codes_left": 0, "pending": null, "passkeys": [], "recent_proof": true})
    );
    app.login("offagain").await;
    // Each change was told to the owner's address: on, new codes, off.
    let told = crate::support::mail::mails_where(&app, "offagain@example.org", 3, |m| {
        m.subject()
            .contains("Two-step verification of your Gatehouse account changed")
    })
    .await;
    assert_eq!(told.len(), 3);
    let events: Vec<Value> = app
        .get("/api/auth/activity", &account.jar)
        .await
        .json()
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["kind"].as_str()).collect();
    for kind in [
        "totp_enabled",
        "recovery_codes_replaced",
        "recovery_code_used",
        "totp_disabled",
    ] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
}

#[tokio::test]
async fn a_wrong_first_code_leaves_the_app_off() {
    let app = spawn_app().await;
    let jar = app.register("typo").await;
    let begun: Value = app
        .post("/api/auth/totp_begin", &[], &jar)
        .await
        .json()
        .await
        .unwrap();
    let phone =
        Authenticator::from_text(begun["secret"].as_str().unwrap(), "typo@example.org").unwrap();
    let right = phone.code_at(unix_now());
    let wrong = format!("{:06}", (right.parse::<u32>().unwrap() + 1) % 1_000_000);
    let refused = app
        .post("/api/auth/totp_confirm", &[("code", &wrong)], &jar)
        .await;
    assert_error(refused, 400, "invalid_input").await;
    app.login("typo").await;
    let confirmed = app
        .post("/api/auth/totp_confirm", &[("code", &right)], &jar)
        .await;
    assert_eq!(confirmed.status(), StatusCode::OK);
    let on = app.post("/api/auth/totp_begin", &[], &jar).await;
    assert_error(on, 409, "conflict").await;
}

#[tokio::test]
async fn a_code_for_a_secret_replaced_meanwhile_turns_nothing_on() {
    let app = spawn_app().await;
    let jar = app.register("twotabs").await;
    let first: Value = app
        .post("/api/auth/totp_begin", &[], &jar)
        .await
        .json()
        .await
        .unwrap();
    let scanned =
        Authenticator::from_text(first["secret"].as_str().unwrap(), "twotabs@example.org").unwrap();
    // Another tab starts over: the secret waiting is another one.
    let second = app.post("/api/auth/totp_begin", &[], &jar).await;
    assert_eq!(second.status(), StatusCode::OK);
    let code = scanned.code_at(unix_now());
    let refused = app
        .post("/api/auth/totp_confirm", &[("code", &code)], &jar)
        .await;
    assert_eq!(
        refused.status().as_u16(),
        400,
        "checked against the secret waiting"
    );
    let status: Value = app
        .get("/api/auth/factors", &jar)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["totp"], false);
}
