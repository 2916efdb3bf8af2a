//! [ssr] Connecting to PostgreSQL: the migrations on a connection of their own, then a pool
//! whose statements give up on a held lock or a long run rather than queue requests behind it.

use super::PgStore;
use crate::{config::DatabaseUrl, store::StoreError};
use sqlx::{
    postgres::{PgConnectOptions, PgConnection, PgPoolOptions},
    Connection,
};
use std::str::FromStr;

impl PgStore {
    /// Connects and brings the schema up to date. Several instances starting at once are safe:
    /// sqlx runs migrations under an advisory lock.
    pub async fn connect(database: &DatabaseUrl) -> Result<Self, StoreError> {
        // One plain connection first: when the server cannot be reached, it fails with the
        // cause ("Connection refused", "database … does not exist"), where the pool would only
        // say that it timed out.
        // It also runs the migrations, free of the pool's timeouts below: an instance starting
        // beside another waits on the migration lock as long as the other takes.
        let mut plain = PgConnection::connect(&database.url).await?;
        sqlx::migrate!("./migrations/postgres")
            .run(&mut plain)
            .await?;
        plain.close().await?;
        // A statement waiting on a lock that another session holds (an operator's open
        // transaction in psql, a migration) gives up after the same bound as a wait for a
        // connection, and no statement runs on past 10 s: requests answer 503 rather than
        // queue behind it, each holding one of the pool's 16 connections.
        let wait = format!("{}ms", crate::store::LONGEST_WAIT.as_millis());
        let options = PgConnectOptions::from_str(&database.url)?.options([
            ("lock_timeout", wait.as_str()),
            ("statement_timeout", "10s"),
        ]);
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(crate::store::LONGEST_WAIT)
            // As on SQLite (see `SqliteStore::connect`): a connection whose transaction sqlx
            // still counts is closed, never handed out again.
            .before_acquire(|conn, _| Box::pin(async move { Ok(!conn.is_in_transaction()) }))
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}
