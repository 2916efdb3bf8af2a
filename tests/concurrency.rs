//! The guarantees of the Security section, attacked the way an attacker would: many requests in
//! flight at once, from several loopback addresses (127.0.0.x), on whichever database the run
//! uses (`scripts/test` runs this file on SQLite, then on PostgreSQL), and on two instances where
//! state is shared (those tests need PostgreSQL and are ignored without it).
//!
//! Every test ends by checking the server log: no 500 and no internal error, whatever raced.
#![cfg(feature = "ssr")]

mod support;

use futures::future::join_all;
use reqwest::{header, Response, StatusCode};
use std::{
    sync::{atomic::Ordering, Arc},
    time::{Duration, Instant},
};
use support::{spawn_app_with, Jar, TestApp, Visitor, PASSWORD};

async fn app_with(vars: &[(&str, &str)]) -> TestApp {
    support::log::watch();
    spawn_app_with(vars).await
}

// ---- helpers ----------------------------------------------------------------------------

/// Limits for attacks on the failure budget: the budget is what is under test, so the
/// per-address limit is set out of the way.
const BUDGET: &str = "10";
const BUDGET_VARS: [(&str, &str); 2] = [
    ("LOGIN_MAX_FAILURES", BUDGET),
    ("IP_ATTEMPTS_PER_MINUTE", "100000"),
];

fn retry_after(response: &Response) -> u64 {
    response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .unwrap_or(0)
}

/// What an attempt came to, as the attacker sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 200: the password was right.
    In,
    /// 401 invalid_credentials: the password was verified, and was wrong.
    Verified,
    /// 429 with a long Retry-After: the failure budget is spent.
    Locked,
    Other(u16),
}

/// Sends `attempt` until it is no longer refused for a busy hashing queue (429 with
/// `Retry-After: 1`, which says "your share is in use, come back in a second"), as a patient
/// attacker would, and says what it came to.
async fn persist<F, Fut>(mut attempt: F) -> Outcome
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    for _ in 0..2_000 {
        let response = attempt().await;
        match response.status().as_u16() {
            200 => return Outcome::In,
            401 => {
                let code = support::error_code(response).await;
                assert_eq!(code.as_deref(), Some("invalid_credentials"));
                return Outcome::Verified;
            }
            429 if retry_after(&response) > 1 => return Outcome::Locked,
            429 => tokio::time::sleep(Duration::from_millis(20)).await,
            other => return Outcome::Other(other),
        }
    }
    panic!("still refused as busy after 2,000 tries");
}

fn count(outcomes: &[Outcome], which: Outcome) -> usize {
    outcomes.iter().filter(|o| **o == which).count()
}

/// Twenty visitors, each from an address of its own.
fn crowd(app: &TestApp) -> Vec<Visitor> {
    (2..22).map(|n| app.visitor_from(n)).collect()
}

// ---- item 1: the failed-login budget is a hard cap ----------------------------------------

/// 299 wrong logins at once from 20 addresses, through the email and the username in turn, then
/// the right password: exactly the budget's worth of wrong passwords is verified, and the right
/// one is refused. (At ef7d2e1: 299 verified, then the right one got in.) The right one comes
/// after the rest, not among them: sent at the same moment, it may draw a reservation before
/// the budget is spent and rightly get in, which proves nothing either way.
#[tokio::test]
async fn concurrent_guesses_from_many_addresses_verify_exactly_the_budget_and_no_more() {
    let app = app_with(&BUDGET_VARS).await;
    app.register("target").await;
    let crowd = crowd(&app);
    let guesses = (0..299).map(|i| {
        let visitor = crowd[i % crowd.len()].clone();
        let login = if i % 2 == 0 {
            "target"
        } else {
            "TARGET@example.org"
        };
        let password = format!("guess {i}");
        async move { persist(|| visitor.try_login(login, &password)).await }
    });
    let outcomes = join_all(guesses).await;
    println!(
        "299 concurrent wrong guesses: {} verified, {} refused as locked",
        count(&outcomes, Outcome::Verified),
        count(&outcomes, Outcome::Locked),
    );
    assert_eq!(count(&outcomes, Outcome::Verified), 10, "{outcomes:?}");
    assert_eq!(count(&outcomes, Outcome::Locked), 289, "{outcomes:?}");
    let right = persist(|| crowd[0].try_login("target", PASSWORD)).await;
    assert_eq!(right, Outcome::Locked, "the right password came too late");
    support::log::assert_no_server_errors();
}

/// The budget reserved in the database directly, by 100 tasks at once through two separate
/// connections to it (two instances on PostgreSQL): exactly `max` are granted.
#[tokio::test]
async fn concurrent_reservations_of_one_budget_grant_exactly_its_size() {
    let app = app_with(&[]).await;
    let (one, two) = (
        support::open_store(&app).await,
        support::open_store(&app).await,
    );
    let budget = gatehouse::store::Budget {
        max: 7,
        window: Duration::from_secs(900),
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let reservations = (0..100).map(|i| {
        let store = if i % 2 == 0 { one.clone() } else { two.clone() };
        async move { store.reserve_attempt("k", now, budget).await.unwrap() }
    });
    let granted = join_all(reservations)
        .await
        .into_iter()
        .filter(|r| matches!(r, gatehouse::store::Reservation::Granted { .. }))
        .count();
    assert_eq!(granted, 7);
}

// ---- item 2: a stolen access token cannot brute-force the password -----------------------

/// 299 password changes at once with one stolen access token and wrong current passwords, from
/// 20 addresses, then the right one: the same budget caps them, and the thief never gets to set
/// a password. (At ef7d2e1: 299 verified, then the thief's new password worked.)
#[tokio::test]
async fn concurrent_password_changes_with_a_stolen_token_verify_only_the_budget() {
    let app = app_with(&BUDGET_VARS).await;
    let stolen = app.register("robbed").await;
    let crowd = crowd(&app);
    let thief_password = "thief's very own passphrase 7";
    let change = |visitor: Visitor, current: String| {
        let stolen = stolen.clone();
        async move {
            let form = [
                ("current_password", current.as_str()),
                ("new_password", thief_password),
            ];
            persist(|| visitor.post("/api/auth/change_password", &form, &stolen)).await
        }
    };
    let guesses = (0..299).map(|i| change(crowd[i % crowd.len()].clone(), format!("guess {i}")));
    let outcomes = join_all(guesses).await;
    println!(
        "299 concurrent change_password guesses: {} verified, {} locked",
        count(&outcomes, Outcome::Verified),
        count(&outcomes, Outcome::Locked),
    );
    assert_eq!(count(&outcomes, Outcome::Verified), 10, "{outcomes:?}");
    assert_eq!(count(&outcomes, Outcome::Locked), 289, "{outcomes:?}");
    let right = change(crowd[0].clone(), PASSWORD.to_owned()).await;
    assert_eq!(right, Outcome::Locked, "the thief never sets a password");
    let thief_login = app.try_login("robbed", thief_password).await;
    assert_ne!(thief_login.status(), StatusCode::OK);
    support::log::assert_no_server_errors();
}

// ---- item 3: hashing is shared fairly -----------------------------------------------------

/// One account sends 1,000 password changes from one address at once; half a second in, an
/// unrelated person logs in from elsewhere. The flood is refused at once beyond its small
/// share of the hashing queue, and the person gets in. (At ef7d2e1 the flood queued whole and
/// the login waited 19 s.) How long the login took is printed, not asserted: speed is for the
/// benchmarks.
#[tokio::test]
async fn a_flood_of_password_changes_is_refused_beyond_its_share_and_another_login_gets_in() {
    // The hashing share is under test, not the per-address connection cap.
    let app = app_with(&[
        ("IP_ATTEMPTS_PER_MINUTE", "100000"),
        ("MAX_CONNECTIONS_PER_ADDRESS", "5000"),
    ])
    .await;
    app.register("bystander").await;
    let flooder = app.visitor_from(30);
    let register = flooder
        .try_register("flooder@example.org", "flooder", "F")
        .await;
    assert_eq!(register.status(), StatusCode::OK);
    let mut jar = Jar::default();
    jar.absorb(&register);
    let flood = (0..1000).map(|_| {
        let (flooder, jar) = (flooder.clone(), jar.clone());
        async move {
            // Their own password, so no budget ever stops them: only the share can. (The new
            // one is the same, so each request verifies the password and then answers 400,
            // leaving the password as it was for the next.)
            flooder
                .post(
                    "/api/auth/change_password",
                    &[("current_password", PASSWORD), ("new_password", PASSWORD)],
                    &jar,
                )
                .await
                .status()
                .as_u16()
        }
    });
    let bystander = app.visitor_from(31);
    let login = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let started = Instant::now();
        let status = bystander.try_login("bystander", PASSWORD).await.status();
        (status, started.elapsed())
    };
    let (statuses, (status, took)) = tokio::join!(join_all(flood), login);
    let refused = statuses.iter().filter(|s| **s == 429).count();
    println!("flood of 1,000: {refused} refused at once; the other login took {took:?}");
    assert_eq!(status, StatusCode::OK);
    assert!(refused >= 900, "{refused} of 1,000 refused");
    assert!(
        statuses.iter().all(|s| [400, 429].contains(s)),
        "{statuses:?}"
    );
    support::log::assert_no_server_errors();
}

// ---- item 4: a login in flight does not outlive a password change -------------------------

/// Eight loops log in with the old password, from eight addresses, while the owner changes it.
/// Once the change has answered, no session those logins started works, whenever each began.
/// (At ef7d2e1: sessions started 67-127 ms before the change answered kept refreshing.)
#[tokio::test]
async fn logins_racing_a_password_change_leave_no_session_of_the_old_password() {
    let app = app_with(&[("IP_ATTEMPTS_PER_MINUTE", "100000")]).await;
    let owner = app.register("changer").await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops = (0..8).map(|n| {
        let visitor = app.visitor_from(40 + n);
        let stop = stop.clone();
        async move {
            let mut sessions = Vec::new();
            while !stop.load(Ordering::SeqCst) {
                let response = visitor.try_login("changer", PASSWORD).await;
                if response.status() != StatusCode::OK {
                    // A login that lost to the change does not mark its browser as trusted.
                    let lines = support::set_cookies(&response);
                    assert!(
                        lines.iter().all(|l| !l.starts_with(support::DEVICE)),
                        "a refused login set a device cookie: {lines:?}"
                    );
                }
                if response.status() == StatusCode::OK {
                    let mut jar = Jar::default();
                    jar.absorb(&response);
                    sessions.push(jar);
                }
            }
            sessions
        }
    });
    let change = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let form = [
            ("current_password", PASSWORD),
            ("new_password", "the owner's new passphrase 9"),
        ];
        // The logins hold the account's share of the hashing queue; the owner tries again
        // when told to, as the client does.
        let changed = persist(|| app.post("/api/auth/change_password", &form, &owner)).await;
        assert_eq!(changed, Outcome::In);
        // Logins keep coming for a while after the answer.
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.store(true, Ordering::SeqCst);
    };
    let (sessions, ()) = tokio::join!(join_all(loops), change);
    let sessions: Vec<Jar> = sessions.into_iter().flatten().collect();
    assert!(!sessions.is_empty(), "some logins got in before the change");
    let mut alive = 0;
    for jar in &sessions {
        let me = app.get("/api/auth/me", jar).await.status();
        let refresh = app.post("/api/auth/refresh", &[], jar).await.status();
        if me == StatusCode::OK || refresh == StatusCode::OK {
            alive += 1;
        }
    }
    println!(
        "{} sessions of the old password started during the race; {alive} still work",
        sessions.len()
    );
    assert_eq!(alive, 0);
    support::log::assert_no_server_errors();
}

// ---- item 5: an end always beats a refresh ------------------------------------------------

/// Which way a session is ended in a round.
#[derive(Clone, Copy, Debug)]
enum End {
    Logout,
    RevokedByOwner,
    LogoutEverywhere,
}

/// A refresh of a session and an end of it, sent at once, `rounds` times (on `a` and `b`,
/// which may be one instance or two): the end answers 200, the refresh 200 or 401, never 500,
/// and afterwards no token of the session works and no refresh token of it is live in the
/// database. (At ef7d2e1 on PostgreSQL: "deadlock detected" 88 times in 200 rounds, 500s on
/// both sides, and refreshed tokens that outlived the logout.)
async fn race_refreshes_against_ends(a: &TestApp, b: &TestApp, rounds: usize) {
    let db = support::inspect(a).await;
    let owner = std::sync::Mutex::new(a.register("racer").await);
    for round in 0..rounds {
        let end = [End::Logout, End::RevokedByOwner, End::LogoutEverywhere][round % 3];
        let victim = a.login("racer").await;
        let session_id = session_of(a, &victim).await;
        let ending = async {
            match end {
                End::Logout => b.post("/api/auth/logout", &[], &victim).await,
                End::RevokedByOwner => {
                    let form = [("session_id", session_id.as_str())];
                    let owner = owner.lock().unwrap().clone();
                    b.post("/api/auth/revoke_session", &form, &owner).await
                }
                End::LogoutEverywhere => b.post("/api/auth/logout_all", &[], &victim).await,
            }
        };
        let (refreshed, ended) = tokio::join!(a.post("/api/auth/refresh", &[], &victim), ending);
        assert_eq!(ended.status(), StatusCode::OK, "round {round}: {end:?}");
        let refresh_status = refreshed.status();
        assert!(
            [StatusCode::OK, StatusCode::UNAUTHORIZED].contains(&refresh_status),
            "round {round}: refresh answered {refresh_status}"
        );
        let mut after = victim.clone();
        after.absorb(&refreshed);
        let live: i64 = sqlx::query_scalar(&format!(
            "SELECT COUNT(*) FROM refresh_tokens WHERE session_id = '{session_id}' AND state = 'live'"
        ))
        .fetch_one(&db)
        .await
        .unwrap();
        assert_eq!(
            live, 0,
            "round {round}: a refresh token of the ended session is live"
        );
        for app in [a, b] {
            support::within(
                Duration::from_secs(1),
                "the ended session refused",
                || async {
                    app.get("/api/auth/me", &after).await.status() == StatusCode::UNAUTHORIZED
                },
            )
            .await;
            let again = app.post("/api/auth/refresh", &[], &after).await;
            assert_eq!(again.status(), StatusCode::UNAUTHORIZED, "round {round}");
        }
        if matches!(end, End::LogoutEverywhere) {
            // That ended the owner's own session too.
            *owner.lock().unwrap() = a.login("racer").await;
        }
    }
    support::log::assert_no_server_errors();
}

/// The id of the session a jar belongs to, as its sessions list marks it.
async fn session_of(app: &TestApp, jar: &Jar) -> String {
    let list: serde_json::Value = app
        .get("/api/auth/sessions", jar)
        .await
        .json()
        .await
        .unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .find(|s| s["current"] == true)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn refreshes_racing_every_kind_of_end_never_answer_500_and_the_end_always_wins() {
    let app = app_with(&[("IP_ATTEMPTS_PER_MINUTE", "100000")]).await;
    race_refreshes_against_ends(&app, &app, 150).await;
}

#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn refreshes_on_one_instance_racing_ends_on_the_other_never_answer_500_and_the_end_wins() {
    let vars = [("IP_ATTEMPTS_PER_MINUTE", "100000")];
    let (a, b) = two_instances(&vars).await;
    race_refreshes_against_ends(&a, &b, 150).await;
}

// ---- item 6: the budget is shared by instances ---------------------------------------------

async fn two_instances(vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    support::log::watch();
    support::two_instances(vars).await
}

/// 200 guesses at once, alternating between two instances and spread over 20 addresses: the
/// two together verify exactly one budget's worth. (At ef7d2e1 each instance had its own.)
#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn two_instances_share_one_failure_budget_under_concurrent_guesses() {
    let (a, b) = two_instances(&BUDGET_VARS).await;
    a.register("shared").await;
    let visitors: Vec<Visitor> = (0..20)
        .map(|n| {
            if n % 2 == 0 {
                a.visitor_from(60 + n)
            } else {
                b.visitor_from(60 + n)
            }
        })
        .collect();
    let guesses = (0..200).map(|i| {
        let visitor = visitors[i % visitors.len()].clone();
        async move {
            let guess = format!("guess {i}");
            persist(|| visitor.try_login("shared", &guess)).await
        }
    });
    let outcomes = join_all(guesses).await;
    assert_eq!(count(&outcomes, Outcome::Verified), 10, "{outcomes:?}");
    assert_eq!(count(&outcomes, Outcome::Locked), 190, "{outcomes:?}");
    support::log::assert_no_server_errors();
}

// ---- item 11: the owner's browser is not locked out by strangers ---------------------------

/// Strangers spend the account's budget at once from 20 addresses; the owner's browser, which
/// logged in before, still gets in with the right password, while a new browser is refused.
/// The owner's browser has a budget of its own, which wrong passwords from it spend.
#[tokio::test]
async fn strangers_locking_an_account_at_once_do_not_lock_out_the_owners_browser() {
    let app = app_with(&BUDGET_VARS).await;
    app.register("besieged").await;
    let owners_browser = app.login("besieged").await;
    let device = Jar(owners_browser
        .0
        .iter()
        .filter(|(name, _)| name.as_str() == support::DEVICE)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect());
    assert!(
        device.get(support::DEVICE).is_some(),
        "a login marks the browser"
    );
    let crowd = crowd(&app);
    let strangers = (0..60).map(|i| {
        let visitor = crowd[i % crowd.len()].clone();
        async move { persist(|| visitor.try_login("besieged", "not the password")).await }
    });
    let outcomes = join_all(strangers).await;
    assert_eq!(count(&outcomes, Outcome::Verified), 10);
    let new_browser = app.try_login("besieged", PASSWORD).await;
    assert_eq!(new_browser.status(), StatusCode::TOO_MANY_REQUESTS);
    // Strangers keep hammering the spent budget from 20 addresses while the owner logs in: a
    // spent budget holds no place in the hashing queue, so they cannot crowd the owner out.
    let hammering = (0..400).map(|i| {
        let visitor = crowd[i % crowd.len()].clone();
        async move { visitor.try_login("besieged", "still not it").await.status() }
    });
    let owners_login = async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let form = [("login", "besieged"), ("password", PASSWORD)];
        app.post("/api/auth/login", &form, &device).await.status()
    };
    let (hammered, owner) = tokio::join!(join_all(hammering), owners_login);
    assert!(hammered.iter().all(|s| *s == StatusCode::TOO_MANY_REQUESTS));
    assert_eq!(owner, StatusCode::OK, "the owner's browser gets in at once");
    // Its own budget is spent by wrong passwords sent from it, and then it is locked too.
    let from_device = (0..30).map(|_| {
        let (app, device) = (&app, device.clone());
        async move {
            persist(|| {
                app.post(
                    "/api/auth/login",
                    &[("login", "besieged"), ("password", "typo")],
                    &device,
                )
            })
            .await
        }
    });
    let outcomes = join_all(from_device).await;
    assert_eq!(count(&outcomes, Outcome::Verified), 10);
    support::log::assert_no_server_errors();
}

/// A password change makes every device cookie of the account worthless: cookies gathered
/// while someone knew the old password buy no guesses at the new one. Three browsers logged in
/// before the change; afterwards, guesses from all three at once draw on the account's one
/// budget.
#[tokio::test]
async fn device_cookies_from_before_a_password_change_buy_no_guesses_at_the_new_one() {
    let app = app_with(&BUDGET_VARS).await;
    let owner = app.register("rekeyed").await;
    let mut devices = Vec::new();
    for _ in 0..3 {
        let jar = app.login("rekeyed").await;
        devices.push(Jar(jar
            .0
            .into_iter()
            .filter(|(k, _)| k == support::DEVICE)
            .collect()));
    }
    let form = [
        ("current_password", PASSWORD),
        ("new_password", "a wholly different passphrase 3"),
    ];
    assert_eq!(
        persist(|| app.post("/api/auth/change_password", &form, &owner)).await,
        Outcome::In
    );
    let guesses = (0..60).map(|i| {
        let device = devices[i % devices.len()].clone();
        let visitor = app.visitor_from(80 + (i % 10) as u8);
        async move {
            let guess = format!("guess {i}");
            let form = [("login", "rekeyed"), ("password", guess.as_str())];
            persist(|| visitor.post("/api/auth/login", &form, &device)).await
        }
    });
    let outcomes = join_all(guesses).await;
    assert_eq!(count(&outcomes, Outcome::Verified), 10, "{outcomes:?}");
    support::log::assert_no_server_errors();
}

/// A budget spent at the very end of its window stays spent for a whole window after its last
/// attempt: no span of one window's length ever grants more than the budget (before, a window
/// ending just after it was spent gave a fresh budget at once: twice the budget in seconds).
#[tokio::test]
async fn a_spent_budget_stays_spent_a_whole_window_after_its_last_attempt() {
    let app = app_with(&[]).await;
    let store = support::open_store(&app).await;
    let budget = gatehouse::store::Budget {
        max: 10,
        window: Duration::from_secs(900),
    };
    let t0 = time::OffsetDateTime::now_utc().unix_timestamp();
    let granted_at = |at: i64, n: usize| {
        let store = store.clone();
        async move {
            let mut granted = 0;
            for _ in 0..n {
                if matches!(
                    store.reserve_attempt("edge", at, budget).await.unwrap(),
                    gatehouse::store::Reservation::Granted { .. }
                ) {
                    granted += 1;
                }
            }
            granted
        }
    };
    assert_eq!(granted_at(t0, 1).await, 1);
    assert_eq!(
        granted_at(t0 + 899, 20).await,
        9,
        "the rest of the budget, then spent"
    );
    assert_eq!(
        granted_at(t0 + 900, 20).await,
        0,
        "still within a window of the last"
    );
    assert_eq!(
        granted_at(t0 + 899 + 900, 20).await,
        10,
        "a whole window later: afresh"
    );
}
