//! Start-up as a person meets it: settings, `.env`, and a database that is away, missing or
//! not yet created.

use super::*;

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
async fn a_bad_smtp_url_stops_start_up_with_one_line_that_keeps_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .current_dir(dir.path())
        .envs(base_settings(dir.path()).await)
        .env("SMTP_URL", "smtp//mailer:hunter2@mail.example.com")
        .env("MAIL_FROM", "Gatehouse <no-reply@example.com>")
        .env("PUBLIC_URL", "https://login.example.com")
        .env("LEPTOS_OUTPUT_NAME", "gatehouse")
        .output()
        .unwrap();
    let line = the_one_line_of_a_failed_start(&output);
    assert!(line.contains("SMTP_URL"), "{line}");
    assert!(!line.contains("hunter2"), "{line}");
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
