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
use support::{base_settings, client, registration, Jar, PASSWORD};

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
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
            .current_dir(dir)
            .envs(base_settings(dir).await)
            .env("LEPTOS_SITE_ADDR", format!("127.0.0.1:{port}"))
            .env("LEPTOS_OUTPUT_NAME", "gatehouse")
            .envs(vars.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the gatehouse binary");
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
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(lines[0].contains("ACCESS_TOKEN_EXPIRY"), "{stderr}");
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
