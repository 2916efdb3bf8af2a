//! [ssr] Opening the database as the right [`Store`], waiting for a PostgreSQL server that is
//! not up yet, beginning transactions safely, and pruning what can no longer matter.

use super::{postgres, sqlite, Store, StoreError};
use time::OffsetDateTime;

/// Begins a transaction (with `statement`, or the database's plain `BEGIN`) in a task of its own,
/// so that it completes even if the caller stops waiting, as a request's future does when its
/// client disconnects. sqlx's begin is not cancel-safe: dropped between the database's `BEGIN`
/// and sqlx's own bookkeeping, it returns the connection to the pool inside a transaction that
/// nobody will end. On SQLite that transaction held the write lock: every other write then
/// failed with "database is locked", seen under a login flood when the load generator stopped.
/// A transaction begun here and then dropped is rolled back as usual.
pub(super) async fn begin<DB: sqlx::Database>(
    pool: &sqlx::Pool<DB>,
    statement: Option<&'static str>,
) -> Result<sqlx::Transaction<'static, DB>, sqlx::Error> {
    let pool = pool.clone();
    tokio::spawn(async move {
        match statement {
            Some(statement) => pool.begin_with(statement).await,
            None => pool.begin().await,
        }
    })
    .await
    .unwrap_or(Err(sqlx::Error::WorkerCrashed))
}

/// Opens the database `DATABASE_URL` names, as the right [`Store`], with its schema up to date.
pub async fn connect(
    database: &crate::config::DatabaseUrl,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    use crate::config::DatabaseKind;
    Ok(match database.kind {
        DatabaseKind::Postgres => std::sync::Arc::new(postgres::PgStore::connect(database).await?),
        DatabaseKind::SqliteFile(_) | DatabaseKind::SqliteMemory => {
            std::sync::Arc::new(sqlite::SqliteStore::connect(database).await?)
        }
    })
}

/// Opens the database as [`connect`] does, trying again while a PostgreSQL server cannot be
/// reached (down, starting, out of connections), for up to `patience`: waits double from half
/// a second to five, and each failed attempt logs one line with its cause. A server that
/// answers and refuses (a wrong password, no such database, a failed migration) is not tried
/// again, nor is a SQLite file: waiting would not change those.
pub async fn connect_patiently(
    database: &crate::config::DatabaseUrl,
    patience: std::time::Duration,
) -> Result<std::sync::Arc<dyn Store>, StoreError> {
    let started = std::time::Instant::now();
    let mut wait = std::time::Duration::from_millis(500);
    for attempt in 1.. {
        // A host that drops packets makes one attempt last minutes (TCP's SYN retries): each
        // is bounded by the patience left.
        let left = patience.saturating_sub(started.elapsed());
        let attempt_result = match tokio::time::timeout(left, connect(database)).await {
            Ok(result) => result,
            Err(_) => Err(StoreError::Unavailable(Box::new(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within DATABASE_WAIT_AT_START ({patience:?})"),
            )))),
        };
        match attempt_result {
            Err(StoreError::Unavailable(cause))
                if database.kind == crate::config::DatabaseKind::Postgres
                    && started.elapsed() + wait < patience =>
            {
                tracing::warn!(
                    attempt,
                    error = %crate::error::chain(&*cause),
                    retry_in_ms = wait.as_millis() as u64,
                    "cannot reach the database; trying again"
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            outcome => return outcome,
        }
    }
    unreachable!("the attempts above never end but by returning")
}

/// How often [`spawn_pruning`] clears out what can no longer matter.
pub const PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Keeps the database from growing without end: once an hour, deletes expired refresh tokens,
/// lapsed sessions, and sessions that ended more than one access lifetime ago (by then none of
/// their access tokens is alive, and the revocation set has let them go too).
///
/// Failure budgets go once their window (`budget_window`) has passed since their last attempt,
/// and the audit trail's events once they are older than `audit_retention`.
pub fn spawn_pruning(
    store: std::sync::Arc<dyn Store>,
    access_ttl: std::time::Duration,
    budget_window: std::time::Duration,
    audit_retention: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut every = tokio::time::interval(PRUNE_EVERY);
        loop {
            every.tick().await;
            let now = OffsetDateTime::now_utc();
            let budgets_before = now.unix_timestamp() - budget_window.as_secs() as i64;
            let events_before = (now - audit_retention).unix_timestamp();
            match store
                .prune(now, now - access_ttl, budgets_before, events_before)
                .await
            {
                Ok((0, 0, 0)) => {}
                Ok((sessions, tokens, events)) => {
                    tracing::info!(sessions, tokens, events, "pruned")
                }
                Err(e) => tracing::warn!(error = %e, "pruning failed; will try again"),
            }
        }
    })
}
