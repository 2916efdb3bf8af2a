//! The real binary, started as a person starts it: configuration at start-up, and a
//! registration or rotation that answered 200 surviving `kill -9` of the process.
#![cfg(feature = "ssr")]

mod support;

use reqwest::StatusCode;
use std::{
    net::TcpListener,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};
use support::{
    assert_unavailable, base_settings, client, fill, registration, Jar, Tmpfs, PASSWORD,
};

/// The release-style binary, started as a person would start it, on a free port.
struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(dir: &Path) -> Server {
        Self::start_with(dir, &[]).await
    }

    async fn start_with(dir: &Path, vars: &[(&str, &str)]) -> Server {
        let log = std::fs::File::create(dir.join("server.log")).expect("the log file");
        Self::launch(dir, vars, |command| {
            command.stdout(log).stderr(Stdio::inherit());
        })
        .await
    }

    /// Started with `vars`, and `setup` applied to its command (where its output goes, which
    /// user it runs as) before it is spawned.
    async fn launch(dir: &Path, vars: &[(&str, &str)], setup: impl FnOnce(&mut Command)) -> Server {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        command
            .current_dir(dir)
            .envs(base_settings(dir).await)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_OUTPUT_NAME", "gatehouse")
            .envs(vars.iter().copied());
        setup(&mut command);
        let child = command.spawn().expect("start the gatehouse binary");
        let server = Server {
            child,
            base: format!("http://127.0.0.1:{port}"),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while client()
            .get(format!("{}/api/auth/me", server.base))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "server did not start within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        server
    }

    /// Registers `name` (email `name@example.org`), asserting it worked; returns its cookies.
    async fn register(&self, name: &str) -> Jar {
        let email = format!("{name}@example.org");
        let registered = self
            .post(
                "/api/auth/register",
                &registration(&email, name, "R"),
                &Jar::default(),
            )
            .await;
        assert_eq!(registered.status(), StatusCode::OK, "registering {name}");
        let mut jar = Jar::default();
        jar.absorb(&registered);
        jar
    }

    /// SIGTERM, as systemd and container runtimes stop a service.
    fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `limit` for the process to exit; its exit status, if it did.
    fn exited_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// SIGKILL: no shutdown hooks, no flushing, nothing.
    fn kill_9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn post(&self, path: &str, form: &[(&str, &str)], jar: &Jar) -> reqwest::Response {
        client()
            .post(format!("{}{path}", self.base))
            .header(reqwest::header::COOKIE, jar.header())
            .form(form)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The one line a start that failed wrote on stderr, after asserting that it failed and wrote
/// exactly one line.
fn the_one_line_of_a_failed_start(output: &std::process::Output) -> String {
    assert!(
        !output.status.success(),
        "the server should not have started"
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    lines[0].to_owned()
}

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

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_one_line_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .envs(base_settings(dir.path()).await)
        .env("ACCESS_TOKEN_EXPIRY", "fifteen minutes")
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .output()
        .unwrap();
    let line = the_one_line_of_a_failed_start(&output);
    assert!(line.contains("ACCESS_TOKEN_EXPIRY"), "{line}");
}

#[tokio::test]
async fn a_dot_env_file_is_read_and_the_real_environment_wins_over_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(".env"), "ACCESS_TOKEN_EXPIRY=never\n").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .envs(base_settings(dir.path()).await)
        .env_remove("ACCESS_TOKEN_EXPIRY")
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .output()
        .unwrap();
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        !output.status.success() && stderr.contains("ACCESS_TOKEN_EXPIRY"),
        "{stderr}"
    );

    let server = Server::start_with(dir.path(), &[("ACCESS_TOKEN_EXPIRY", "1m")]).await;
    let registered = server
        .post(
            "/api/auth/register",
            &registration("env@example.org", "envy", "E"),
            &Jar::default(),
        )
        .await;
    assert_eq!(registered.status(), StatusCode::OK);
    assert!(support::set_cookie_line(&registered, support::ACCESS).contains("Max-Age=60"));
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

/// PostgreSQL unreachable at start-up: one log line per attempt with its cause, waits that
/// grow, and once `DATABASE_WAIT_AT_START` is over, an exit with one line that names the cause
/// (at ef7d2e1: "cannot open the database: database error" after 5 s, the cause unsaid).
#[tokio::test]
async fn an_unreachable_database_at_start_up_is_retried_then_the_cause_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let closed_port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .env(
            "DATABASE_URL",
            format!("postgres://gatehouse@127.0.0.1:{closed_port}/gatehouse"),
        )
        .envs(support::POSTGRES_SECRETS)
        .env("DATABASE_WAIT_AT_START", "3s")
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .output()
        .unwrap();
    let line = the_one_line_of_a_failed_start(&output);
    assert!(line.contains("DATABASE_URL"), "{line}");
    assert!(
        line.contains("Connection refused"),
        "the cause is named: {line}"
    );
    let log = String::from_utf8(output.stdout).unwrap();
    let attempts = log
        .matches("cannot reach the database; trying again")
        .count();
    assert!(attempts >= 2, "{log}");
}

/// A PostgreSQL server that answers but has no such database is not waited for: start-up
/// stops at once with one line naming the database (at ef7d2e1 the same line as for a server
/// that was down: "database error").
#[tokio::test]
async fn a_database_that_does_not_exist_stops_start_up_at_once_naming_it() {
    let Some(server) = support::postgres_server() else {
        return; // needs a PostgreSQL server that answers; scripts/test runs this on one
    };
    let (host, _) = server.rsplit_once('/').unwrap();
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .env("DATABASE_URL", format!("{host}/no_such_database_here"))
        .envs(support::POSTGRES_SECRETS)
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .output()
        .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "not waited for"
    );
    let line = the_one_line_of_a_failed_start(&output);
    assert!(line.contains("no_such_database_here"), "{line}");
    assert!(line.contains("does not exist"), "{line}");
}

/// A database that existed (its generated secrets file is still beside it) and is now missing
/// stops start-up with one line that says so, instead of a new empty database: at ef7d2e1 a
/// restart after `rm gatehouse.db*` started empty without a word, every account gone.
#[tokio::test]
async fn a_missing_database_that_existed_stops_start_up_instead_of_starting_empty() {
    if support::on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    server.register("kept").await;
    server.kill_9();
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(dir.path().join(format!("gatehouse.db{suffix}")));
    }
    let mut child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .envs(base_settings(dir.path()).await)
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the server started (on an empty database) instead of stopping");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("gatehouse.db is missing"), "{stderr}");
    assert!(stderr.contains("gatehouse.secrets"), "{stderr}");
    assert!(
        !dir.path().join("gatehouse.db").exists(),
        "no empty database made"
    );
}

/// A first start that fails on a bad setting, after it generated the secrets file but before it
/// made the database, leaves no false witness: fixed and started again, the server starts on a
/// new database instead of calling it deleted.
#[tokio::test]
async fn a_first_start_that_failed_on_a_setting_does_not_make_the_next_one_think_the_database_was_deleted(
) {
    if support::on_postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let failed = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .envs(base_settings(dir.path()).await)
        .env("LOG_REQUESTS", "everything")
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .output()
        .unwrap();
    assert!(!failed.status.success());
    assert!(dir.path().join("gatehouse.secrets").exists());
    let server = Server::start(dir.path()).await;
    server.register("second").await;
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
    // Reads in parallel, so the pool opens new connections while the file is read-only.
    let reads = futures::future::join_all((0..16).map(|_| get("/api/auth/sessions"))).await;
    for read in reads {
        assert_eq!(read.unwrap().status(), StatusCode::OK);
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
