//! [ssr] How a server on SQLite hears what another process changed in the same file (the
//! command line ending a session, disabling an account, rotating a key): the migration's
//! triggers write each change to `announcements`, as PostgreSQL's announce it with NOTIFY, and
//! this reads the new rows a few times a second. The server's own changes come back too, and
//! applying them again is harmless.

use crate::store::{Change, StoreError};
use sqlx::SqlitePool;
use std::time::Duration;

/// How often the table is read: a change reaches the caches within this, plus the read.
pub const POLL_EVERY: Duration = Duration::from_millis(250);

pub(super) async fn follow(
    pool: &SqlitePool,
    apply: Box<dyn Fn(Change) + Send + Sync>,
) -> Result<tokio::task::JoinHandle<()>, StoreError> {
    // From now on: what came before is in the database already, and start-up loads that.
    let mut seen: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM announcements")
        .fetch_one(pool)
        .await?;
    let pool = pool.clone();
    Ok(tokio::spawn(async move {
        let mut every = tokio::time::interval(POLL_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            every.tick().await;
            let rows: Result<Vec<(i64, String)>, _> = sqlx::query_as(
                "SELECT seq, payload FROM announcements WHERE seq > ? ORDER BY seq LIMIT 1000",
            )
            .bind(seen)
            .fetch_all(&pool)
            .await;
            match rows {
                Ok(rows) => {
                    if failing {
                        // Rows may have been pruned meanwhile: reload everything cached.
                        failing = false;
                        apply(Change::Missed);
                    }
                    for (seq, payload) in rows {
                        seen = seq;
                        match Change::parse(&payload) {
                            Some(change) => apply(change),
                            None => tracing::warn!(%payload, "unknown announcement ignored"),
                        }
                    }
                }
                Err(e) if !failing => {
                    tracing::warn!(error = %e, "cannot read announcements; retrying");
                    failing = true;
                    apply(Change::Disconnected);
                }
                Err(_) => {}
            }
        }
    }))
}
