//! PostgreSQL failing under the app. Stopped for 20 seconds while two instances are under load,
//! and started again: the test owns that PostgreSQL server (the suite's shared one cannot be
//! stopped under other tests), so it runs only where `scripts/test` installed PostgreSQL, in its
//! PostgreSQL pass. And a lock held by another session (an operator's open transaction).

use crate::support;

use reqwest::StatusCode;
use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};
use support::{spawn_app_with, Jar, TestApp, POSTGRES_SECRETS};

/// A PostgreSQL server of the test's own, in a temporary directory, stopped when dropped.
struct OwnPostgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl OwnPostgres {
    /// `None` when the PostgreSQL server programs are not installed.
    fn start() -> Option<Self> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()?
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .filter(|bin| bin.join("postgres").exists())
            .max()?;
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let own = Self { dir, bin, port };
        if own.as_root() {
            let chown = Command::new("chown")
                .args(["postgres:"])
                .arg(own.dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown the data directory to postgres");
        }
        own.run(
            "initdb",
            &["-U", "postgres", "--auth=trust", "--no-sync", "-D"],
            Some(&own.data()),
        );
        own.up();
        Some(own)
    }

    fn as_root(&self) -> bool {
        Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|out| out.stdout.starts_with(b"0\n"))
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Runs one of PostgreSQL's programs (as the `postgres` user when we are root: PostgreSQL
    /// refuses to run as root), asserting that it succeeded.
    fn run(&self, program: &str, args: &[&str], last: Option<&Path>) {
        let program = self.bin.join(program);
        let mut command = if self.as_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        command.args(args);
        if let Some(last) = last {
            command.arg(last);
        }
        let out = command.output().expect("run a PostgreSQL program");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn up(&self) {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -c port={} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log");
        let log = log.to_str().unwrap();
        let data = self.data();
        let data = data.to_str().unwrap();
        self.run(
            "pg_ctl",
            &["-D", data, "-l", log, "-w", "-o", &options, "start"],
            None,
        );
    }

    /// A fast shutdown, as `systemctl stop postgresql` does: sessions are ended, new
    /// connections refused.
    fn down(&self) {
        let data = self.data();
        self.run(
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-m", "fast", "-w", "stop"],
            None,
        );
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for OwnPostgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", data.to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}

/// One request of the load: when it started, how long it took, what it answered.
struct Answer {
    started: Instant,
    took: Duration,
    status: StatusCode,
}

/// Refreshes (which need the database) in a loop with `jar`'s session, alternating between
/// the two instances, until `stop`.
async fn refresh_in_a_loop(
    apps: [Arc<TestApp>; 2],
    mut jar: Jar,
    stop: Arc<AtomicBool>,
    answers: Arc<Mutex<Vec<Answer>>>,
) {
    let mut turn = 0;
    while !stop.load(Ordering::SeqCst) {
        let started = Instant::now();
        let response = apps[turn % 2].post("/api/auth/refresh", &[], &jar).await;
        jar.absorb(&response);
        answers.lock().unwrap().push(Answer {
            started,
            took: started.elapsed(),
            status: response.status(),
        });
        turn += 1;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// PostgreSQL stopped for 20 s while eight clients refresh through two instances: requests that
/// need it answer 503 `unavailable` within the pool's bound (never 500, never a pile-up), `/me`
/// keeps answering for live access tokens, and once PostgreSQL is back everything works again
/// by itself: refreshes, and the notifications that carry a logout from one instance to the
/// other.
#[test]
#[ignore = "needs PostgreSQL installed; scripts/test runs it"]
fn postgres_stopped_under_load_answers_503_quickly_and_everything_recovers_by_itself() {
    // Two worker threads, both counting into this test's tally of server errors.
    support::log::runtime(2).block_on(async {
        let Some(pg) = OwnPostgres::start() else {
            panic!("PostgreSQL's server programs are not installed (scripts/test installs them)");
        };
        support::log::watch();
        let url = pg.url();
        let mut vars = vec![
            ("DATABASE_URL", url.as_str()),
            ("IP_ATTEMPTS_PER_MINUTE", "100000"),
        ];
        vars.extend(POSTGRES_SECRETS);
        let a = Arc::new(spawn_app_with(&vars).await);
        let b = Arc::new(a.another_instance(&vars).await);

        let watcher = a.register("watcher").await;
        let mut jars = Vec::new();
        for i in 0..8 {
            jars.push(a.register(&format!("load{i}")).await);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let answers = Arc::new(Mutex::new(Vec::new()));
        let load: Vec<_> = jars
            .into_iter()
            .map(|jar| {
                tokio::spawn(refresh_in_a_loop(
                    [a.clone(), b.clone()],
                    jar,
                    stop.clone(),
                    answers.clone(),
                ))
            })
            .collect();

        // The watcher's page has shown who they are on both instances (which caches the account).
        for app in [&a, &b] {
            assert_eq!(
                app.get("/api/auth/me", &watcher).await.status(),
                StatusCode::OK
            );
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        pg.down();
        let down = Instant::now();
        let mut me_during = Vec::new();
        let mut ready_during = Vec::new();
        while down.elapsed() < Duration::from_secs(20) {
            for app in [&a, &b] {
                me_during.push(app.get("/api/auth/me", &watcher).await.status());
                if down.elapsed() > Duration::from_secs(1) {
                    ready_during.push(app.get("/readyz", &Jar::default()).await.status());
                }
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        // Taken before the start: PostgreSQL accepts connections a moment before `pg_ctl -w`
        // returns, and a refresh waiting for a connection then succeeded "before" a later mark.
        let up = Instant::now();
        pg.up();
        tokio::time::sleep(Duration::from_secs(10)).await;
        stop.store(true, Ordering::SeqCst);
        for task in load {
            task.await.unwrap();
        }

        let answers = std::mem::take(&mut *answers.lock().unwrap());
        // From a second after the stop until the start: every refresh refused as passing, fast.
        let during: Vec<&Answer> = answers
            .iter()
            .filter(|x| x.started > down + Duration::from_secs(1) && x.started + x.took < up)
            .collect();
        assert!(
            during.len() >= 8,
            "only {} refreshes in the outage",
            during.len()
        );
        for x in &during {
            assert_eq!(x.status, StatusCode::SERVICE_UNAVAILABLE);
        }
        let slowest = during.iter().map(|x| x.took).max().unwrap();
        assert!(
            slowest < Duration::from_secs(5),
            "a refresh took {slowest:?}"
        );
        assert!(
            me_during.iter().all(|s| *s == StatusCode::OK),
            "/me during the outage: {me_during:?}"
        );
        // From five seconds after the start: every refresh works again.
        let after: Vec<&Answer> = answers
            .iter()
            .filter(|x| x.started > up + Duration::from_secs(5))
            .collect();
        assert!(!after.is_empty());
        for x in &after {
            assert_eq!(x.status, StatusCode::OK, "a refresh after the recovery");
        }
        assert!(answers
            .iter()
            .all(|x| [StatusCode::OK, StatusCode::SERVICE_UNAVAILABLE].contains(&x.status)));

        // `/readyz` said so on both instances while the database was away, and says ready again.
        assert!(
            ready_during
                .iter()
                .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
            "/readyz during the outage: {ready_during:?}"
        );
        for app in [&a, &b] {
            let ready = app.get("/readyz", &Jar::default()).await;
            assert_eq!(
                ready.status(),
                StatusCode::OK,
                "{}",
                ready.text().await.unwrap()
            );
        }
        // The notifications are back: a logout on `a` ends the session on `b` at once.
        assert_eq!(
            b.get("/api/auth/me", &watcher).await.status(),
            StatusCode::OK
        );
        assert_eq!(
            a.post("/api/auth/logout", &[], &watcher).await.status(),
            StatusCode::OK
        );
        support::within(
            Duration::from_secs(2),
            "the logout reaching the other instance",
            || async { b.get("/api/auth/me", &watcher).await.status() == StatusCode::UNAUTHORIZED },
        )
        .await;
        support::log::assert_no_internal_errors();
    })
}

/// An operator's session holding `LOCK TABLE refresh_tokens` open, as one left in psql would,
/// until [`HeldLock::release`].
struct HeldLock(sqlx::PgConnection);

impl HeldLock {
    async fn on(app: &TestApp) -> Self {
        use sqlx::Connection;
        let url = support::database_url(app.dir.path()).await;
        let mut operator = sqlx::PgConnection::connect(&url).await.unwrap();
        for statement in [
            "BEGIN",
            "LOCK TABLE refresh_tokens IN ACCESS EXCLUSIVE MODE",
        ] {
            sqlx::query(statement).execute(&mut operator).await.unwrap();
        }
        Self(operator)
    }

    async fn release(mut self) {
        sqlx::query("ROLLBACK").execute(&mut self.0).await.unwrap();
    }
}

/// Another session holds a lock the app's writes need (an operator's `LOCK TABLE` left open
/// in psql): refreshes answer 503 `unavailable` after `lock_timeout` (3 s) instead of waiting
/// for good, each holding a pooled connection; `/me` answers; once the lock is released,
/// refreshes work again. (Before: the refresh waited as long as the lock was held.)
#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_lock_held_by_another_session_answers_503_within_the_lock_timeout_then_recovers() {
    assert!(support::on_postgres(), "set GATEHOUSE_TEST_POSTGRES");
    support::log::watch();
    let app = spawn_app_with(&[]).await;
    let jar = app.register("locked").await;
    let held = HeldLock::on(&app).await;

    let started = Instant::now();
    let refused = tokio::time::timeout(
        Duration::from_secs(15),
        app.post("/api/auth/refresh", &[], &jar),
    )
    .await
    .expect("the refresh waited on the lock for good");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    support::assert_unavailable(refused).await;
    assert_eq!(app.get("/api/auth/me", &jar).await.status(), StatusCode::OK);

    held.release().await;
    assert_eq!(
        app.post("/api/auth/refresh", &[], &jar).await.status(),
        StatusCode::OK
    );
    support::log::assert_no_internal_errors();
}

/// The same lock under a full page load that needs a refresh: resume answers 503 with a page of
/// its own (the reason, a link to try again, `Retry-After`), and leaves the cookies alone, since
/// the session is alive. Then, with the lock gone, the same link brings the page back.
#[tokio::test]
#[ignore = "needs GATEHOUSE_TEST_POSTGRES; scripts/test runs it"]
async fn a_page_load_that_cannot_refresh_for_a_lock_says_so_and_keeps_the_session() {
    use reqwest::header::{LOCATION, RETRY_AFTER, SET_COOKIE};
    assert!(support::on_postgres(), "set GATEHOUSE_TEST_POSTGRES");
    support::log::watch();
    let app = spawn_app_with(&[]).await;
    let mut jar = app.register("pagelocked").await;
    jar.0.remove(support::ACCESS);
    let held = HeldLock::on(&app).await;

    let resume = "/api/auth/resume?next=/sessions";
    let refused = app.get(resume, &jar).await;
    assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(refused.headers().contains_key(RETRY_AFTER));
    assert!(
        !refused.headers().contains_key(SET_COOKIE),
        "the cookies stay"
    );
    let html = refused.text().await.unwrap();
    assert!(html.contains(r#"role="alert""#), "{html}");
    assert!(
        html.contains(&format!(r#"href="{}""#, "/api/auth/resume?next=/sessions")),
        "{html}"
    );

    held.release().await;
    let again = app.get(resume, &jar).await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(again.headers()[LOCATION], "/sessions");
    support::log::assert_no_internal_errors();
}
