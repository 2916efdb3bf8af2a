//! The real binary, started as a person starts it: configuration at start-up, and a
//! registration or rotation that answered 200 surviving `kill -9` of the process.

mod durability;
mod operating;
mod start_up;

use crate::support;

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
