//! Verified addresses and changing the address: the link and code every registration mails,
//! `REQUIRE_VERIFIED_EMAIL`, an address change that waits for the new address, and the old
//! address's way back; each tried as an attacker would, many at once and from many addresses.

use crate::support::{
    assert_error, log,
    mail::{mails_where, verification_mails, Mail},
    spawn_app, spawn_app_with, two_instances, within, Jar, TestApp, ACCESS, PASSWORD,
};
use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::Value;
use std::time::Duration;

/// The token of the first link to `path` in `mail`.
fn token_in(mail: &Mail, path: &str) -> String {
    let link = mail
        .link_to(path)
        .unwrap_or_else(|| panic!("a link to {path}: {}", mail.raw));
    link.split_once("token=").unwrap().1.to_owned()
}

/// The six-digit code in a verification mail.
fn code_in(mail: &Mail) -> String {
    let after = mail
        .raw
        .split("enter this code: ")
        .nth(1)
        .unwrap_or_else(|| panic!("a code: {}", mail.raw));
    after.chars().take(6).collect()
}

async fn me(app: &TestApp, jar: &Jar) -> Value {
    let response = app.get("/api/auth/me", jar).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn verify(app: &TestApp, form: &[(&str, &str)], jar: &Jar) -> reqwest::Response {
    app.post("/api/auth/verify_email", form, jar).await
}

/// Asks, as the person logged in with `jar`, to move `name`'s account to `new`.
async fn ask_to_move(app: &TestApp, jar: &Jar, name: &str, new: &str) -> reqwest::Response {
    app.post(
        "/api/auth/update_profile",
        &[("username", name), ("full_name", name), ("email", new)],
        jar,
    )
    .await
}

/// The mails about address changes to `address`: `count` with `subject`.
async fn mails_titled(app: &TestApp, address: &str, subject: &str, count: usize) -> Vec<Mail> {
    mails_where(app, address, count, |m| m.subject() == subject).await
}

const THIEFS_PASSWORD: &str = "someone else chose this passphrase";
const CONFIRM_NEW: &str = "Confirm your new Gatehouse address";
const CHANGE_ASKED: &str = "A change of your Gatehouse address was asked for";
const CHANGED: &str = "Your Gatehouse address was changed";

#[tokio::test]
async fn registration_mails_a_link_that_confirms_the_address_once_and_opening_it_spends_nothing() {
    let app = spawn_app().await;
    let jar = app.register("ada").await;
    assert_eq!(me(&app, &jar).await["email_verified"], false);
    let mail = &verification_mails(&app, "ada@example.org", 1).await[0];
    assert!(mail.raw.contains("24 hours"), "{}", mail.raw);
    let token = token_in(mail, "/verify");
    // A mail scanner opens the link first, twice: the page shows its button and nothing is spent.
    for _ in 0..2 {
        let page = app
            .get(&format!("/verify?token={token}"), &Jar::default())
            .await;
        assert_eq!(page.status(), StatusCode::OK);
    }
    let answer = verify(&app, &[("token", &token)], &Jar::default()).await;
    assert_eq!(answer.status(), StatusCode::OK, "no session needed");
    assert_eq!(me(&app, &jar).await["email_verified"], true);
    assert_error(
        verify(&app, &[("token", &token)], &Jar::default()).await,
        401,
        "token_invalid",
    )
    .await;
    let spent = app
        .get(&format!("/verify?token={token}"), &Jar::default())
        .await;
    assert_eq!(spent.status(), StatusCode::SEE_OTHER);
    assert_eq!(spent.headers()["location"], "/verify?link=invalid");
    log::assert_no_server_errors();
}

#[tokio::test]
async fn the_code_confirms_the_address_where_the_person_is_signed_in_and_a_wrong_one_does_not() {
    let app = spawn_app().await;
    let jar = app.register("bob").await;
    let mail = &verification_mails(&app, "bob@example.org", 1).await[0];
    let code = code_in(mail);
    let wrong = if code == "000000" { "000001" } else { "000000" };
    let refused = verify(&app, &[("code", wrong)], &jar).await;
    let body = assert_error(refused, 400, "invalid_input").await;
    assert_eq!(body["field"], "code");
    assert_error(
        verify(&app, &[("code", "12345")], &jar).await,
        400,
        "invalid_input",
    )
    .await;
    assert_error(
        verify(&app, &[("code", &code)], &Jar::default()).await,
        401,
        "unauthenticated",
    )
    .await;
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    assert_eq!(
        verify(&app, &[("code", &spaced)], &jar).await.status(),
        StatusCode::OK
    );
    assert_eq!(me(&app, &jar).await["email_verified"], true);
    // The link of the same mail was spent with it.
    assert_error(
        verify(&app, &[("token", &token_in(mail, "/verify"))], &jar).await,
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test]
async fn wrong_codes_sent_all_at_once_from_many_addresses_stay_within_the_daily_budget() {
    let app = spawn_app().await;
    app.register("cyd").await;
    let code = code_in(&verification_mails(&app, "cyd@example.org", 1).await[0]);
    let guesses = (0..30u8).map(|n| {
        let visitor = app.visitor_from(30 + n);
        // Never the right code: every guess is wrong.
        let guess = format!(
            "{:06}",
            (code.parse::<u32>().unwrap() + 1 + u32::from(n)) % 1_000_000
        );
        async move {
            visitor
                .post(
                    "/api/auth/verify_email",
                    &[("code", &guess), ("login", "cyd")],
                    &Jar::default(),
                )
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(guesses).await;
    let checked = statuses.iter().filter(|s| **s == 400).count();
    assert_eq!(checked, 5, "{statuses:?}");
    assert!(
        statuses.iter().all(|s| *s == 400 || *s == 429),
        "{statuses:?}"
    );
    // The cap holds for the right code too until the day is over (the link still works). By
    // the same name: 429. By another name of the account (its own budget has room): "not
    // right", unchecked, exactly as for a wrong code, so the two names are not told to be one.
    let by = |login: &'static str| {
        let code = code.clone();
        let app = &app;
        async move {
            app.post(
                "/api/auth/verify_email",
                &[("code", code.as_str()), ("login", login)],
                &Jar::default(),
            )
            .await
        }
    };
    assert_error(by("cyd").await, 429, "rate_limited").await;
    let body = assert_error(by("cyd@example.org").await, 400, "invalid_input").await;
    assert_eq!(body["field"], "code");
    assert_eq!(
        me(&app, &app.login("cyd").await).await["email_verified"],
        false
    );
    log::assert_no_server_errors();
}

#[tokio::test]
async fn only_the_newest_verification_code_and_link_work() {
    let app = spawn_app().await;
    let jar = app.register("ned").await;
    let first = verification_mails(&app, "ned@example.org", 1).await[0].clone();
    let again = app.post("/api/auth/resend_verification", &[], &jar).await;
    assert_eq!(again.status(), StatusCode::OK);
    let mails = verification_mails(&app, "ned@example.org", 2).await;
    let newest = mails.iter().find(|m| m.raw != first.raw).unwrap();
    assert_error(
        verify(&app, &[("code", &code_in(&first))], &jar).await,
        400,
        "invalid_input",
    )
    .await;
    assert_error(
        verify(&app, &[("token", &token_in(&first, "/verify"))], &jar).await,
        401,
        "token_invalid",
    )
    .await;
    assert_eq!(
        verify(&app, &[("code", &code_in(newest))], &jar)
            .await
            .status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn asking_for_addresses_is_capped_before_anything_says_whether_one_is_taken() {
    let app = spawn_app().await;
    let jar = app.register("oto").await;
    app.register("held").await;
    for n in 0..5 {
        let free = format!("free{n}@example.org");
        assert_eq!(
            ask_to_move(&app, &jar, "oto", &free).await.status(),
            StatusCode::OK
        );
    }
    // The sixth is refused for the cap, taken address or not.
    for address in ["held@example.org", "free9@example.org"] {
        let body = assert_error(
            ask_to_move(&app, &jar, "oto", address).await,
            429,
            "rate_limited",
        )
        .await;
        assert_eq!(body["field"], "email");
    }
}

#[tokio::test]
async fn a_reset_by_mail_proves_the_address_so_a_required_verification_is_met() {
    let app = spawn_app_with(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    app.try_register("pia@example.org", "pia", "Pia").await;
    reset_by_mail(&app, "pia@example.org", "a brand new passphrase").await;
    let login = app.try_login("pia", "a brand new passphrase").await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "{}",
        login.text().await.unwrap()
    );
}

#[tokio::test]
async fn with_require_verified_email_a_new_account_logs_in_only_once_its_link_is_opened() {
    let app = spawn_app_with(&[("REQUIRE_VERIFIED_EMAIL", "true")]).await;
    let created = app.try_register("dan@example.org", "dan", "Dan").await;
    let mut jar = Jar::default();
    jar.absorb(&created);
    assert!(jar.get(ACCESS).is_none(), "no session");
    assert_error(created, 403, "email_unverified").await;
    assert_error(
        app.try_login("dan", PASSWORD).await,
        403,
        "email_unverified",
    )
    .await;
    // A wrong password says nothing about the address.
    assert_error(
        app.try_login("dan", "not the password at all").await,
        401,
        "invalid_credentials",
    )
    .await;
    // Signed out, a new link is asked for by name, answered alike for an unknown one.
    for login in ["dan", "nobody-here"] {
        let answer = app
            .post(
                "/api/auth/resend_verification",
                &[("login", login)],
                &Jar::default(),
            )
            .await;
        assert_eq!(answer.status(), StatusCode::OK, "{login}");
    }
    // The new link works, and the registration's no longer does: one of the two.
    let mut statuses = Vec::new();
    for mail in verification_mails(&app, "dan@example.org", 2).await {
        let token = token_in(&mail, "/verify");
        statuses.push(
            verify(&app, &[("token", &token)], &Jar::default())
                .await
                .status(),
        );
    }
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
    assert_eq!(
        app.try_login("dan", PASSWORD).await.status(),
        StatusCode::OK
    );
    log::assert_no_server_errors();
}

#[tokio::test]
async fn a_new_address_takes_effect_only_from_its_link_and_the_old_one_hears_of_it_both_times() {
    let app = spawn_app().await;
    let jar = app.register("eli").await;
    let old_verification = token_in(
        &verification_mails(&app, "eli@example.org", 1).await[0],
        "/verify",
    );
    let answer = ask_to_move(&app, &jar, "eli", "Eli.New@Example.org").await;
    assert_eq!(answer.status(), StatusCode::OK);
    let user: Value = answer.json().await.unwrap();
    assert_eq!(user["email"], "eli@example.org", "not changed yet");
    let confirm = &mails_titled(&app, "Eli.New@Example.org", CONFIRM_NEW, 1).await[0];
    let asked = &mails_titled(&app, "eli@example.org", CHANGE_ASKED, 1).await[0];
    assert!(asked.raw.contains("Eli.New@Example.org"), "{}", asked.raw);
    assert!(asked.link_to("/undo-email").is_some());
    // Until the link is opened, the old address logs in and the new one does not.
    assert_eq!(
        app.try_login("eli@example.org", PASSWORD).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        app.try_login("eli.new@example.org", PASSWORD)
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let token = token_in(confirm, "/confirm-email");
    let answer = app
        .post(
            "/api/auth/confirm_email_change",
            &[("token", &token)],
            &Jar::default(),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let now = me(&app, &jar).await;
    assert_eq!(now["email"], "Eli.New@Example.org", "the session goes on");
    assert_eq!(now["email_verified"], true, "the link proved it");
    assert_eq!(
        app.try_login("eli.new@example.org", PASSWORD)
            .await
            .status(),
        StatusCode::OK
    );
    assert_eq!(
        app.try_login("eli@example.org", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let changed = &mails_titled(&app, "eli@example.org", CHANGED, 1).await[0];
    assert!(changed.raw.contains("7 days"), "{}", changed.raw);
    // Every link made under the old address is dead: the old verification, the used change.
    assert_error(
        verify(&app, &[("token", &old_verification)], &jar).await,
        401,
        "token_invalid",
    )
    .await;
    assert_error(
        app.post(
            "/api/auth/confirm_email_change",
            &[("token", &token)],
            &Jar::default(),
        )
        .await,
        401,
        "token_invalid",
    )
    .await;
    log::assert_no_server_errors();
}

/// Asks, as `name` logged in with `jar`, to move to `new`; the tokens of the link mailed there
/// and of the cancel link mailed to `old`.
async fn ask_for_links(
    app: &TestApp,
    jar: &Jar,
    name: &str,
    (old, new): (&str, &str),
) -> (String, String) {
    assert_eq!(
        ask_to_move(app, jar, name, new).await.status(),
        StatusCode::OK
    );
    let confirm = token_in(
        &mails_titled(app, new, CONFIRM_NEW, 1).await[0],
        "/confirm-email",
    );
    let cancel = token_in(
        &mails_titled(app, old, CHANGE_ASKED, 1).await[0],
        "/undo-email",
    );
    (confirm, cancel)
}

/// Moves `name`'s account (logged in with `jar`) to `new` and opens the link sent there.
async fn move_and_confirm(app: &TestApp, jar: &Jar, name: &str, new: &str, nth: usize) {
    let asked = ask_to_move(app, jar, name, new).await;
    assert_eq!(
        asked.status(),
        StatusCode::OK,
        "{}",
        asked.text().await.unwrap()
    );
    let confirm = &mails_titled(app, new, CONFIRM_NEW, nth).await[nth - 1];
    let answer = app
        .post(
            "/api/auth/confirm_email_change",
            &[("token", &token_in(confirm, "/confirm-email"))],
            &Jar::default(),
        )
        .await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        answer.text().await.unwrap()
    );
}

/// Asks for a reset link to `email`, and sets `password` with it.
async fn reset_by_mail(app: &TestApp, email: &str, password: &str) {
    let form = [("email", email)];
    let asked = app
        .post("/api/auth/request_password_reset", &form, &Jar::default())
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    let reset = &mails_titled(app, email, "Reset your Gatehouse password", 1).await[0];
    let token = token_in(reset, "/reset");
    let form = [("token", token.as_str()), ("new_password", password)];
    let answer = app
        .post("/api/auth/reset_password", &form, &Jar::default())
        .await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        answer.text().await.unwrap()
    );
}

async fn undo(app: &TestApp, token: &str) -> reqwest::Response {
    app.post(
        "/api/auth/cancel_email_change",
        &[("token", token)],
        &Jar::default(),
    )
    .await
}

#[tokio::test]
async fn the_old_address_undoes_a_taken_account_whatever_the_taker_did_next() {
    let app = spawn_app().await;
    let thief = app.register("fay").await;
    move_and_confirm(&app, &thief, "fay", "taker@example.net", 1).await;
    let undo_link = token_in(
        &mails_titled(&app, "fay@example.org", CHANGED, 1).await[0],
        "/undo-email",
    );
    // The taker sets a password of their own, takes the old address for another account, and
    // moves the account on to a third address.
    let changed = app
        .post(
            "/api/auth/change_password",
            &[
                ("current_password", PASSWORD),
                ("new_password", THIEFS_PASSWORD),
            ],
            &thief,
        )
        .await;
    let mut thief = thief;
    thief.absorb(&changed);
    assert_eq!(
        changed.status(),
        StatusCode::OK,
        "{}",
        changed.text().await.unwrap()
    );
    let squat = app
        .try_register("fay@example.org", "squatter", "Squatter")
        .await;
    let body = assert_error(squat, 409, "conflict").await;
    assert_eq!(
        body["field"], "email",
        "the old address is held for its owner"
    );
    move_and_confirm(&app, &thief, "fay", "third@example.net", 1).await;
    // And turns on an authenticator app of their own, which would keep the owner out.
    crate::factors::turn_app_on(&app, &thief, "third@example.net").await;

    let answer = undo(&app, &undo_link).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        Value::Bool(true),
        "put back"
    );
    assert_error(app.get("/api/auth/me", &thief).await, 401, "token_revoked").await;
    // The taker's password is gone with them: the way in is a reset, mailed to the owner.
    assert_error(
        app.try_login("fay@example.org", THIEFS_PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    assert_error(
        app.try_login("fay@example.org", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    reset_by_mail(&app, "fay@example.org", "the owner's new passphrase").await;
    // Every other link of the account died with the restore, the used undo link too.
    assert_error(undo(&app, &undo_link).await, 401, "token_invalid").await;
    log::assert_no_server_errors();
}

#[tokio::test]
async fn moving_back_takes_the_undo_link_and_links_made_under_an_address_stay_dead_when_it_returns()
{
    let app = spawn_app().await;
    let jar = app.register("max").await;
    let verification = token_in(
        &verification_mails(&app, "max@example.org", 1).await[0],
        "/verify",
    );
    // A change asked with a typo, then another one made, then the address moved back.
    assert_eq!(
        ask_to_move(&app, &jar, "max", "typo@example.org")
            .await
            .status(),
        StatusCode::OK
    );
    let typo = token_in(
        &mails_titled(&app, "typo@example.org", CONFIRM_NEW, 1).await[0],
        "/confirm-email",
    );
    move_and_confirm(&app, &jar, "max", "max2@example.org", 1).await;
    // Back to the address it left: not by a confirmation from it (that would keep whoever
    // moved the account signed in), only by the undo link mailed there.
    let back = ask_to_move(&app, &jar, "max", "max@example.org").await;
    let body = assert_error(back, 409, "conflict").await;
    assert!(
        body["message"].as_str().unwrap().contains("open the link"),
        "{body}"
    );
    let undo_link = token_in(
        &mails_titled(&app, "max@example.org", CHANGED, 1).await[0],
        "/undo-email",
    );
    assert_eq!(undo(&app, &undo_link).await.status(), StatusCode::OK);
    reset_by_mail(&app, "max@example.org", "a brand new passphrase").await;
    let login = app
        .try_login("max@example.org", "a brand new passphrase")
        .await;
    assert_eq!(
        login.status(),
        StatusCode::OK,
        "the account is back at its address"
    );
    let mut jar = Jar::default();
    jar.absorb(&login);
    assert_eq!(me(&app, &jar).await["email"], "max@example.org");
    assert_error(
        app.post(
            "/api/auth/confirm_email_change",
            &[("token", &typo)],
            &Jar::default(),
        )
        .await,
        401,
        "token_invalid",
    )
    .await;
    assert_error(
        verify(&app, &[("token", &verification)], &jar).await,
        401,
        "token_invalid",
    )
    .await;
    log::assert_no_server_errors();
}

#[tokio::test]
async fn cancelling_a_pending_change_kills_its_link_to_the_new_address() {
    let app = spawn_app().await;
    let jar = app.register("gus").await;
    let addresses = ("gus@example.org", "gus2@example.org");
    let (confirm, undo) = ask_for_links(&app, &jar, "gus", addresses).await;
    let answer = app
        .post(
            "/api/auth/cancel_email_change",
            &[("token", &undo)],
            &Jar::default(),
        )
        .await;
    assert_eq!(
        answer.json::<Value>().await.unwrap(),
        Value::Bool(false),
        "only cancelled"
    );
    assert_eq!(me(&app, &jar).await["email"], "gus@example.org");
    assert_eq!(
        app.get("/api/auth/me", &jar).await.status(),
        StatusCode::OK,
        "sessions go on"
    );
    assert_error(
        app.post(
            "/api/auth/confirm_email_change",
            &[("token", &confirm)],
            &Jar::default(),
        )
        .await,
        401,
        "token_invalid",
    )
    .await;
}

#[tokio::test]
async fn an_address_of_another_account_is_refused_when_asked_and_when_two_race_for_one() {
    let app = spawn_app().await;
    let hal = app.register("hal").await;
    let ida = app.register("ida").await;
    let taken = ask_to_move(&app, &hal, "hal", "IDA@example.org").await;
    let body = assert_error(taken, 409, "conflict").await;
    assert_eq!(body["field"], "email");
    // Two accounts ask for one free address; both open their links at once: one wins.
    for (jar, name) in [(&hal, "hal"), (&ida, "ida")] {
        assert_eq!(
            ask_to_move(&app, jar, name, "shared@example.org")
                .await
                .status(),
            StatusCode::OK
        );
    }
    let mails = mails_titled(&app, "shared@example.org", CONFIRM_NEW, 2).await;
    let confirms = mails.iter().enumerate().map(|(n, mail)| {
        let visitor = app.visitor_from(70 + n as u8);
        let token = token_in(mail, "/confirm-email");
        async move {
            visitor
                .post(
                    "/api/auth/confirm_email_change",
                    &[("token", &token)],
                    &Jar::default(),
                )
                .await
                .status()
                .as_u16()
        }
    });
    let mut statuses = join_all(confirms).await;
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    log::assert_no_server_errors();
}

#[tokio::test]
async fn one_change_link_opened_many_times_at_once_changes_the_address_once() {
    let app = spawn_app().await;
    let jar = app.register("joy").await;
    assert_eq!(
        ask_to_move(&app, &jar, "joy", "joy2@example.org")
            .await
            .status(),
        StatusCode::OK
    );
    let token = token_in(
        &mails_titled(&app, "joy2@example.org", CONFIRM_NEW, 1).await[0],
        "/confirm-email",
    );
    let confirms = (0..10u8).map(|n| {
        let visitor = app.visitor_from(90 + n);
        let token = token.clone();
        async move {
            visitor
                .post(
                    "/api/auth/confirm_email_change",
                    &[("token", &token)],
                    &Jar::default(),
                )
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(confirms).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 401),
        "{statuses:?}"
    );
    // One change, so one notice with one way back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        mails_titled(&app, "joy@example.org", CHANGED, 1)
            .await
            .len(),
        1
    );
    log::assert_no_server_errors();
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn two_instances_share_the_code_budget_and_see_a_confirmed_address_within_a_second() {
    let (a, b) = two_instances(&[]).await;
    let jar = a.register("kai").await;
    assert_eq!(
        me(&b, &jar).await["email_verified"],
        false,
        "b has the account cached"
    );
    let code = code_in(&verification_mails(&a, "kai@example.org", 1).await[0]);
    let guesses = (0..12u8).map(|n| {
        let app = if n % 2 == 0 { &a } else { &b };
        let guess = format!(
            "{:06}",
            (code.parse::<u32>().unwrap() + 1 + u32::from(n)) % 1_000_000
        );
        let jar = jar.clone();
        async move {
            verify(app, &[("code", &guess)], &jar)
                .await
                .status()
                .as_u16()
        }
    });
    let statuses = join_all(guesses).await;
    assert_eq!(
        statuses.iter().filter(|s| **s == 400).count(),
        5,
        "{statuses:?}"
    );
    let mail = &verification_mails(&a, "kai@example.org", 1).await[0];
    let answer = verify(
        &a,
        &[("token", &token_in(mail, "/verify"))],
        &Jar::default(),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    within(
        Duration::from_secs(1),
        "b sees the address confirmed",
        || async { me(&b, &jar).await["email_verified"] == true },
    )
    .await;
    log::assert_no_server_errors();
}

#[tokio::test]
async fn an_undo_the_taker_makes_of_their_own_later_move_cannot_spend_the_owners_undo() {
    let app = spawn_app().await;
    let taker = app.register("vic").await;
    move_and_confirm(&app, &taker, "vic", "t1@example.net", 1).await;
    move_and_confirm(&app, &taker, "vic", "t2@example.net", 1).await;
    let owners = token_in(
        &mails_titled(&app, "vic@example.org", CHANGED, 1).await[0],
        "/undo-email",
    );
    let takers = token_in(
        &mails_titled(&app, "t1@example.net", CHANGED, 1).await[0],
        "/undo-email",
    );
    // The taker undoes their own second move first, back to an address they read...
    assert_eq!(
        undo(&app, &takers).await.json::<Value>().await.unwrap(),
        Value::Bool(true)
    );
    // ...and the owner's older link still puts the owner's address back.
    let answer = undo(&app, &owners).await;
    assert_eq!(answer.status(), StatusCode::OK);
    assert_eq!(answer.json::<Value>().await.unwrap(), Value::Bool(true));
    let back = app.try_login("vic@example.org", PASSWORD).await;
    assert_error(back, 401, "invalid_credentials").await;
    // The address the owner's undo replaced is told.
    let told = &mails_titled(
        &app,
        "t1@example.net",
        "A Gatehouse account left this address",
        1,
    )
    .await[0];
    assert!(told.raw.contains("vic@example.org"), "{}", told.raw);
    log::assert_no_server_errors();
}

#[tokio::test]
async fn a_cancel_link_stops_a_pending_change_only_and_changes_asked_during_an_undo_leave_no_working_link(
) {
    let app = spawn_app().await;
    let taker = app.register("wes").await;
    let addresses = ("wes@example.org", "w1@example.net");
    let (confirm, cancel) = ask_for_links(&app, &taker, "wes", addresses).await;
    let answer = app
        .post(
            "/api/auth/confirm_email_change",
            &[("token", &confirm)],
            &Jar::default(),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    // Made, the change is beyond its cancel link: only the undo link mailed with it can undo it.
    assert_error(undo(&app, &cancel).await, 401, "token_invalid").await;
    let owners = token_in(
        &mails_titled(&app, "wes@example.org", CHANGED, 1).await[0],
        "/undo-email",
    );
    // The taker asks for more changes at the moment the owner undoes the move.
    let asks = (0..4u8).map(|n| {
        let (app, taker) = (&app, &taker);
        async move {
            let to = format!("w{}@example.net", n + 2);
            ask_to_move(app, taker, "wes", &to).await.status().as_u16()
        }
    });
    let (asked, undone) = tokio::join!(join_all(asks), undo(&app, &owners));
    assert_eq!(undone.status(), StatusCode::OK);
    assert!(
        asked.iter().all(|s| [200, 401, 429].contains(s)),
        "{asked:?}"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Whatever those asks mailed, no link of theirs works now.
    for n in 2..6 {
        let to = format!("w{n}@example.net");
        for mail in mails_where(&app, &to, 0, |m| m.subject() == CONFIRM_NEW).await {
            let token = token_in(&mail, "/confirm-email");
            let answer = app
                .post(
                    "/api/auth/confirm_email_change",
                    &[("token", &token)],
                    &Jar::default(),
                )
                .await;
            assert_error(answer, 401, "token_invalid").await;
        }
    }
    for mail in mails_where(&app, "w1@example.net", 0, |m| m.subject() == CHANGE_ASKED).await {
        assert_error(
            undo(&app, &token_in(&mail, "/undo-email")).await,
            401,
            "token_invalid",
        )
        .await;
    }
    let moved = app
        .try_register("squat@example.org", "squat", "Squat")
        .await;
    let mut squat = Jar::default();
    squat.absorb(&moved);
    let refused = ask_to_move(&app, &squat, "squat", "w1@example.net").await;
    assert_eq!(
        refused.status(),
        StatusCode::OK,
        "w1 is not held: it was the taker's"
    );
    let held = ask_to_move(&app, &squat, "squat", "wes@example.org").await;
    let body = assert_error(held, 409, "conflict").await;
    assert_eq!(body["field"], "email");
    log::assert_no_server_errors();
}
