//! The pure hot paths, each on its own: what one request costs before any I/O. Run with
//! `cargo bench --features ssr`; criterion prints the time per call. Figures are recorded in
//! the README; nothing here asserts a timing.
#![allow(clippy::unwrap_used)] // a bench's setup failing is a panic, as in a test

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gatehouse::{
    caches::revoked::RevokedSessions,
    config::Config,
    credentials::{
        passwords::{Passwords, QueueLimits},
        tokens::{refresh_token_hash, TokenKeys},
    },
    store::UserRecord,
};
use std::{hint::black_box, time::Duration};
use time::OffsetDateTime;

fn keys() -> TokenKeys {
    let config = Config::from_lookup(|name| match name {
        "ACCESS_TOKEN_SECRET" => Some("bench-access-secret-0123456789-abcdefghij".into()),
        "REFRESH_TOKEN_SECRET" => Some("bench-refresh-secret-0123456789-abcdefghij".into()),
        _ => None,
    })
    .expect("bench config");
    TokenKeys::new(&config)
}

fn user() -> UserRecord {
    UserRecord {
        id: uuid::Uuid::new_v4().to_string(),
        email: "ada@example.org".into(),
        username: "ada".into(),
        full_name: "Ada Lovelace".into(),
        password_hash: String::new(),
        credential_version: 1,
        created_at: OffsetDateTime::now_utc(),
        email_verified_at: None,
        disabled_at: None,
    }
}

fn tokens(c: &mut Criterion) {
    let keys = keys();
    let user = user();
    let now = OffsetDateTime::now_utc();
    let cap = now + Duration::from_secs(30 * 86_400);
    let access = keys.issue_access(&user, "session", now, cap).unwrap();
    let refresh = keys.issue_refresh(&user.id, "session", now, cap).unwrap();
    let claims = keys.verify_refresh(&refresh.token).unwrap();

    c.bench_function("access token: verify (HS256, claims, typ)", |b| {
        b.iter(|| keys.verify_access(black_box(&access.token)).unwrap())
    });
    c.bench_function("access token: issue", |b| {
        b.iter(|| {
            keys.issue_access(black_box(&user), "session", now, cap)
                .unwrap()
        })
    });
    c.bench_function("refresh token: issue", |b| {
        b.iter(|| {
            keys.issue_refresh(black_box(&user.id), "session", now, cap)
                .unwrap()
        })
    });
    let ring = keys.ring();
    c.bench_function("refresh token: derive the successor", |b| {
        b.iter(|| {
            keys.successor(ring.signer(), black_box(&refresh.token), &claims, now, cap)
                .unwrap()
        })
    });
    c.bench_function("refresh token: SHA-256 for its row", |b| {
        b.iter(|| refresh_token_hash(black_box(&refresh.token)))
    });
}

fn revocation(c: &mut Criterion) {
    let revoked = RevokedSessions::new(Duration::from_secs(900));
    let ended: Vec<String> = (0..10_000)
        .map(|_| uuid::Uuid::new_v4().to_string())
        .collect();
    revoked.insert(ended.iter().map(String::as_str), OffsetDateTime::now_utc());
    let live = uuid::Uuid::new_v4().to_string();
    c.bench_function("revoked-session check, 10k ended sessions held", |b| {
        b.iter(|| revoked.contains(black_box(&live)))
    });
}

fn argon2(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let passwords = runtime
        .block_on(Passwords::new(QueueLimits {
            per_claimant: 1_000_000,
            per_slot: 1_000_000,
        }))
        .unwrap();
    let stored = runtime
        .block_on(passwords.hash("correct horse battery"))
        .unwrap();
    let mut group = c.benchmark_group("argon2id m=19MiB t=2 p=1");
    group.sample_size(20);
    group.bench_function("hash", |b| {
        b.iter_batched(
            || "correct horse battery",
            |password| runtime.block_on(passwords.hash(password)).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("verify", |b| {
        b.iter(|| {
            runtime
                .block_on(passwords.verify("correct horse battery", Some(&stored)))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, tokens, revocation, argon2);
criterion_main!(benches);
