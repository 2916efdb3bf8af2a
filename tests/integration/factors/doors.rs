//! Every way into a session passes the second factor: a login's password, a reset link's new
//! password, and anything added later (the list below fails when a new one appears).

use super::*;

#[tokio::test]
async fn a_reset_link_sets_the_password_but_the_session_waits_for_the_code() {
    let app = spawn_app().await;
    let account = protected(&app, "resetting").await;
    let email = "resetting@example.org";
    let token = crate::operations::reset_token(&app, email).await;
    let token = token.as_str();
    let new_password = "a completely new passphrase 42";
    let form = [("token", token), ("new_password", new_password)];
    let answer = app
        .post("/api/auth/reset_password", &form, &Jar::default())
        .await;
    let mut jar = Jar::default();
    jar.absorb(&answer);
    assert_no_session(&jar);
    assert_error(answer, 401, "mfa_required").await;
    // The reset happened: every session ended, the new password is the account's.
    assert_error(
        app.get("/api/auth/sessions", &account.jar).await,
        401,
        "token_revoked",
    )
    .await;
    assert_error(
        app.try_login("resetting", PASSWORD).await,
        401,
        "invalid_credentials",
    )
    .await;
    // The code completes the sign-in the link began.
    let done = second_step(&app, &jar, &account.app.code_at(unix_now() + 30)).await;
    assert_eq!(done.status(), StatusCode::OK);
    let mut signed_in = jar.clone();
    signed_in.absorb(&done);
    assert_eq!(
        sessions(&app, &signed_in).await[0]["method"],
        "password_totp"
    );
}

#[tokio::test]
async fn a_second_step_dies_when_the_password_changes_meanwhile() {
    let app = spawn_app().await;
    let account = protected(&app, "raced").await;
    let jar = first_step(&app, "raced").await;
    let form = [
        ("current_password", PASSWORD),
        ("new_password", "another quite long passphrase 7"),
    ];
    let changed = app
        .post("/api/auth/change_password", &form, &account.jar)
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let refused = second_step(&app, &jar, &account.app.code_at(unix_now() + 30)).await;
    let mut after = jar.clone();
    after.absorb(&refused);
    assert_no_session(&after);
    assert_error(refused, 401, "invalid_credentials").await;
}

#[tokio::test]
async fn a_second_step_is_bound_to_the_browser_that_typed_the_password() {
    let app = spawn_app().await;
    let account = protected(&app, "bound").await;
    first_step(&app, "bound").await;
    // Another browser, with the right code but not the step's cookie, gets nothing.
    let code = account.app.code_at(unix_now() + 30);
    let stranger = second_step(&app, &Jar::default(), &code).await;
    assert_error(stranger, 401, "token_expired").await;
    let forged = Jar([(CHALLENGE.to_owned(), "A".repeat(43))]
        .into_iter()
        .collect());
    assert_error(
        second_step(&app, &forged, &code).await,
        401,
        "token_expired",
    )
    .await;
}

/// Every place a session starts, by file: each passes an `admission::Admitted`, which only
/// `auth/second_factor.rs` grants (and `Admitted::new_account`, for an account with no factor). A new place fails this list until it has a test above.
#[test]
fn every_way_to_start_a_session_is_listed_and_passes_the_second_factor() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut starts = Vec::new();
    let mut makers = Vec::new();
    let mut stack = vec![root.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let file = path.strip_prefix(&root).unwrap().display().to_string();
            // `CurrentRequest::start_session`, not the store's method it ends in.
            starts.extend(
                text.match_indices(".start_session(")
                    .filter(|(at, _)| !text[..*at].ends_with("store"))
                    .map(|_| file.clone()),
            );
            if text.contains("Admitted::granted(") {
                makers.push(file.clone());
            }
            // The store's insert is reached only through these sequences.
            if text.contains("insert_session(") && !file.starts_with("store/") {
                panic!("{file} inserts a session outside the store's sequences");
            }
        }
    }
    starts.sort();
    assert_eq!(
        starts,
        [
            // a registration (a new account has no factor yet)
            "auth/login.rs",
            // a reset link's new password, when the account has no second factor
            "auth/recovery.rs",
            // a login's password alone, or with its second step, or a passkey
            "auth/sign_in.rs",
        ],
        "a new way into a session: make it pass `second_factor`, test it in \
         tests/integration/factors/doors.rs, and list it here"
    );
    makers.sort();
    assert_eq!(
        makers,
        // after every factor the account has; or a passkey, which is both
        ["auth/passkeys.rs", "auth/second_factor.rs"],
        "leave to start a session is granted in these places only"
    );
}

#[tokio::test]
async fn a_second_step_begun_before_the_account_was_disabled_is_dead_once_it_is_enabled() {
    use gatehouse::store::{Actor, Event, EventKind, UserKey};
    let app = spawn_app().await;
    let account = protected(&app, "paused").await;
    let jar = first_step(&app, "paused").await;
    let store = crate::support::open_store(&app).await;
    let user = store
        .find_user_by(UserKey::Username("paused"))
        .await
        .unwrap()
        .unwrap();
    let by_operator = |kind| Event {
        user_id: user.id.clone(),
        kind,
        at: time::OffsetDateTime::now_utc(),
        actor: Actor::Operator,
        ip: None,
        device: None,
        session_id: None,
    };
    for (disabled, kind) in [
        (true, EventKind::AccountDisabled),
        (false, EventKind::AccountEnabled),
    ] {
        store
            .set_disabled(&user.id, disabled, &by_operator(kind))
            .await
            .unwrap()
            .unwrap();
    }
    let refused = second_step(&app, &jar, &account.codes[0]).await;
    assert_error(refused, 401, "token_expired").await;
    let left = store
        .factor_summary(&user.id)
        .await
        .unwrap()
        .recovery_codes_left;
    assert_eq!(left, 10, "the refused step spent no code");
}

#[tokio::test]
async fn a_code_is_spent_only_by_the_request_that_signs_in_with_it() {
    let app = spawn_app().await;
    let account = protected(&app, "sparing").await;
    // After a password change, the step cannot sign in: its code is not spent.
    let stale = first_step(&app, "sparing").await;
    let form = [
        ("current_password", PASSWORD),
        ("new_password", "another quite long passphrase 7"),
    ];
    let changed = app
        .post("/api/auth/change_password", &form, &account.jar)
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    let mut owner = account.jar.clone();
    owner.absorb(&changed);
    assert_error(
        second_step(&app, &stale, &account.codes[0]).await,
        401,
        "invalid_credentials",
    )
    .await;
    // One step carried by three requests with three codes: one signs in, two codes stay good.
    let answer = app
        .try_login("sparing", "another quite long passphrase 7")
        .await;
    let mut step = Jar::default();
    step.absorb(&answer);
    let codes = &account.codes[..3];
    let answers = futures::future::join_all(
        codes
            .iter()
            .map(|code| async { second_step(&app, &step, code).await.status() }),
    )
    .await;
    assert_eq!(
        answers.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{answers:?}"
    );
    let status: Value = app
        .get("/api/auth/factors", &owner)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(status["recovery_codes_left"], 9, "{answers:?}");
}
