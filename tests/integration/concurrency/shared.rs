//! Budgets shared by instances, and the owner's browser not locked out by strangers.

use super::*;

// ---- item 6: the budget is shared by instances ---------------------------------------------

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
