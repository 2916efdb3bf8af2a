//! Passkeys, driven by a software authenticator (1Password's `passkey` crate) as a browser
//! drives a phone's or a laptop's: added from a signed-in session, then a sign-in with the
//! passkey alone (it is both factors), its ceremony single use.

use super::*;
use passkey::{
    authenticator::{Authenticator, UiHint, UserCheck, UserValidationMethod},
    client::{Client, DefaultClientData},
    crypto::rust_crypto::RustCryptoBackend,
    types::{ctap2::Aaguid, ctap2::Ctap2Error, webauthn, Passkey},
};
use url::Url;

/// The person at the device: present, and verified (a fingerprint, a PIN).
struct Person;

#[async_trait::async_trait]
impl UserValidationMethod for Person {
    type PasskeyItem = Passkey;

    async fn check_user<'a>(
        &self,
        _hint: UiHint<'a, Passkey>,
        presence: bool,
        verification: bool,
    ) -> Result<UserCheck, Ctap2Error> {
        Ok(UserCheck {
            presence,
            verification,
        })
    }

    fn is_presence_enabled(&self) -> bool {
        true
    }

    fn is_verification_enabled(&self) -> Option<bool> {
        Some(true)
    }
}

type Device =
    Client<Option<Passkey>, Person, RustCryptoBackend, public_suffix::PublicSuffixList, ()>;

fn device() -> Device {
    let authenticator = Authenticator::new(Aaguid::new_empty(), None, Person, RustCryptoBackend);
    Client::new(authenticator).allows_insecure_localhost(true)
}

/// The page's origin as the browser reports it: the app on localhost (browsers refuse an IP
/// address as a relying-party id), on the port it listens on.
fn origin(app: &TestApp) -> Url {
    let port = app.base.rsplit(':').next().unwrap();
    Url::parse(&format!("http://localhost:{port}")).unwrap()
}

/// A credential as a browser's `PublicKeyCredential.toJSON()` gives it: bytes in base64url
/// (the `passkey` crate writes them as arrays of numbers).
fn browser_json(value: Value) -> Value {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    match value {
        Value::Array(items)
            if !items.is_empty()
                && items
                    .iter()
                    .all(|item| item.as_u64().is_some_and(|n| n <= 255)) =>
        {
            let bytes: Vec<u8> = items
                .iter()
                .map(|item| item.as_u64().unwrap() as u8)
                .collect();
            Value::String(URL_SAFE_NO_PAD.encode(bytes))
        }
        Value::Array(items) => Value::Array(items.into_iter().map(browser_json).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(name, value)| (name, browser_json(value)))
                .collect(),
        ),
        other => other,
    }
}

/// Adds a passkey on `device` to the account of `jar`'s session.
async fn add_passkey(app: &TestApp, jar: &Jar, device: &mut Device, name: &str) -> Value {
    let begun = app.post("/api/auth/passkey_add_begin", &[], jar).await;
    assert_eq!(begun.status(), StatusCode::OK);
    let mut ceremony = jar.clone();
    ceremony.absorb(&begun);
    let options: String = begun.json().await.unwrap();
    let options: webauthn::CredentialCreationOptions = serde_json::from_str(&options).unwrap();
    let created = device
        .register(&origin(app), options, DefaultClientData)
        .await
        .unwrap();
    let credential = browser_json(serde_json::to_value(&created).unwrap()).to_string();
    let added = app
        .post(
            "/api/auth/passkey_add_finish",
            &[("credential", &credential), ("name", name)],
            &ceremony,
        )
        .await;
    assert_eq!(
        added.status(),
        StatusCode::OK,
        "{}",
        added.text().await.unwrap()
    );
    app.get("/api/auth/passkeys", jar)
        .await
        .json()
        .await
        .unwrap()
}

/// The browser's side of a `navigator.credentials.get` ceremony that `begun` started: the
/// device's answer, as WebAuthn JSON.
async fn answer_get(app: &TestApp, begun: reqwest::Response, device: &mut Device) -> String {
    assert_eq!(begun.status(), StatusCode::OK);
    let options: String = begun.json().await.unwrap();
    let options: webauthn::CredentialRequestOptions = serde_json::from_str(&options).unwrap();
    let used = device
        .authenticate(&origin(app), options, DefaultClientData)
        .await
        .unwrap();
    browser_json(serde_json::to_value(&used).unwrap()).to_string()
}

/// A sign-in with a passkey of `device`: the answer, and the jar that made it.
async fn sign_in(app: &TestApp, device: &mut Device) -> (reqwest::Response, Jar) {
    let begun = app
        .post("/api/auth/passkey_login_begin", &[], &Jar::default())
        .await;
    assert_eq!(begun.status(), StatusCode::OK);
    let mut jar = Jar::default();
    jar.absorb(&begun);
    let credential = answer_get(app, begun, device).await;
    let answer = app
        .post(
            "/api/auth/passkey_login_finish",
            &[("credential", &credential)],
            &jar,
        )
        .await;
    (answer, jar)
}

#[tokio::test]
async fn a_passkey_added_from_a_session_signs_in_alone_as_both_factors_and_the_password_still_works(
) {
    let app = spawn_app().await;
    let jar = app.register("keyholder").await;
    let mut laptop = device();
    let listed = add_passkey(&app, &jar, &mut laptop, "Laptop").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "Laptop");
    assert!(listed[0]["last_used_at"].is_null());

    // A passkey is another way in, not a gate on the password: only the authenticator app
    // (which comes with recovery codes) makes the password alone not enough.
    assert_eq!(
        app.try_login("keyholder", PASSWORD).await.status(),
        StatusCode::OK
    );
    let (answer, mut signed_in) = sign_in(&app, &mut laptop).await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        answer.text().await.unwrap()
    );
    signed_in.absorb(&answer);
    let listed = sessions(&app, &signed_in).await;
    let current = listed.iter().find(|s| s["current"] == true).unwrap();
    assert_eq!(current["method"], "passkey");
    let keys: Value = app
        .get("/api/auth/passkeys", &signed_in)
        .await
        .json()
        .await
        .unwrap();
    assert!(keys[0]["last_used_at"].is_string(), "{keys}");

    // A sign-in ceremony is single use: its answer, sent again, signs nobody in.
    let (first, jar) = sign_in(&app, &mut laptop).await;
    assert_eq!(first.status(), StatusCode::OK);
    let begun = app
        .post("/api/auth/passkey_login_begin", &[], &Jar::default())
        .await;
    let credential = answer_get(&app, begun, &mut laptop).await;
    // Against the ceremony of another browser (whose challenge it does not answer) it fails.
    let replayed = app
        .post(
            "/api/auth/passkey_login_finish",
            &[("credential", &credential)],
            &jar,
        )
        .await;
    assert!(replayed.status().is_client_error(), "{}", replayed.status());
}

#[tokio::test]
async fn a_removed_passkey_signs_nobody_in() {
    let app = spawn_app().await;
    let jar = app.register("unkeyed").await;
    let mut phone = device();
    let listed = add_passkey(&app, &jar, &mut phone, "Phone").await;
    let id = listed[0]["id"].as_str().unwrap();
    let removed = app
        .post("/api/auth/passkey_remove", &[("id", id)], &jar)
        .await;
    assert_eq!(removed.status(), StatusCode::OK);
    assert_error(
        app.post("/api/auth/passkey_remove", &[("id", id)], &jar)
            .await,
        404,
        "not_found",
    )
    .await;
    app.login("unkeyed").await;
    // A removed passkey signs nobody in.
    let (answer, _) = sign_in(&app, &mut phone).await;
    assert_error(answer, 401, "invalid_credentials").await;
}

/// A step-up with a passkey of `device`, its ceremony begun by `begun_by`'s session and answered
/// from `answered_in`'s (the same jar, for a browser confirming itself): the answer, the
/// credential sent, and the jar that sent it.
async fn confirm_from(
    app: &TestApp,
    begun_by: &Jar,
    answered_in: &Jar,
    device: &mut Device,
) -> (reqwest::Response, String, Jar) {
    let begun = app
        .post("/api/auth/passkey_confirm_begin", &[], begun_by)
        .await;
    assert_eq!(begun.status(), StatusCode::OK);
    let mut ceremony = answered_in.clone();
    ceremony.absorb(&begun);
    let credential = answer_get(app, begun, device).await;
    let answer = app
        .post(
            "/api/auth/passkey_confirm_finish",
            &[("credential", &credential)],
            &ceremony,
        )
        .await;
    (answer, credential, ceremony)
}

#[tokio::test]
async fn a_stale_session_confirms_who_it_is_with_a_passkey_once_per_ceremony() {
    let app = crate::support::spawn_app_with(&[("STEP_UP_WINDOW", "1s")]).await;
    let jar = app.register("stepper").await;
    let mut laptop = device();
    add_passkey(&app, &jar, &mut laptop, "Laptop").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // Changing factors needs a recent proof (the password typed with a change is one only for
    // the changes that ask for it).
    assert_error(
        app.post("/api/auth/totp_begin", &[], &jar).await,
        403,
        "step_up_required",
    )
    .await;
    let status: Value = app
        .get("/api/auth/factors", &jar)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recent_proof"], false, "{status}");

    let (confirmed, credential, ceremony) = confirm_from(&app, &jar, &jar, &mut laptop).await;
    assert_eq!(
        confirmed.status(),
        StatusCode::OK,
        "{}",
        confirmed.text().await.unwrap()
    );
    // Its answer, sent again, proves nothing: the ceremony is spent.
    let again = app
        .post(
            "/api/auth/passkey_confirm_finish",
            &[("credential", &credential)],
            &ceremony,
        )
        .await;
    assert_error(again, 401, "token_expired").await;
    let status: Value = app
        .get("/api/auth/factors", &jar)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recent_proof"], true, "{status}");
    assert_eq!(
        app.post("/api/auth/totp_begin", &[], &jar).await.status(),
        StatusCode::OK
    );
    let keys: Value = app
        .get("/api/auth/passkeys", &jar)
        .await
        .json()
        .await
        .unwrap();
    assert!(keys[0]["last_used_at"].is_string(), "{keys}");
}

#[tokio::test]
async fn another_sessions_confirmation_ceremony_confirms_nothing_here() {
    let app = spawn_app().await;
    let owner = app.register("owner").await;
    let mut laptop = device();
    add_passkey(&app, &owner, &mut laptop, "Laptop").await;
    let other = app.register("other").await;
    let mut phone = device();
    add_passkey(&app, &other, &mut phone, "Phone").await;
    // The owner's ceremony cookie, carried into the other account's session.
    let (refused, _, _) = confirm_from(&app, &owner, &other, &mut laptop).await;
    assert_error(refused, 401, "token_expired").await;
}

#[tokio::test]
async fn trying_a_passkey_at_the_second_step_keeps_the_second_step() {
    let app = spawn_app().await;
    let account = protected(&app, "both").await;
    let mut jar = first_step(&app, "both").await;
    // The login page asks for a passkey as it opens, and again on "Use a passkey".
    for _ in 0..2 {
        let begun = app.post("/api/auth/passkey_login_begin", &[], &jar).await;
        assert_eq!(begun.status(), StatusCode::OK);
        jar.absorb(&begun);
    }
    // The next step's code: the current one was spent turning the app on.
    let code = account.app.code_at(unix_now() + 30);
    let answer = second_step(&app, &jar, &code).await;
    assert_eq!(
        answer.status(),
        StatusCode::OK,
        "{}",
        answer.text().await.unwrap()
    );
}

#[tokio::test]
async fn passkey_ceremonies_begun_from_one_address_have_their_own_cap_and_spend_no_logins() {
    let app = crate::support::spawn_app_with(&[("IP_ATTEMPTS_PER_MINUTE", "3")]).await;
    app.register("capped").await;
    for _ in 0..3 {
        let begun = app
            .post("/api/auth/passkey_login_begin", &[], &Jar::default())
            .await;
        assert_eq!(begun.status(), StatusCode::OK);
    }
    let over = app
        .post("/api/auth/passkey_login_begin", &[], &Jar::default())
        .await;
    assert_error(over, 429, "rate_limited").await;
    // Registration spent one attempt of the three; a login is still allowed.
    assert_eq!(
        app.try_login("capped", PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_password_reset_removes_the_passkeys_whoever_added_them() {
    let app = spawn_app().await;
    // Whoever had the password signed in and added a passkey of their own.
    let taker = app.register("retaken").await;
    let mut theirs = device();
    add_passkey(&app, &taker, &mut theirs, "Owner's phone").await;
    // The owner takes the account back with a reset link.
    let token = crate::operations::reset_token(&app, "retaken@example.org").await;
    let form = [
        ("token", token.as_str()),
        ("new_password", "a completely new passphrase 42"),
    ];
    let answer = app
        .post("/api/auth/reset_password", &form, &Jar::default())
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    // The reset signed the owner's browser in.
    let mut owner = Jar::default();
    owner.absorb(&answer);
    let (refused, _) = sign_in(&app, &mut theirs).await;
    assert_error(refused, 401, "invalid_credentials").await;
    let keys: Value = app
        .get("/api/auth/passkeys", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(keys, serde_json::json!([]));
}

#[tokio::test]
async fn a_passkey_used_at_the_second_step_ends_that_step() {
    let app = spawn_app().await;
    let account = protected(&app, "stepped").await;
    let mut laptop = device();
    add_passkey(&app, &account.jar, &mut laptop, "Laptop").await;
    let step = first_step(&app, "stepped").await;
    // "Use a passkey instead": the sign-in ceremony from the same browser.
    let begun = app.post("/api/auth/passkey_login_begin", &[], &step).await;
    let mut jar = step.clone();
    jar.absorb(&begun);
    let credential = answer_get(&app, begun, &mut laptop).await;
    let signed_in = app
        .post(
            "/api/auth/passkey_login_finish",
            &[("credential", &credential)],
            &jar,
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    assert!(
        signed_in
            .headers()
            .get_all("set-cookie")
            .iter()
            .any(|c| c.to_str().unwrap().starts_with(&format!("{CHALLENGE}=;"))),
        "the second step's cookie is cleared"
    );
    // The step is over: its code signs nobody in now.
    let code = account.app.code_at(unix_now() + 30);
    assert_error(second_step(&app, &step, &code).await, 401, "token_expired").await;
}

#[tokio::test]
async fn a_confirmation_ceremony_confirms_only_the_session_that_began_it() {
    let app = crate::support::spawn_app_with(&[("STEP_UP_WINDOW", "1s")]).await;
    let first = app.register("twosessions").await;
    let mut laptop = device();
    add_passkey(&app, &first, &mut laptop, "Laptop").await;
    let second = app.login("twosessions").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // The first session's ceremony, answered from the second session.
    let (refused, _, _) = confirm_from(&app, &first, &second, &mut laptop).await;
    assert_error(refused, 401, "token_expired").await;
    assert_error(
        app.post("/api/auth/totp_begin", &[], &second).await,
        403,
        "step_up_required",
    )
    .await;
}

#[tokio::test]
async fn a_passkey_name_that_reorders_text_or_holds_control_characters_is_refused_before_the_ceremony_is_spent(
) {
    let app = spawn_app().await;
    let jar = app.register("namer").await;
    for name in [
        "evil\u{202E}gnp.exe",
        "line\nbreak",
        "nul\u{0}",
        &"x".repeat(65),
    ] {
        let begun = app.post("/api/auth/passkey_add_begin", &[], &jar).await;
        let mut ceremony = jar.clone();
        ceremony.absorb(&begun);
        let refused = app
            .post(
                "/api/auth/passkey_add_finish",
                &[("credential", "{}"), ("name", name)],
                &ceremony,
            )
            .await;
        let body = assert_error(refused, 400, "invalid_input").await;
        assert_eq!(body["field"], "name", "{name:?}: {body}");
    }
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn one_passkey_answer_sent_to_two_instances_at_once_signs_in_once() {
    let (a, b) = crate::support::two_instances(&[]).await;
    let jar = a.register("roamingkey").await;
    let mut laptop = device();
    add_passkey(&a, &jar, &mut laptop, "Laptop").await;
    // Begun on one instance; the answer replayed eight times at once, half to each.
    let begun = a
        .post("/api/auth/passkey_login_begin", &[], &Jar::default())
        .await;
    let mut ceremony = Jar::default();
    ceremony.absorb(&begun);
    let credential = answer_get(&a, begun, &mut laptop).await;
    let form = [("credential", credential.as_str())];
    let answers = futures::future::join_all((0..8).map(|i| {
        let app = if i % 2 == 0 { &a } else { &b };
        app.post("/api/auth/passkey_login_finish", &form, &ceremony)
    }))
    .await;
    let mut signed_in = 0;
    for answer in answers {
        match answer.status() {
            StatusCode::OK => signed_in += 1,
            _ => {
                assert_error(answer, 401, "token_expired").await;
            }
        }
    }
    assert_eq!(signed_in, 1, "one ceremony, one session");
}
