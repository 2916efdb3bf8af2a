//! Prepares the load benchmark (`scripts/bench-load`): in the database and with the secrets
//! the server will use (from the environment, as the server reads them), one account
//! `bench` / `correct horse battery` and `N` sessions, each with a fresh refresh token.
//! Writes `access_token.txt` (one access token for `/me`) and `refresh_tokens.txt` (one token
//! per line, each good for one rotation) into the directory given.
//!
//! Usage: bench_prepare <N> <output directory>

use gatehouse::{
    config::Config,
    credentials::{
        passwords::{Passwords, QueueLimits},
        tokens::{refresh_token_hash, TokenKeys},
    },
    store::{self, NewSession, RefreshRecord, UserRecord},
};
use std::{io::Write, path::PathBuf};
use time::OffsetDateTime;

pub const PASSWORD: &str = "correct horse battery";

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let count: usize = args
        .next()
        .and_then(|n| n.parse().ok())
        .expect("usage: bench_prepare <N> <output directory>");
    let out = PathBuf::from(args.next().expect("an output directory"));
    let config = Config::from_env().expect("config");
    let store = store::connect(&config.database).await.expect("database");
    let keys = TokenKeys::new(&config);
    let passwords = Passwords::new(QueueLimits {
        per_claimant: 1_000_000,
        per_slot: 1_000_000,
    })
    .await
    .expect("argon2");
    let now = OffsetDateTime::now_utc();
    let ends_by = now + config.session_max_lifetime;

    let user = UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email: "bench@example.org".into(),
        username: "bench".into(),
        full_name: "Bench Mark".into(),
        password_hash: passwords.hash(PASSWORD).await.expect("hash"),
        credential_version: 1,
        created_at: now,
        email_verified_at: None,
        disabled_at: None,
    };
    // Every registration carries its verification; this one is never sent (discarded at once).
    let verification = store::AccountToken {
        token_hash: uuid::Uuid::new_v4().to_string(),
        user_id: user.id.clone(),
        purpose: store::TokenPurpose::VerifyEmail,
        credential_version: 1,
        created_at: now,
        expires_at: now,
        email_was: user.email.clone(),
        email_to: None,
        code_hash: None,
    };
    let mail = store::OutgoingMail {
        id: uuid::Uuid::new_v4().to_string(),
        recipient: user.email.clone(),
        subject: "not sent".into(),
        text_body: String::new(),
        html_body: String::new(),
        queued_at: now,
        discard_after: Some(now),
    };
    let mut tokens = std::io::BufWriter::new(
        std::fs::File::create(out.join("refresh_tokens.txt")).expect("tokens file"),
    );
    for n in 0..=count {
        let id = uuid::Uuid::new_v4().to_string();
        let refresh = keys
            .issue_refresh(&user.id, &id, now, ends_by)
            .expect("sign");
        let session = NewSession {
            id: id.clone(),
            user_id: user.id.clone(),
            created_at: now,
            ends_by,
            user_agent: "bench_prepare".into(),
            ip: "127.0.0.1".into(),
            method: store::SignInMethod::Password,
            first: RefreshRecord {
                token_hash: refresh_token_hash(&refresh.token),
                session_id: id,
                user_id: user.id.clone(),
                issued_at: now,
                expires_at: refresh.expires_at,
            },
        };
        let event = store::Event {
            user_id: user.id.clone(),
            kind: if n == 0 {
                store::EventKind::Registered
            } else {
                store::EventKind::LoggedIn
            },
            at: now,
            actor: store::Actor::Owner,
            ip: Some("127.0.0.1".into()),
            device: Some("bench_prepare".into()),
            session_id: Some(session.id.clone()),
        };
        if n == 0 {
            let registration = store::Registration {
                user: &user,
                email_key: "bench@example.org",
                verification: &verification,
                mail: &mail,
                session: Some(&session),
                event: &event,
            };
            store
                .create_user(&registration)
                .await
                .expect("create the bench account");
            let access = keys
                .issue_access(&user, &session.id, now, ends_by)
                .expect("sign");
            std::fs::write(out.join("access_token.txt"), access.token).expect("write");
        } else {
            store
                .start_session(&session, user.credential_version, None, &event)
                .await
                .expect("session");
            writeln!(tokens, "{}", refresh.token).expect("write");
        }
    }
    tokens.flush().expect("write");
}
