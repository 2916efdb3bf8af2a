//! What a running binary survives: `kill -9`, `SIGTERM` mid-request, a full disk under its
//! log, a database file made read-only.

use super::*;

#[tokio::test]
async fn registration_and_rotation_that_answered_200_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let registered = server
        .post(
            "/api/auth/register",
            &registration("durable@example.org", "durable", "D"),
            &Jar::default(),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::OK);
    let mut before = Jar::default();
    before.absorb(&registered);
    let rotated = server.post("/api/auth/refresh", &[], &before).await;
    assert_eq!(rotated.status(), StatusCode::OK);
    let mut after = before.clone();
    after.absorb(&rotated);
    server.kill_9();

    let server = Server::start(dir.path()).await;
    // The account is there...
    let login = server
        .post(
            "/api/auth/login",
            &[("login", "durable"), ("password", PASSWORD)],
            &Jar::default(),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
    // ...the rotation happened: the old token, presented again within the grace window, gets
    // the successor recorded before the kill, and that successor is live.
    let replayed = server.post("/api/auth/refresh", &[], &before).await;
    assert_eq!(replayed.status(), StatusCode::OK);
    let mut again = before.clone();
    again.absorb(&replayed);
    assert_eq!(again.get(support::REFRESH), after.get(support::REFRESH));
    assert_eq!(
        server.post("/api/auth/refresh", &[], &after).await.status(),
        StatusCode::OK
    );
}

/// A reset mail queued while the mail server was away is still queued after `kill -9`, and
/// delivered by the next start (here into the outbox folder, the server's default).
#[tokio::test]
async fn mail_queued_before_kill_9_is_delivered_after_the_restart() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let away = format!("smtp://127.0.0.1:{}", nowhere.local_addr().unwrap().port());
    drop(nowhere);
    let smtp = [
        ("SMTP_URL", away.as_str()),
        ("MAIL_FROM", "Gatehouse <no-reply@example.com>"),
        ("PUBLIC_URL", "https://login.example.com"),
    ];
    let server = Server::start_with(dir.path(), &smtp).await;
    let registered = server
        .post(
            "/api/auth/register",
            &registration("queued@example.org", "queued", "Q"),
            &Jar::default(),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::OK);
    let asked = server
        .post(
            "/api/auth/request_password_reset",
            &[("email", "queued@example.org")],
            &Jar::default(),
        )
        .await;
    assert_eq!(asked.status(), StatusCode::OK);
    // Long enough for the lookup and the queueing after the answer, and a failed try.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    server.kill_9();

    let outbox = dir.path().join("outbox");
    assert!(
        support::mail::outbox(&outbox).is_empty(),
        "nothing delivered yet"
    );
    let _server = Server::start(dir.path()).await;
    let started = std::time::Instant::now();
    loop {
        let mails = support::mail::outbox(&outbox);
        if let Some(mail) = mails.iter().find(|m| m.link_to("/reset").is_some()) {
            assert!(mail.is_to("queued@example.org"));
            assert!(mail.raw.contains("https://login.example.com/reset?token="));
            break;
        }
        // Within seconds, unless the kill fell inside a delivery attempt (between the claim
        // and the failure recorded): then the message waits out its 60 s lease, as it would for
        // another instance that may still be sending it (on a loaded machine, 1 run in ~30).
        assert!(
            started.elapsed() < std::time::Duration::from_secs(75),
            "not delivered after the restart"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// SIGTERM drains: a request in flight when it arrives is still answered, new connections are
/// refused, and the process exits with success (at ef7d2e1 SIGTERM killed it at once, cutting
/// the request off).
#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_then_the_server_exits() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(dir.path()).await;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    let body = "login=someone&password=wrong+password";
    let head = format!(
        "POST /api/auth/login HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\
         Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&body.as_bytes()[..10]).await.unwrap();
    // The request is in flight (its body half sent) when the signal comes.
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        tokio::net::TcpStream::connect(&address).await.is_err(),
        "the listener is closed once shutdown begins"
    );
    stream.write_all(&body.as_bytes()[10..]).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer:?}");
    let status = server.exited_within(Duration::from_secs(10));
    assert!(status.is_some_and(|s| s.success()), "{status:?}");
}

/// `LOG_REQUESTS=failures` logs the requests answered 4xx or 5xx, and no others.
#[tokio::test]
async fn log_requests_failures_logs_only_the_failed_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start_with(dir.path(), &[("LOG_REQUESTS", "failures")]).await;
    let ok = client()
        .get(format!("{}/login", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    let refused = client()
        .get(format!("{}/api/auth/sessions", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    server.terminate();
    assert!(server.exited_within(Duration::from_secs(10)).is_some());
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("path=/api/auth/sessions status=401"), "{log}");
    assert!(!log.contains("path=/login"), "{log}");
}

/// The disk the log goes to is full: the server starts, registers, logs in and answers `/me`
/// all the same, and keeps running; the lines are lost, not the service. (Before: a failed log
/// write made `tracing` report it with `eprintln!`, which panics when standard error is full
/// too, so the server died at its first line.)
#[tokio::test]
async fn a_full_disk_under_the_log_does_not_stop_the_server() {
    let Some(disk) = Tmpfs::mount("1m") else {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    };
    let log = std::fs::File::create(disk.0.path().join("server.log")).unwrap();
    fill(disk.0.path());
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::launch(dir.path(), &[("LOG_REQUESTS", "all")], |command| {
        command.stdout(log.try_clone().unwrap()).stderr(log);
    })
    .await;
    let jar = server.register("logless").await;
    let wrong = server
        .post(
            "/api/auth/login",
            &[("login", "logless"), ("password", "not the password")],
            &Jar::default(),
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let me = client()
        .get(format!("{}/api/auth/me", server.base))
        .header(reqwest::header::COOKIE, jar.header())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert!(
        server.exited_within(Duration::from_millis(200)).is_none(),
        "the server exited"
    );
}

/// The database file made read-only (`chmod a-w`, as an operator does before a copy, and as a
/// disk remounted read-only looks): every write answers 503 `unavailable` with `Retry-After`,
/// reads and `/me` keep working, and once the file is writable again so is every write, with
/// no restart, even on the connections opened read-only meanwhile. Run as `nobody`, since root
/// may write to any file. (Before: writes went on through the connections opened earlier, and
/// connections opened while it was read-only kept failing for up to 30 minutes after.)
#[tokio::test]
async fn a_read_only_database_file_refuses_writes_with_503_then_recovers_without_a_restart() {
    use std::os::unix::{fs::PermissionsExt, process::CommandExt};
    if support::on_postgres() {
        return;
    }
    const NOBODY: u32 = 65534;
    let dir = tempfile::tempdir().unwrap();
    if std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).is_err() {
        eprintln!("skipped: running the server as another user needs root");
        return;
    }
    let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
    let server = Server::launch(
        dir.path(),
        &[("IP_ATTEMPTS_PER_MINUTE", "1000")],
        |command| {
            command
                .uid(NOBODY)
                .gid(NOBODY)
                .stdout(log)
                .stderr(Stdio::inherit());
        },
    )
    .await;
    let jar = server.register("before").await;
    let file = dir.path().join("gatehouse.db");
    let set_mode = |mode| std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode));

    set_mode(0o400).unwrap();
    let get = |path: &'static str| {
        client()
            .get(format!("{}{path}", server.base))
            .header(reqwest::header::COOKIE, jar.header())
            .send()
    };
    // Reads in parallel, so the pool opens new connections while the file is read-only. The
    // pool may have opened enough already (the mail worker uses it too), so rounds go on until
    // the log says one was opened read-only, as the registrations below need.
    let log_file = dir.path().join("server.log");
    for _ in 0..30 {
        let reads = futures::future::join_all((0..16).map(|_| get("/api/auth/sessions"))).await;
        for read in reads {
            assert_eq!(read.unwrap().status(), StatusCode::OK);
        }
        let log = std::fs::read_to_string(&log_file).unwrap_or_default();
        if log.contains("opened a connection read-only") {
            break;
        }
    }
    for i in 0..3 {
        let email = format!("ro{i}@example.org");
        let refused = server
            .post(
                "/api/auth/register",
                &registration(&email, &format!("ro{i}"), "R"),
                &Jar::default(),
            )
            .await;
        assert_unavailable(refused).await;
    }
    assert_unavailable(server.post("/api/auth/refresh", &[], &jar).await).await;
    assert_eq!(get("/api/auth/me").await.unwrap().status(), StatusCode::OK);

    set_mode(0o600).unwrap();
    for i in 0..20 {
        server.register(&format!("after{i}")).await;
    }
    drop(server);
    let log = std::fs::read_to_string(dir.path().join("server.log")).unwrap();
    assert!(log.contains("not writable"), "{log}");
    // The parallel reads made the pool open connections while the file was read-only, so the
    // twenty registrations above went through the replacing of those.
    assert!(log.contains("opened a connection read-only"), "{log}");
    assert!(!log.contains("status=500"), "{log}");
}
