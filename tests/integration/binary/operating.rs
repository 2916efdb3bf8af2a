//! What an operator meets: the log as JSON lines with a request id on every line.

use super::*;

#[tokio::test]
async fn json_logs_are_one_object_per_line_carrying_the_id_echoed_in_x_request_id() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[("LOG_FORMAT", "json")]).await;
    let asked = client()
        .get(format!("{}/api/auth/me", server.base))
        .header("x-request-id", "chosen-by-the-client")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::UNAUTHORIZED);
    let id = asked.headers()["x-request-id"].to_str().unwrap().to_owned();
    // The client is no trusted proxy: its id is replaced by the server's own.
    assert_ne!(id, "chosen-by-the-client");

    let log_file = dir.path().join("server.log");
    let read = || std::fs::read_to_string(&log_file).unwrap();
    support::within(Duration::from_secs(5), "the request line", || async {
        read().contains(&id)
    })
    .await;
    let lines = read();
    let mut found = false;
    for line in lines.lines() {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            object["timestamp"].is_string() && object["level"].is_string(),
            "{line}"
        );
        if object["span"]["request_id"] == id {
            assert_eq!(object["path"], "/api/auth/me", "{line}");
            assert_eq!(object["status"], 401, "{line}");
            found = true;
        }
    }
    assert!(found, "no request line carried {id}:\n{lines}");
}

#[tokio::test]
async fn a_trusted_proxys_request_id_is_kept_and_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start_with(dir.path(), &[("TRUSTED_PROXIES", "127.0.0.1")]).await;
    let asked = client()
        .get(format!("{}/healthz", server.base))
        .header("x-request-id", "edge-7f3a")
        .send()
        .await
        .unwrap();
    assert_eq!(asked.headers()["x-request-id"], "edge-7f3a");
}

/// The value of the series `name` whose labels include every pair of `labels`, or 0 when the
/// series has not appeared (a counter that never counted is not rendered).
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| line.rsplit_once(' '))
        .filter(|(key, _)| {
            let (metric, rest) = key.split_once('{').unwrap_or((key, ""));
            metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, value)| value.parse::<f64>().unwrap())
        .sum()
}

async fn scrape(metrics: &str) -> String {
    let answer = client()
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK);
    answer.text().await.unwrap()
}

#[tokio::test]
async fn metrics_count_a_scripted_sequence_exactly_on_their_own_address() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = format!(
        "127.0.0.1:{}",
        TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    );
    let server = Server::start_with(
        dir.path(),
        &[
            ("METRICS_ADDR", &metrics),
            ("REFRESH_REUSE_GRACE", "1s"),
            ("LOGIN_MAX_FAILURES", "3"),
        ],
    )
    .await;
    // Never on the public address.
    let public = client()
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(public.status(), StatusCode::NOT_FOUND);

    let owner = server.register("metered").await;
    server.register("locked").await;
    let server = &server;
    let login = |name: &'static str, password: &'static str| async move {
        let form = [("login", name), ("password", password)];
        server.post("/api/auth/login", &form, &Jar::default()).await
    };
    // Two wrong passwords, then a right one: 2 failed, 1 ok.
    for _ in 0..2 {
        assert_eq!(login("metered", "wrong password 1").await.status(), 401);
    }
    let logged_in = login("metered", PASSWORD).await;
    assert_eq!(logged_in.status(), StatusCode::OK);
    let mut jar = Jar::default();
    jar.absorb(&logged_in);
    // Three wrong passwords spend `locked`'s budget, the fourth is refused: 3 failed, 1 limited.
    for _ in 0..3 {
        assert_eq!(login("locked", "wrong password 2").await.status(), 401);
    }
    assert_eq!(login("locked", "wrong password 2").await.status(), 429);

    // One rotation, the same token again at once (grace), and after the grace (reuse).
    let rotated = server.post("/api/auth/refresh", &[], &jar).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    assert_eq!(
        server.post("/api/auth/refresh", &[], &jar).await.status(),
        200
    );
    // Rotation times are kept in whole seconds: past 1 s is certain after 2.1 s.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(
        server.post("/api/auth/refresh", &[], &jar).await.status(),
        401
    );
    // No token at all.
    let anonymous = server.post("/api/auth/refresh", &[], &Jar::default()).await;
    assert_eq!(anonymous.status(), 401);
    // The registration's session logs out.
    assert_eq!(
        server.post("/api/auth/logout", &[], &owner).await.status(),
        200
    );
    let nowhere = client()
        .get(format!("{}/no/such/page", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);

    // Every queued mail delivered (into the outbox folder, with no SMTP server set).
    support::within(Duration::from_secs(10), "the outbox emptied", || async {
        let text = scrape(&metrics).await;
        series(&text, "gatehouse_mail_queued", &[]) == 0.0
            && series(&text, "gatehouse_mail_sent_total", &[]) > 0.0
    })
    .await;
    let text = scrape(&metrics).await;
    let logins = |outcome| series(&text, "gatehouse_logins_total", &[("outcome", outcome)]);
    assert_eq!(logins("ok"), 1.0, "{text}");
    assert_eq!(logins("failed"), 5.0, "{text}");
    assert_eq!(logins("limited"), 1.0, "{text}");
    let refreshes = |outcome| series(&text, "gatehouse_refreshes_total", &[("outcome", outcome)]);
    assert_eq!(refreshes("ok"), 1.0, "{text}");
    assert_eq!(refreshes("grace"), 1.0, "{text}");
    assert_eq!(refreshes("reused"), 1.0, "{text}");
    assert_eq!(refreshes("refused"), 1.0, "{text}");
    assert_eq!(
        series(&text, "gatehouse_sessions_started_total", &[]),
        3.0,
        "{text}"
    );
    let ended = |reason| {
        series(
            &text,
            "gatehouse_sessions_ended_total",
            &[("reason", reason)],
        )
    };
    assert_eq!(ended("reuse"), 1.0, "{text}");
    assert_eq!(ended("logout"), 1.0, "{text}");
    let requests = |route, status| {
        series(
            &text,
            "gatehouse_http_request_duration_seconds_count",
            &[("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("/api/auth/login", "401"), 5.0, "{text}");
    assert_eq!(requests("/api/auth/login", "429"), 1.0, "{text}");
    assert_eq!(requests("/api/auth/refresh", "200"), 2.0, "{text}");
    // `/no/such/page`, and `/metrics` asked of the public address.
    assert_eq!(requests("unmatched", "404"), 2.0, "{text}");
    // Per registration, the strength check and the hash; per login attempt that was checked,
    // one verification (the refused one took none).
    let jobs = series(&text, "gatehouse_password_hash_wait_seconds_count", &[]);
    assert_eq!(jobs, 2.0 * 2.0 + 6.0, "{text}");
    let delivered = std::fs::read_dir(dir.path().join("outbox"))
        .unwrap()
        .count();
    assert_eq!(
        series(&text, "gatehouse_mail_sent_total", &[]),
        delivered as f64,
        "{text}"
    );
    assert!(
        text.contains("gatehouse_db_connections{state=\"in_use\"}"),
        "{text}"
    );
    assert!(
        text.contains("gatehouse_password_hash_queue_depth 0"),
        "{text}"
    );
}

/// `gatehouse <args>` on the database of the server in `dir`, as an operator runs it.
async fn gatehouse(dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir)
        .envs(base_settings(dir).await)
        .args(args)
        .output()
        .unwrap();
    (
        output.status.success(),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

async fn me(server: &Server, jar: &Jar) -> StatusCode {
    client()
        .get(format!("{}/api/auth/me", server.base))
        .header(reqwest::header::COOKIE, jar.header())
        .send()
        .await
        .unwrap()
        .status()
}

async fn login(server: &Server, name: &str) -> reqwest::Response {
    server
        .post(
            "/api/auth/login",
            &[("login", name), ("password", PASSWORD)],
            &Jar::default(),
        )
        .await
}

#[tokio::test]
async fn an_account_disabled_from_the_command_line_is_refused_by_the_running_server_within_a_second(
) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let jar = server.register("dora").await;
    let other = server.register("otto").await;
    assert_eq!(me(&server, &jar).await, StatusCode::OK);

    let (ok, out, err) = gatehouse(dir.path(), &["users", "disable", "dora@example.org"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("dora") && out.contains("disabled; 1 session(s) ended"),
        "{out}"
    );
    let took = support::within(Duration::from_secs(1), "the session refused", || async {
        me(&server, &jar).await == StatusCode::UNAUTHORIZED
    })
    .await;
    println!("refused after {took:?}");
    assert_eq!(
        support::error_code(login(&server, "dora").await)
            .await
            .as_deref(),
        Some("account_disabled")
    );
    // A wrong password still says only that: the refusal is for the owner's password alone.
    let wrong = server
        .post(
            "/api/auth/login",
            &[("login", "dora"), ("password", "wrong, sorry")],
            &Jar::default(),
        )
        .await;
    assert_eq!(
        support::error_code(wrong).await.as_deref(),
        Some("invalid_credentials")
    );
    // Other accounts go on.
    assert_eq!(me(&server, &other).await, StatusCode::OK);

    let (ok, out, _) = gatehouse(dir.path(), &["--json", "users", "show", "dora"]).await;
    assert!(ok);
    let shown: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(shown["disabled_at"].is_string(), "{shown}");
    assert_eq!(shown["sessions"].as_array().unwrap().len(), 0, "{shown}");

    let (ok, _, err) = gatehouse(dir.path(), &["users", "enable", "dora"]).await;
    assert!(ok, "{err}");
    assert_eq!(login(&server, "dora").await.status(), StatusCode::OK);
    let (ok, out, _) = gatehouse(dir.path(), &["--json", "events", "dora"]).await;
    assert!(ok);
    let events: serde_json::Value = serde_json::from_str(&out).unwrap();
    let kinds: Vec<(&str, &str)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("logged_in", "owner"),
            ("account_enabled", "operator"),
            ("login_failed", "stranger"),
            ("account_disabled", "operator"),
            ("registered", "owner"),
        ]
    );
}

#[tokio::test]
async fn sessions_revoked_from_the_command_line_are_refused_by_the_running_server_within_a_second()
{
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let first = server.register("sal").await;
    let mut second = Jar::default();
    second.absorb(&login(&server, "sal").await);

    let (ok, out, err) = gatehouse(dir.path(), &["--json", "sessions", "list", "sal"]).await;
    assert!(ok, "{err}");
    let sessions: serde_json::Value = serde_json::from_str(&out).unwrap();
    let sessions = sessions.as_array().unwrap();
    assert_eq!(sessions.len(), 2, "{out}");
    // Newest first: the login's.
    let newest = sessions[0]["id"].as_str().unwrap();
    let (ok, _, err) = gatehouse(dir.path(), &["sessions", "revoke", newest]).await;
    assert!(ok, "{err}");
    support::within(
        Duration::from_secs(1),
        "the revoked session refused",
        || async { me(&server, &second).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert_eq!(
        me(&server, &first).await,
        StatusCode::OK,
        "the other session goes on"
    );

    let (ok, out, _) = gatehouse(dir.path(), &["sessions", "revoke-all", "sal"]).await;
    assert!(ok);
    assert!(out.contains("1 session(s) ended"), "{out}");
    support::within(Duration::from_secs(1), "every session refused", || async {
        me(&server, &first).await == StatusCode::UNAUTHORIZED
    })
    .await;
    let refreshed = server.post("/api/auth/refresh", &[], &first).await;
    assert_eq!(refreshed.status(), StatusCode::UNAUTHORIZED);

    let (ok, _, err) = gatehouse(dir.path(), &["sessions", "revoke", "no-such-session"]).await;
    assert!(!ok);
    assert!(err.contains("no live session has the id"), "{err}");
    // One already ended is not ended again (nor written to the trail again).
    let (ok, _, err) = gatehouse(dir.path(), &["sessions", "revoke", newest]).await;
    assert!(!ok && err.contains("no live session"), "{err}");
}

#[tokio::test]
async fn an_account_deleted_from_the_command_line_needs_yes_and_is_gone_from_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let jar = server.register("del").await;
    server.register("keep").await;

    let (ok, out, _) = gatehouse(dir.path(), &["users", "list"]).await;
    assert!(ok);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("ID") && lines[0].contains("USERNAME"),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "a header and two accounts: {out}");

    let (ok, _, err) = gatehouse(dir.path(), &["users", "delete", "del"]).await;
    assert!(!ok);
    assert!(err.contains("--yes"), "{err}");
    assert_eq!(
        me(&server, &jar).await,
        StatusCode::OK,
        "nothing was deleted"
    );

    let (ok, _, err) = gatehouse(dir.path(), &["users", "delete", "del", "--yes"]).await;
    assert!(ok, "{err}");
    support::within(
        Duration::from_secs(1),
        "the deleted account's session refused",
        || async { me(&server, &jar).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert_eq!(
        login(&server, "del").await.status(),
        StatusCode::UNAUTHORIZED
    );
    let (ok, _, err) = gatehouse(dir.path(), &["users", "show", "del"]).await;
    assert!(!ok && err.contains("no account has"), "{err}");
    let (ok, out, _) = gatehouse(dir.path(), &["migrate"]).await;
    assert!(ok && out.contains("up to date"), "{out}");
}

/// The `kid` in the header of the access token in `jar`, if any.
fn access_kid(jar: &Jar) -> Option<String> {
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    let token = jar.get(support::ACCESS).expect("an access token");
    let header = URL_SAFE_NO_PAD
        .decode(token.split('.').next().unwrap())
        .unwrap();
    let header: serde_json::Value = serde_json::from_slice(&header).unwrap();
    header["kid"].as_str().map(str::to_owned)
}

async fn keys(dir: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json", "keys"];
    all.extend_from_slice(args);
    let (ok, out, err) = gatehouse(dir, &all).await;
    assert!(ok, "{err}");
    serde_json::from_str(&out).unwrap()
}

#[tokio::test]
async fn a_key_rotation_logs_nobody_out_and_retiring_the_old_key_refuses_its_tokens_within_a_second(
) {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let before = server.register("rota").await;
    assert_eq!(
        access_kid(&before),
        None,
        "the original key: no kid, as before"
    );
    let listed = keys(dir.path(), &["list"]).await;
    let original = serde_json::json!([
        {"kid": "0", "state": "signs", "created_at": null, "retired_at": null}
    ]);
    assert_eq!(listed, original);

    let listed = keys(dir.path(), &["rotate"]).await;
    let new_kid = listed[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["state"], "next", "it signs in 5 s");
    assert_eq!(
        (listed[1]["kid"].as_str(), listed[1]["state"].as_str()),
        (Some("0"), Some("signs"))
    );
    // A token of the new key is accepted at once (here, one the test signs as the server
    // would is not at hand: the server's own tokens are what count), and the server signs with
    // it once every instance has had time to read it (`key_ring::ACTIVATION_SECS`, 5 s). One
    // login a second: the address's attempt limit is 60 a minute.
    let mut after = Jar::default();
    after.absorb(&login(&server, "rota").await);
    assert_eq!(
        access_kid(&after),
        None,
        "not yet: the new key only verifies"
    );
    let mut logins = 1;
    while access_kid(&after).as_deref() != Some(new_kid.as_str()) {
        assert!(logins < 9, "not signing with the new key after {logins} s");
        tokio::time::sleep(Duration::from_secs(1)).await;
        after = Jar::default();
        after.absorb(&login(&server, "rota").await);
        logins += 1;
    }
    assert_eq!(
        me(&server, &before).await,
        StatusCode::OK,
        "nobody is logged out"
    );
    let refreshed = server.post("/api/auth/refresh", &[], &before).await;
    assert_eq!(
        refreshed.status(),
        StatusCode::OK,
        "the old refresh token rotates"
    );
    let mut rotated = before.clone();
    rotated.absorb(&refreshed);
    assert_eq!(access_kid(&rotated).as_deref(), Some(new_kid.as_str()));

    // The last live key cannot go; the original can, and its tokens stop at once.
    let (ok, _, err) = gatehouse(dir.path(), &["keys", "retire", "nope"]).await;
    assert!(!ok && err.contains("no live signing key"), "{err}");
    let listed = keys(dir.path(), &["retire", "0"]).await;
    assert_eq!(listed[1]["state"], "retired");
    support::within(
        Duration::from_secs(1),
        "the retired key's token refused",
        || async { me(&server, &before).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert_eq!(me(&server, &after).await, StatusCode::OK);
    assert_eq!(me(&server, &rotated).await, StatusCode::OK);
    let (ok, _, err) = gatehouse(dir.path(), &["keys", "retire", &new_kid]).await;
    assert!(!ok && err.contains("only live signing key"), "{err}");

    // A leaked key: a new one, every other retired, everyone logs in again.
    keys(dir.path(), &["rotate", "--retire-others"]).await;
    support::within(
        Duration::from_secs(1),
        "every older token refused",
        || async { me(&server, &after).await == StatusCode::UNAUTHORIZED },
    )
    .await;
    assert_eq!(
        server.post("/api/auth/refresh", &[], &after).await.status(),
        401
    );
    assert_eq!(login(&server, "rota").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_operator_turns_two_step_verification_off_for_someone_who_lost_their_phone() {
    use gatehouse::credentials::factors::Authenticator;
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let jar = server.register("phoneless").await;
    let begun: serde_json::Value = server
        .post("/api/auth/totp_begin", &[], &jar)
        .await
        .json()
        .await
        .unwrap();
    let secret = begun["secret"].as_str().unwrap();
    let phone = Authenticator::from_text(secret, "phoneless@example.org").unwrap();
    let code = phone.code_at(time::OffsetDateTime::now_utc().unix_timestamp());
    let on = server
        .post("/api/auth/totp_confirm", &[("code", &code)], &jar)
        .await;
    assert_eq!(on.status(), StatusCode::OK);
    let asked = login(&server, "phoneless").await;
    assert_eq!(
        support::assert_error(asked, 401, "mfa_required").await["code"],
        "mfa_required"
    );

    let (ok, out, err) = gatehouse(dir.path(), &["users", "reset-factors", "phoneless"]).await;
    assert!(ok, "{err}");
    assert!(
        out.contains("two-step verification turned off for phoneless"),
        "{out}"
    );
    assert_eq!(
        login(&server, "phoneless").await.status(),
        StatusCode::OK,
        "the password alone"
    );
    let (ok, _, err) = gatehouse(dir.path(), &["users", "reset-factors", "phoneless"]).await;
    assert!(!ok);
    assert!(err.contains("has no two-step verification on"), "{err}");
    let (_, events, _) = gatehouse(dir.path(), &["--json", "events", "phoneless"]).await;
    let events: serde_json::Value = serde_json::from_str(&events).unwrap();
    let off = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "totp_disabled")
        .expect("the event");
    assert_eq!(off["actor"], "operator");
}
