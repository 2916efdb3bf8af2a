//! The test harness: the real app on a free loopback port with a fresh database, and small
//! helpers for the cookie-level HTTP the contract specifies.
//!
//! The database is a SQLite file in the app's directory, unless `GATEHOUSE_TEST_POSTGRES` names
//! a PostgreSQL server (`postgres://user@host:port/postgres`): then each app directory gets a
//! database of its own there. `scripts/test` runs every integration test both ways.

pub mod log;
pub mod mail;

use gatehouse::{config::Config, server};
use leptos::prelude::LeptosOptions;
use reqwest::{header, Response, StatusCode};
use serde_json::Value;
use std::{collections::HashMap, path::Path, sync::Arc};
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery";

/// The cookie names with `Secure` cookies (the default, which the tests keep).
pub const ACCESS: &str = "__Host-access_token";
pub const REFRESH: &str = "__Secure-refresh_token";
pub const DEVICE: &str = "__Secure-device";

/// The register form's fields, with the test password.
pub fn registration<'a>(
    email: &'a str,
    username: &'a str,
    full_name: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("email", email),
        ("username", username),
        ("full_name", full_name),
        ("password", PASSWORD),
    ]
}

/// A running server. Dropping it stops the server; the database directory lives as long as it.
/// Its requests come from 127.0.0.1; [`Visitor`]s of it can come from other loopback addresses.
pub struct TestApp {
    visitor: Visitor,
    /// The app's directory, which also names its database; shared by its other instances.
    pub dir: Arc<TempDir>,
    server: JoinHandle<()>,
}

/// Someone sending requests to an app: its address and an HTTP client bound to a source address.
#[derive(Clone)]
pub struct Visitor {
    pub base: String,
    pub http: reqwest::Client,
}

impl std::ops::Deref for TestApp {
    type Target = Visitor;
    fn deref(&self) -> &Visitor {
        &self.visitor
    }
}

impl TestApp {
    /// A visitor of this app whose requests come from `127.0.0.<n>` (any 127.x address binds on
    /// loopback), as a client elsewhere on the network would.
    pub fn visitor_from(&self, n: u8) -> Visitor {
        Visitor {
            base: self.base.clone(),
            http: client_from(std::net::Ipv4Addr::new(127, 0, 0, n).into()),
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// Starts the app with extra settings (such as short token lifetimes).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let dir = Arc::new(tempfile::tempdir().expect("temporary directory"));
    let (base, server) = start_server(dir.path(), vars).await;
    TestApp {
        visitor: Visitor {
            base,
            http: client(),
        },
        dir,
        server,
    }
}

impl TestApp {
    /// Stops this server and starts a new one on the same database directory.
    pub async fn restart(mut self, vars: &[(&str, &str)]) -> TestApp {
        self.server.abort();
        let _ = (&mut self.server).await;
        let (base, server) = start_server(self.dir.path(), vars).await;
        self.visitor.base = base;
        self.server = server;
        self
    }

    /// A second instance of this app: its own process state (caches, limits), the same
    /// database and secrets, as behind a load balancer without sticky sessions.
    pub async fn another_instance(&self, vars: &[(&str, &str)]) -> TestApp {
        let (base, server) = start_server(self.dir.path(), vars).await;
        TestApp {
            visitor: Visitor {
                base,
                http: client(),
            },
            dir: self.dir.clone(),
            server,
        }
    }
}

/// Two instances sharing one database, as behind a load balancer without sticky sessions
/// (PostgreSQL only: SQLite is one process's database).
pub async fn two_instances(vars: &[(&str, &str)]) -> (TestApp, TestApp) {
    assert!(
        on_postgres(),
        "set GATEHOUSE_TEST_POSTGRES to a PostgreSQL server URL (scripts/test does)"
    );
    let a = spawn_app_with(vars).await;
    let b = a.another_instance(vars).await;
    (a, b)
}

/// `GATEHOUSE_TEST_POSTGRES`, when set: the PostgreSQL server the tests use instead of SQLite.
pub fn postgres_server() -> Option<String> {
    std::env::var("GATEHOUSE_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.trim().is_empty())
}

pub fn on_postgres() -> bool {
    postgres_server().is_some()
}

/// Fixed secrets for PostgreSQL runs: the app generates none there (every instance must share
/// them), and restarts and second instances must agree.
pub const POSTGRES_SECRETS: [(&str, &str); 3] = [
    (
        "ACCESS_TOKEN_SECRET",
        "test-access-secret-for-postgres-runs-0000",
    ),
    (
        "REFRESH_TOKEN_SECRET",
        "test-refresh-secret-for-postgres-runs-111",
    ),
    ("FACTOR_SECRET", "test-factor-secret-for-postgres-runs-2222"),
];

/// The database of the app in `dir`: a SQLite file in it, or a PostgreSQL database named after
/// it (created on first use), so a restart or a second instance finds the same data.
pub async fn database_url(dir: &Path) -> String {
    let Some(server) = postgres_server() else {
        return format!("sqlite://{}/gatehouse.db", dir.display());
    };
    let leaf: String = dir
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    let name = format!("gh_{}_{}", std::process::id(), leaf.to_ascii_lowercase());
    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&server)
        .await
        .expect("GATEHOUSE_TEST_POSTGRES: cannot connect");
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut admin)
        .await
        .unwrap();
    if exists.is_none() {
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .unwrap();
    }
    let (base, _query) = server.split_once('?').unwrap_or((&server, ""));
    let (host, _database) = base.rsplit_once('/').expect("a URL with a database path");
    format!("{host}/{name}")
}

/// The settings every app on `dir` starts with, before the test's own.
pub async fn base_settings(dir: &Path) -> Vec<(String, String)> {
    let mut settings = vec![
        ("DATABASE_URL".to_owned(), database_url(dir).await),
        // In the app's directory on PostgreSQL too (the default is beside a SQLite file).
        (
            "MAIL_OUTBOX".to_owned(),
            dir.join("outbox").display().to_string(),
        ),
    ];
    if on_postgres() {
        settings.extend(POSTGRES_SECRETS.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
    settings
}

/// A plain connection to the app's database, for looking behind the app's back.
pub async fn inspect(app: &TestApp) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::AnyPool::connect(&database_url(app.dir.path()).await)
        .await
        .expect("connect to the test database")
}

/// The app's store, opened beside the running app.
pub async fn open_store(app: &TestApp) -> Arc<dyn gatehouse::store::Store> {
    let url = database_url(app.dir.path()).await;
    let url = gatehouse::config::DatabaseUrl::parse(&url).unwrap();
    gatehouse::store::connect(&url).await.unwrap()
}

/// Raises the test process's open-file limit (its servers and clients share it), once.
pub fn raise_descriptor_limit() -> u64 {
    static LIMIT: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *LIMIT.get_or_init(gatehouse::connections::raise_descriptor_limit)
}

async fn start_server(dir: &Path, vars: &[(&str, &str)]) -> (String, JoinHandle<()>) {
    let descriptors = raise_descriptor_limit();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = app_state(dir, vars, addr).await;
    let handle = tokio::spawn(async move {
        server::serve(listener, state, descriptors, std::future::pending()).await;
    });
    (format!("http://{addr}"), handle)
}

/// What a server in `dir` with these settings serves from, before it listens on `addr`.
pub async fn app_state(
    dir: &Path,
    vars: &[(&str, &str)],
    addr: std::net::SocketAddr,
) -> gatehouse::state::AppState {
    log::watch();
    let mut settings: HashMap<String, String> = base_settings(dir).await.into_iter().collect();
    settings.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = Config::from_lookup(|name| settings.get(name).cloned()).expect("test config");
    let mut options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_addr(addr)
        .build();
    if let Some(root) = settings.get("LEPTOS_SITE_ROOT") {
        options.site_root = root.as_str().into();
    }
    server::build_state(config, options)
        .await
        .expect("app state")
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A client whose connections come from `source`.
pub fn client_from(source: std::net::IpAddr) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(source)
        .build()
        .unwrap()
}

/// A browser's cookie jar, reduced to what these tests need: name -> value.
#[derive(Debug, Default, Clone)]
pub struct Jar(pub HashMap<String, String>);

impl Jar {
    /// Applies a response's `Set-Cookie` lines (an empty value with `Max-Age=0` deletes).
    pub fn absorb(&mut self, response: &Response) {
        for line in set_cookies(response) {
            let pair = line.split(';').next().unwrap_or_default();
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            if value.is_empty() || line.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

pub fn set_cookies(response: &Response) -> Vec<String> {
    response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Set-Cookie` line for cookie `name`.
pub fn set_cookie_line(response: &Response, name: &str) -> String {
    set_cookies(response)
        .into_iter()
        .find(|line| line.starts_with(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no Set-Cookie for {name}"))
}

impl Visitor {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// POSTs a form (the server-function default encoding), with the jar's cookies.
    pub async fn post(&self, path: &str, form: &[(&str, &str)], jar: &Jar) -> Response {
        self.post_with(path, form, jar, &[]).await
    }

    /// [`Self::post`] with extra request headers, as a browser or a proxy would add them.
    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        jar: &Jar,
        headers: &[(&str, &str)],
    ) -> Response {
        let mut request = self
            .http
            .post(self.url(path))
            .header(header::COOKIE, jar.header())
            .form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str, jar: &Jar) -> Response {
        self.http
            .get(self.url(path))
            .header(header::COOKIE, jar.header())
            .send()
            .await
            .unwrap()
    }

    /// POSTs the register form with the test password, from a browser with no cookies.
    pub async fn try_register(&self, email: &str, username: &str, full_name: &str) -> Response {
        let form = registration(email, username, full_name);
        self.post("/api/auth/register", &form, &Jar::default())
            .await
    }

    /// POSTs the login form from a browser with no cookies.
    pub async fn try_login(&self, login: &str, password: &str) -> Response {
        let form = [("login", login), ("password", password)];
        self.post("/api/auth/login", &form, &Jar::default()).await
    }

    /// Logs `name` in with the test password, returning the new session's jar.
    pub async fn login(&self, name: &str) -> Jar {
        let response = self.try_login(name, PASSWORD).await;
        assert_eq!(response.status(), StatusCode::OK, "logging {name} in");
        let mut jar = Jar::default();
        jar.absorb(&response);
        jar
    }

    /// Registers `name` (email `name@example.org`), returning the jar it was logged in with.
    pub async fn register(&self, name: &str) -> Jar {
        let email = format!("{name}@example.org");
        let response = self.try_register(&email, name, "Test Person").await;
        assert_eq!(response.status(), StatusCode::OK, "registering {name}");
        let mut jar = Jar::default();
        jar.absorb(&response);
        jar
    }
}

/// Asserts an error answer: its status and its contract code; returns the body.
pub async fn assert_error(response: Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status, "status for {code}");
    let body: Value = response.json().await.expect("error answers are JSON");
    assert_eq!(body["code"], code, "{body}");
    assert!(
        body["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    body
}

/// Polls `check` until it holds, failing the test if it still does not after `limit`; returns
/// how long it took.
pub async fn within<F, Fut>(
    limit: std::time::Duration,
    what: &str,
    mut check: F,
) -> std::time::Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    loop {
        if check().await {
            return started.elapsed();
        }
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The `code` of an error answer, or `None` for a success.
pub async fn error_code(response: Response) -> Option<String> {
    if response.status().is_success() {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["code"].as_str().map(str::to_owned)
}

/// A small filesystem, mounted for the test and unmounted after.
pub struct Tmpfs(pub tempfile::TempDir);

impl Tmpfs {
    /// `None` where mounting is not allowed (not root): the test then says so and stops.
    pub fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(Self(dir))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.0.path())
            .status();
    }
}

/// Fills the filesystem of `dir` until it is full; returns the filler's path.
pub fn fill(dir: &Path) -> std::path::PathBuf {
    use std::io::Write;
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let block = vec![0u8; 64 * 1024];
    while file.write_all(&block).is_ok() {}
    let _ = file.flush();
    filler
}

/// A 503 `unavailable` with a `Retry-After` of at least a second: a fault that passes.
pub async fn assert_unavailable(response: Response) {
    assert_eq!(response.status(), reqwest::StatusCode::SERVICE_UNAVAILABLE);
    let wait: u64 = response.headers()[reqwest::header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait >= 1, "Retry-After {wait}");
    assert_error(response, 503, "unavailable").await;
}
