//! [ssr] Opening the SQLite database: the file (created owner-only), WAL, and a pool whose
//! connections are replaced when SQLite left them unusable (a transaction it rolled back, or a
//! connection it opened read-only).

use super::{
    file::{opened_read_only, owner_only, OpenedFile},
    SqliteStore,
};
use crate::{
    config::{DatabaseKind, DatabaseUrl},
    store::StoreError,
};
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Connection,
};
use std::{
    str::FromStr,
    sync::{atomic::Ordering, Arc},
};
use tokio::sync::Mutex;

impl SqliteStore {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn connect(database: &DatabaseUrl) -> Result<Self, StoreError> {
        // The file is created here, once, by `owner_only` (with its mode), never by a pool
        // connection: one opened after the file was deleted would make a new, empty database
        // at the path and answer "no such table". It fails to open instead (503).
        let mut options = SqliteConnectOptions::from_str(&database.url)?
            .create_if_missing(matches!(database.kind, DatabaseKind::SqliteMemory))
            .foreign_keys(true)
            .busy_timeout(crate::store::LONGEST_WAIT);
        let mut pool = SqlitePoolOptions::new();
        let mut file = None;
        if let DatabaseKind::SqliteFile(path) = &database.kind {
            owner_only(path)?;
            let opened = Arc::new(OpenedFile::at(path)?);
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            let noticed = opened.clone();
            pool = pool.max_connections(8).after_connect(move |conn, _| {
                let file = noticed.clone();
                Box::pin(async move {
                    if opened_read_only(conn).await? {
                        file.read_only_connections.store(true, Ordering::Relaxed);
                        tracing::warn!(file = %file.path.display(),
                            "SQLite opened a connection read-only, the file not being writable; \
                             it is replaced once the file is");
                    }
                    Ok(())
                })
            });
            file = Some(opened);
        } else {
            // Each connection to `:memory:` is a database of its own: keep exactly one, forever.
            pool = pool
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        // A connection whose transaction failed inside SQLite (a full disk, a read-only file)
        // was rolled back there, but sqlx 0.8.6's bookkeeping still counted the transaction:
        // every later write on it failed ("begin_with at non-zero transaction depth") until the
        // pool recycled it half an hour later. Such a connection is closed instead of reused.
        //
        // And SQLite opens a connection read-only, silently, when the file is not writable at
        // that moment; it stays so. Once the file is writable again, such a connection is
        // closed here and a writable one opened, instead of failing writes for half an hour.
        let checked = file.clone();
        let pool = pool
            .acquire_timeout(crate::store::LONGEST_WAIT)
            .before_acquire(move |conn, _| {
                let file = checked.clone();
                Box::pin(async move {
                    if conn.is_in_transaction() {
                        return Ok(false);
                    }
                    match file {
                        Some(file) if file.read_only_connections.load(Ordering::Relaxed) => {
                            Ok(!(opened_read_only(conn).await? && file.writable().is_ok()))
                        }
                        _ => Ok(true),
                    }
                })
            })
            .connect_with(options)
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self {
            pool,
            file,
            writes: Arc::new(Mutex::new(())),
        })
    }
}
