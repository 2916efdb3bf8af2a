//! The integration tests: the real app (or the real binary) on loopback, one test binary with a
//! module per subject, so it links once. `support` is the harness they share.
//!
//! `scripts/test` runs them on SQLite, then again on PostgreSQL with the tests that need it
//! (marked `#[ignore]`, run with `--include-ignored`).
#![cfg(feature = "ssr")]
#![allow(clippy::unwrap_used)] // a test that cannot go on fails, and that is a panic

mod api;
mod binary;
mod concurrency;
mod connections;
mod factors;
mod faults;
mod health;
mod instances;
mod operations;
mod outage;
mod recovery;
mod rendering;
mod security;
mod sessions;
mod support;
