//! [ssr] How the store fails: [`StoreError`], and which database errors pass (503) rather than
//! being faults (500), on either database.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The account's password changed (or the account went) after the caller read it: what the
    /// caller verified is no longer the password.
    #[error("the account's credentials changed meanwhile")]
    CredentialsChanged,
    /// A unique field is taken: `email` or `username`.
    #[error("{0} is already taken")]
    Taken(&'static str),
    /// The database cannot take the request now, for a reason that passes: its disk is full,
    /// another process holds its write lock, its file went read-only, the server is away.
    #[error("database unavailable")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("database error")]
    Database(#[source] sqlx::Error),
    /// The successor token could not be made.
    #[error("cannot make the successor token")]
    Successor(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error("migration failed")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("cannot prepare the database file")]
    File(#[from] std::io::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        if passing(&err) {
            Self::Unavailable(Box::new(err))
        } else {
            Self::Database(err)
        }
    }
}

/// The longest a request waits for the database: for SQLite's write lock (this process's queue,
/// then another process's hold), for a PostgreSQL connection. Past it the request is answered
/// 503 rather than left to pile up behind the others.
pub const LONGEST_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// Whether a database error is one that passes (answered 503 with `Retry-After`, not 500): the
/// disk full, the file locked by another process or gone read-only or unreadable, the server
/// unreachable, out of connections or shutting down.
fn passing(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => {
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes: BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN.
                let primary = db
                    .code()
                    .and_then(|code| code.parse::<i32>().ok())
                    .map(|code| code & 0xff);
                matches!(primary, Some(5 | 6 | 8 | 10 | 13 | 14))
            } else {
                // SQLSTATE: class 08 connection exception, class 53 insufficient resources
                // (disk full, out of memory or connections), 57P01-57P03 shutting down or
                // starting, 25006 read-only (a primary that became a standby in a failover),
                // 55P03 a lock not had within `lock_timeout`, 57014 a statement cancelled
                // (`statement_timeout`, or an operator's `pg_cancel_backend`).
                db.code().is_some_and(|state| {
                    state.starts_with("08")
                        || state.starts_with("53")
                        || matches!(
                            &*state,
                            "57P01" | "57P02" | "57P03" | "25006" | "55P03" | "57014"
                        )
                })
            }
        }
        _ => false,
    }
}

/// A write's error, with a unique-constraint failure on `users` turned into the field the
/// person should change. SQLite names the index in its message; PostgreSQL names the constraint.
pub(super) fn taken_or_database(err: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &err else {
        return err.into();
    };
    if !db.is_unique_violation() {
        return err.into();
    }
    let culprit = db.constraint().unwrap_or(db.message());
    StoreError::Taken(if culprit.contains("email_key") {
        "email"
    } else {
        "username"
    })
}
