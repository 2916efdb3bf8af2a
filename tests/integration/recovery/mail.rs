//! Delivery: to an SMTP server when one is set, queued and retried while it is away, and never
//! lost when the process stops with mail still queued.

use crate::support::{
    log,
    mail::{outbox, outbox_dir, smtp_host, SmtpSink},
    spawn_app_with, Jar, TestApp,
};
use reqwest::StatusCode;
use std::time::Duration;

const FROM: &str = "Gatehouse <no-reply@example.com>";
const PUBLIC: &str = "https://login.example.com";

async fn ask_for_link(app: &TestApp, email: &str) {
    let response = app
        .post(
            "/api/auth/request_password_reset",
            &[("email", email)],
            &Jar::default(),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// The app, sending its mail to the SMTP server at `url`, with `extra` settings.
async fn sending_to(url: &str, extra: &[(&str, &str)]) -> TestApp {
    let mut vars = vec![
        ("SMTP_URL", url),
        ("MAIL_FROM", FROM),
        ("PUBLIC_URL", PUBLIC),
    ];
    vars.extend_from_slice(extra);
    spawn_app_with(&vars).await
}

/// The URL of an SMTP server that is away: a port nothing listens on (bound, then let go) on an
/// address of its own, and where to start one later.
async fn away() -> (String, (std::net::Ipv4Addr, u16)) {
    let host = smtp_host();
    let listener = tokio::net::TcpListener::bind((host, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (format!("smtp://{host}:{port}"), (host, port))
}

#[tokio::test]
async fn with_an_smtp_url_mail_goes_to_that_server_from_mail_from() {
    let sink = SmtpSink::start(0).await;
    let app = sending_to(&sink.url(), &[]).await;
    app.register("ivy").await;
    ask_for_link(&app, "ivy@example.org").await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(mails[0].is_to("ivy@example.org"));
    assert!(mails[0]
        .raw
        .contains("From: Gatehouse <no-reply@example.com>"));
    assert!(mails[0].raw.contains("text/plain") && mails[0].raw.contains("text/html"));
    assert!(mails[0].link_to("/reset").is_some());
    assert!(
        mails[0]
            .raw
            .contains("https://login.example.com/reset?token="),
        "links lead to PUBLIC_URL: {}",
        mails[0].raw
    );
    assert!(
        outbox(&outbox_dir(&app)).is_empty(),
        "nothing in the folder"
    );
}

#[tokio::test]
async fn while_the_smtp_server_is_away_mail_waits_and_is_delivered_once_it_is_back() {
    let (url, port) = away().await;
    let app = sending_to(&url, &[]).await;
    app.register("jon").await;
    // Every request succeeds while the server is away.
    ask_for_link(&app, "jon@example.org").await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let sink = SmtpSink::start_on(port.0, port.1).await;
    let mails = sink.wait_for(1, Duration::from_secs(20)).await;
    assert!(mails[0].is_to("jon@example.org"));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(sink.others().len(), 1, "sent once");
    log::assert_no_server_errors();
}

#[tokio::test]
async fn mail_queued_when_the_server_stops_is_delivered_after_the_restart() {
    let (url, _) = away().await;
    let app = sending_to(&url, &[]).await;
    app.register("kim").await;
    ask_for_link(&app, "kim@example.org").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The server stops with the message still queued (its worker could not deliver it).
    let sink = SmtpSink::start(0).await;
    let app = app
        .restart(&[
            ("SMTP_URL", &sink.url()),
            ("MAIL_FROM", FROM),
            ("PUBLIC_URL", PUBLIC),
        ])
        .await;
    let mails = sink.wait_for(1, Duration::from_secs(10)).await;
    assert!(mails[0].is_to("kim@example.org"));
    drop(app);
}

#[tokio::test]
async fn a_reset_mail_whose_link_expired_while_the_server_was_away_is_never_sent() {
    let (url, port) = away().await;
    let app = sending_to(&url, &[("PASSWORD_RESET_EXPIRY", "1s")]).await;
    app.register("lee").await;
    ask_for_link(&app, "lee@example.org").await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let sink = SmtpSink::start_on(port.0, port.1).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert!(sink.others().is_empty(), "a dead link was sent");
}

#[tokio::test]
async fn a_requesters_own_user_agent_text_never_reaches_the_mail() {
    let app = spawn_app_with(&[]).await;
    app.register("max").await;
    let response = app
        .post_with(
            "/api/auth/request_password_reset",
            &[("email", "max@example.org")],
            &Jar::default(),
            &[("user-agent", "Call +1 555 0100 at evil.example")],
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let mail = &crate::support::mail::mails_to(&app, "max@example.org", 1).await[0];
    assert!(!mail.raw.contains("evil.example"), "{}", mail.raw);
    assert!(mail.raw.contains("an unknown device"));
}
