//! The test harness: the real app on a free loopback port with a fresh SQLite file, and small
//! helpers for the cookie-level HTTP the contract specifies.
#![allow(dead_code)] // each test binary uses its own subset of these helpers

use gatehouse::{config::Config, server};
use leptos::prelude::LeptosOptions;
use reqwest::{header, Response, StatusCode};
use serde_json::Value;
use std::{collections::HashMap, path::Path};
use tempfile::TempDir;
use tokio::task::JoinHandle;

pub const PASSWORD: &str = "correct horse battery";

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
pub struct TestApp {
    pub base: String,
    pub dir: TempDir,
    pub http: reqwest::Client,
    server: JoinHandle<()>,
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
    let dir = tempfile::tempdir().expect("temporary directory");
    let (base, server) = start_server(dir.path(), vars).await;
    TestApp {
        base,
        dir,
        http: client(),
        server,
    }
}

impl TestApp {
    /// Stops this server and starts a new one on the same database directory.
    pub async fn restart(mut self, vars: &[(&str, &str)]) -> TestApp {
        self.server.abort();
        let _ = (&mut self.server).await;
        let (base, server) = start_server(self.dir.path(), vars).await;
        self.base = base;
        self.server = server;
        self
    }
}

pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}/gatehouse.db", dir.display())
}

async fn start_server(dir: &Path, vars: &[(&str, &str)]) -> (String, JoinHandle<()>) {
    gatehouse::telemetry::init();
    let mut settings: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    settings
        .entry("DATABASE_URL".into())
        .or_insert_with(|| database_url(dir));
    let config = Config::from_lookup(|name| settings.get(name).cloned()).expect("test config");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let options = LeptosOptions::builder()
        .output_name("gatehouse")
        .site_addr(addr)
        .build();
    let state = server::build_state(config, options)
        .await
        .expect("app state");
    let handle = tokio::spawn(async move {
        axum::serve(listener, server::app(state)).await.unwrap();
    });
    (format!("http://{addr}"), handle)
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
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

impl TestApp {
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
