//! [ssr] The [`Store`] on SQLite: the zero-configuration default.
//!
//! Durability: WAL with `synchronous=NORMAL`. A transaction that answered 200 is in the WAL
//! before the answer, so it survives the process being killed (`kill -9`); only a power loss
//! or OS crash can lose the last moments of commits, the trade SQLite's own docs recommend
//! for WAL.

use super::{
    verdict::{judge, TokenRow, Verdict},
    Budget, EndReason, EndedSession, NewSession, RefreshRecord, Reservation, Rotation,
    SessionRecord, Store, StoreError, SuccessorAt, UserKey, UserRecord,
};
use crate::config::{DatabaseKind, DatabaseUrl};
use async_trait::async_trait;
use sqlx::{
    sqlite::{
        SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePoolOptions, SqliteRow,
        SqliteSynchronous,
    },
    Connection, Row, Sqlite, SqlitePool, Transaction,
};
use std::{
    str::FromStr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};
use time::OffsetDateTime;
use tokio::sync::{Mutex, MutexGuard};

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    /// The file the pool opened, to notice when the path no longer leads to it.
    file: Option<Arc<OpenedFile>>,
    /// This process's writers queue here before taking SQLite's write lock (see
    /// [`SqliteStore::write`]).
    writes: Arc<Mutex<()>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn connect(database: &DatabaseUrl) -> Result<Self, StoreError> {
        // The file is created here, once, by `owner_only` (with its mode), never by a pool
        // connection: one opened after the file was deleted would make a new, empty database
        // at the path and answer "no such table". It fails to open instead (503).
        let mut options = SqliteConnectOptions::from_str(&database.url)?
            .create_if_missing(matches!(database.kind, DatabaseKind::SqliteMemory))
            .foreign_keys(true)
            .busy_timeout(super::LONGEST_WAIT);
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
            .acquire_timeout(super::LONGEST_WAIT)
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

/// Makes the database file readable by its owner alone (it holds password hashes, emails and
/// addresses), creating it so if missing. SQLite gives the `-wal` and `-shm` files it creates
/// the mode of the database file; ones left from before are narrowed here too.
fn owner_only(path: &std::path::Path) -> Result<(), std::io::Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut file = path.as_os_str().to_owned();
        file.push(suffix);
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
            tracing::warn!(file = %std::path::Path::new(&file).display(),
                "database file was readable by others; now owner-only (0600)");
        }
    }
    Ok(())
}

impl SqliteStore {
    /// A write transaction holding the write lock from its first statement (`BEGIN IMMEDIATE`),
    /// so one that reads first cannot lose a race to another writer. Writers of this process
    /// wait their turn on an async mutex first: SQLite's own busy handler waits by sleeping (up
    /// to 100 ms at a time), which turned twelve simultaneous refreshes into tens of
    /// milliseconds. `busy_timeout` still covers another process writing to the file.
    ///
    /// Both waits are bounded ([`super::LONGEST_WAIT`] each): with another process holding the
    /// lock, requests get 503 in seconds instead of queueing without end.
    ///
    /// And before anything is written: the database file must still be the one at its path.
    /// Deleted (or replaced) under a running server, it took registrations and logins into an
    /// unlinked file for as long as the server ran, and they were gone at the next start. And
    /// it must be writable: made read-only (by `chmod`, or a filesystem remounted read-only),
    /// writes went on through the connections opened before and failed on those opened after;
    /// now every write is refused alike (503) until it is writable again.
    async fn write(
        &self,
    ) -> Result<(MutexGuard<'_, ()>, Transaction<'static, Sqlite>), StoreError> {
        let gate = tokio::time::timeout(super::LONGEST_WAIT, self.writes.lock())
            .await
            .map_err(|_| StoreError::Unavailable(Box::new(WriteQueueTimeout)))?;
        // Checked in line, just before the write, not before a wait of up to three seconds.
        if let Some(file) = &self.file {
            file.ready_for_writes()?;
        }
        let tx = super::begin(&self.pool, Some("BEGIN IMMEDIATE")).await?;
        Ok((gate, tx))
    }
}

/// The database file as it was opened: its device and inode.
struct OpenedFile {
    path: std::path::PathBuf,
    identity: (u64, u64),
    /// Whether "deleted or replaced" was logged (it lasts until a restart: once is enough).
    gone_logged: AtomicBool,
    /// Whether the last write found the file not writable (logged at each change).
    refusing: AtomicBool,
    /// Whether SQLite has opened a connection read-only since the start; only then does each
    /// acquire ask whether its connection is one.
    read_only_connections: AtomicBool,
}

/// The file at the database's path is not the one the server has open.
#[derive(Debug, thiserror::Error)]
#[error(
    "the database file {0} was deleted or replaced while the server had it open; restore it \
     and restart"
)]
struct FileGone(String);

/// The database file cannot be written (its mode, or a read-only filesystem).
#[derive(Debug, thiserror::Error)]
#[error("the database file {path} is not writable ({cause}); writes are refused until it is")]
struct NotWritable {
    path: String,
    cause: std::io::Error,
}

impl OpenedFile {
    fn at(path: &std::path::Path) -> Result<Self, std::io::Error> {
        Ok(Self {
            path: path.to_owned(),
            identity: identity(path)?,
            gone_logged: AtomicBool::new(false),
            refusing: AtomicBool::new(false),
            read_only_connections: AtomicBool::new(false),
        })
    }

    /// `Err` (503, and a line in the log when the state changes) when the path no longer leads
    /// to the file, or the file cannot be written.
    fn ready_for_writes(&self) -> Result<(), StoreError> {
        if !identity(&self.path).is_ok_and(|now| now == self.identity) {
            let gone = FileGone(self.path.display().to_string());
            if !self.gone_logged.swap(true, Ordering::SeqCst) {
                tracing::error!(error = %gone, "refusing writes");
            }
            return Err(StoreError::Unavailable(Box::new(gone)));
        }
        match self.writable() {
            Ok(()) => {
                if self.refusing.swap(false, Ordering::SeqCst) {
                    tracing::info!(file = %self.path.display(), "database file writable again");
                }
                Ok(())
            }
            Err(cause) => {
                let refused = NotWritable {
                    path: self.path.display().to_string(),
                    cause,
                };
                if !self.refusing.swap(true, Ordering::SeqCst) {
                    tracing::error!(error = %refused, "refusing writes");
                }
                Err(StoreError::Unavailable(Box::new(refused)))
            }
        }
    }

    /// faccessat(2) with W_OK for the effective user (what SQLite's `open` is judged by), and
    /// `EROFS` on a read-only mount.
    fn writable(&self) -> Result<(), std::io::Error> {
        use rustix::fs::{accessat, Access, AtFlags, CWD};
        accessat(CWD, &self.path, Access::WRITE_OK, AtFlags::EACCESS).map_err(Into::into)
    }
}

/// Whether SQLite opened this connection read-only.
#[allow(unsafe_code)] // the one FFI call: sqlx offers no safe way to ask
async fn opened_read_only(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    let db = handle.as_raw_handle();
    // SAFETY: `db` is this connection's open handle, locked for us until `handle` is dropped;
    // the schema name is a NUL-terminated constant. The call only reads the handle's state.
    let read_only = unsafe { libsqlite3_sys::sqlite3_db_readonly(db.as_ptr(), c"main".as_ptr()) };
    Ok(read_only == 1)
}

fn identity(path: &std::path::Path) -> Result<(u64, u64), std::io::Error> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(path)?;
    Ok((meta.dev(), meta.ino()))
}

/// This process's writers waited too long in line for the write lock.
#[derive(Debug, thiserror::Error)]
#[error("waited too long in line for the write lock")]
struct WriteQueueTimeout;

fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

fn time_of(seconds: i64) -> Result<OffsetDateTime, sqlx::Error> {
    OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

fn user_from_row(row: &SqliteRow) -> Result<UserRecord, sqlx::Error> {
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        username: row.try_get("username")?,
        full_name: row.try_get("full_name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: time_of(row.try_get("created_at")?)?,
        credential_version: row.try_get("credential_version")?,
    })
}

fn session_from_row(row: &SqliteRow) -> Result<SessionRecord, sqlx::Error> {
    Ok(SessionRecord {
        id: row.try_get("id")?,
        created_at: time_of(row.try_get("created_at")?)?,
        last_used_at: time_of(row.try_get("last_used_at")?)?,
        expires_at: time_of(row.try_get("expires_at")?)?,
        user_agent: row.try_get("user_agent")?,
        ip: row.try_get("ip")?,
    })
}

const USER_COLUMNS: &str =
    "id, email, username, full_name, password_hash, created_at, credential_version";

async fn insert_refresh(
    conn: &mut SqliteConnection,
    record: &RefreshRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&record.token_hash)
    .bind(&record.session_id)
    .bind(&record.user_id)
    .bind(unix(record.issued_at))
    .bind(unix(record.expires_at))
    .execute(&mut *conn)
    .await?;
    // The session lapses when its newest token does, and was last used now.
    sqlx::query("UPDATE sessions SET last_used_at = ?, expires_at = ? WHERE id = ?")
        .bind(unix(record.issued_at))
        .bind(unix(record.expires_at))
        .bind(&record.session_id)
        .execute(&mut *conn)
        .await
        .map(drop)
}

async fn insert_session(
    conn: &mut SqliteConnection,
    session: &NewSession,
    first: &RefreshRecord,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO sessions (id, user_id, created_at, last_used_at, expires_at, ends_by,
                               user_agent, ip)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&session.id)
    .bind(&session.user_id)
    .bind(unix(session.created_at))
    .bind(unix(session.created_at))
    .bind(unix(first.expires_at))
    .bind(unix(session.ends_by))
    .bind(&session.user_agent)
    .bind(&session.ip)
    .execute(&mut *conn)
    .await?;
    insert_refresh(conn, first).await
}

/// Ends the live sessions matched by `filter` (a condition on `sessions` with its binds), and
/// revokes their live refresh tokens. Returns the ids that ended.
async fn end_where(
    conn: &mut SqliteConnection,
    filter: &str,
    binds: &[&str],
    reason: EndReason,
    now: OffsetDateTime,
) -> Result<Vec<String>, sqlx::Error> {
    let sql = format!(
        "UPDATE sessions SET ended_at = ?, end_reason = ?
         WHERE ended_at IS NULL AND ({filter}) RETURNING id"
    );
    let mut query = sqlx::query_scalar::<_, String>(&sql)
        .bind(unix(now))
        .bind(reason.as_str());
    for value in binds {
        query = query.bind(*value);
    }
    let ended = query.fetch_all(&mut *conn).await?;
    for id in &ended {
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, ?)
             WHERE session_id = ? AND state = 'live'",
        )
        .bind(unix(now))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    }
    Ok(ended)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(
        &self,
        user: &UserRecord,
        email_key: &str,
        session: &NewSession,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        sqlx::query(
            "INSERT INTO users (id, email, email_key, username, full_name, password_hash, created_at,
                                credential_version)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(email_key)
        .bind(&user.username)
        .bind(&user.full_name)
        .bind(&user.password_hash)
        .bind(unix(user.created_at))
        .bind(user.credential_version)
        .execute(&mut *tx)
        .await
        .map_err(super::taken_or_database)?;
        insert_session(&mut tx, session, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn find_user(&self, id: &str) -> Result<Option<UserRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn find_user_by(&self, key: UserKey<'_>) -> Result<Option<UserRecord>, StoreError> {
        let (column, value) = match key {
            UserKey::Email(key) => ("email_key", key),
            UserKey::Username(name) => ("username", name),
        };
        let row = sqlx::query(&format!(
            "SELECT {USER_COLUMNS} FROM users WHERE {column} = ?"
        ))
        .bind(value)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.as_ref().map(user_from_row).transpose()?)
    }

    async fn start_session(
        &self,
        session: &NewSession,
        first: &RefreshRecord,
        credential_version: i64,
    ) -> Result<(), StoreError> {
        // One writer at a time: no password change can commit between this check and the insert.
        let (_gate, mut tx) = self.write().await?;
        let current: Option<i64> =
            sqlx::query_scalar("SELECT credential_version FROM users WHERE id = ?")
                .bind(&session.user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if current != Some(credential_version) {
            return Err(StoreError::CredentialsChanged);
        }
        insert_session(&mut tx, session, first).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn reserve_attempt(
        &self,
        key: &str,
        now: i64,
        budget: Budget,
    ) -> Result<Reservation, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        // A window that ended starts afresh (a new generation); the attempt that spends the
        // budget moves the window to now; a spent one grants nothing (no row comes back).
        let granted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO attempt_budgets (key, window_start, used) VALUES (?1, ?2, 1)
             ON CONFLICT (key) DO UPDATE SET
                 used = CASE WHEN window_start <= ?2 - ?3 THEN 1 ELSE used + 1 END,
                 generation = CASE WHEN window_start <= ?2 - ?3
                                   THEN generation + 1 ELSE generation END,
                 window_start = CASE WHEN window_start <= ?2 - ?3 THEN ?2
                                     WHEN used + 1 >= ?4 THEN ?2
                                     ELSE window_start END
             WHERE used < ?4 OR window_start <= ?2 - ?3
             RETURNING generation",
        )
        .bind(key)
        .bind(now)
        .bind(budget.window_secs())
        .bind(i64::from(budget.max))
        .fetch_optional(&mut *tx)
        .await?;
        let reservation = match granted {
            Some(generation) => Reservation::Granted { generation },
            None => {
                let start: i64 =
                    sqlx::query_scalar("SELECT window_start FROM attempt_budgets WHERE key = ?")
                        .bind(key)
                        .fetch_one(&mut *tx)
                        .await?;
                Reservation::Exhausted {
                    until: start.saturating_add(budget.window_secs()),
                }
            }
        };
        tx.commit().await?;
        Ok(reservation)
    }

    async fn upgraded_at(&self, name: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar("SELECT at FROM upgrades WHERE name = ?")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    async fn refund_attempt(&self, key: &str, generation: i64) -> Result<(), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        sqlx::query(
            "UPDATE attempt_budgets SET used = used - 1
             WHERE key = ? AND generation = ? AND used > 0",
        )
        .bind(key)
        .bind(generation)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn session_ends_by(
        &self,
        session_id: &str,
    ) -> Result<Option<OffsetDateTime>, StoreError> {
        let ends_by: Option<i64> = sqlx::query_scalar("SELECT ends_by FROM sessions WHERE id = ?")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(ends_by.map(time_of).transpose()?)
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor_at: &SuccessorAt<'_>,
        grace: Duration,
    ) -> Result<Rotation, StoreError> {
        // The write lock before the read: two exchanges of one token serialise here instead of
        // both reading 'live'.
        let (_gate, mut tx) = self.write().await?;
        // Read only now that the lock is held (see `Store::rotate_refresh`).
        let now = super::clock();
        let row = sqlx::query(
            "SELECT t.state, t.expires_at, t.used_at, t.successor_hash, t.session_id,
                    s.ended_at, s.ends_by
             FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id
             WHERE t.token_hash = ?",
        )
        .bind(old_hash)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let opt_time = |column: &str| -> Result<Option<OffsetDateTime>, sqlx::Error> {
            row.try_get::<Option<i64>, _>(column)?
                .map(time_of)
                .transpose()
        };
        let token = TokenRow {
            state: row.try_get("state")?,
            expires_at: time_of(row.try_get("expires_at")?)?,
            used_at: opt_time("used_at")?,
            successor_hash: row.try_get("successor_hash")?,
            session_ended: opt_time("ended_at")?.is_some(),
            session_ends_by: time_of(row.try_get("ends_by")?)?,
        };
        match judge(token, now, grace) {
            Verdict::Rotate => {}
            Verdict::Answer(answer) => return Ok(answer),
            Verdict::EndForReuse => {
                let session_id: String = row.try_get("session_id")?;
                end_where(&mut tx, "id = ?", &[&session_id], EndReason::Reuse, now).await?;
                tx.commit().await?;
                return Ok(Rotation::Reused);
            }
        }
        let successor = successor_at(now)?;
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'used', used_at = ?, successor_hash = ?
             WHERE token_hash = ?",
        )
        .bind(unix(now))
        .bind(&successor.token_hash)
        .bind(old_hash)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, &successor).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated { at: now })
    }

    async fn end_session(
        &self,
        user_id: &str,
        session_id: &str,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let owned: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM sessions WHERE id = ? AND user_id = ?")
                .bind(session_id)
                .bind(user_id)
                .fetch_optional(&mut *tx)
                .await?;
        if owned.is_none() {
            return Ok(false);
        }
        end_where(&mut tx, "id = ?", &[session_id], reason, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn end_sessions(
        &self,
        user_id: &str,
        keep: Option<&str>,
        reason: EndReason,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let ended = end_where(
            &mut tx,
            "user_id = ? AND id IS NOT ?",
            &[user_id, keep.unwrap_or("")],
            reason,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn list_sessions(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, created_at, last_used_at, expires_at, user_agent, ip FROM sessions
             WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?
             ORDER BY created_at DESC, rowid DESC",
        )
        .bind(user_id)
        .bind(unix(now))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(session_from_row)
            .collect::<Result<_, _>>()?)
    }

    async fn update_profile(
        &self,
        user_id: &str,
        username: &str,
        full_name: &str,
    ) -> Result<Option<UserRecord>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let row = sqlx::query(&format!(
            "UPDATE users SET username = ?, full_name = ? WHERE id = ? RETURNING {USER_COLUMNS}"
        ))
        .bind(username)
        .bind(full_name)
        .bind(user_id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(super::taken_or_database)?;
        let user = row.as_ref().map(user_from_row).transpose()?;
        tx.commit().await?;
        Ok(user)
    }

    async fn change_password(
        &self,
        user_id: &str,
        credential_version: i64,
        password_hash: &str,
        fresh: &RefreshRecord,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let changed = sqlx::query(
            "UPDATE users SET password_hash = ?, credential_version = credential_version + 1
             WHERE id = ? AND credential_version = ?",
        )
        .bind(password_hash)
        .bind(user_id)
        .bind(credential_version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if changed == 0 {
            return Err(StoreError::CredentialsChanged);
        }
        let ended = end_where(
            &mut tx,
            "user_id = ? AND id IS NOT ?",
            &[user_id, &fresh.session_id],
            EndReason::PasswordChanged,
            now,
        )
        .await?;
        // This session goes on, with a fresh token: the ones before it are spent, the rotated
        // ones too, so a copy of one cannot draw a token in the grace window.
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, ?)
             WHERE session_id = ? AND state IN ('live', 'used')",
        )
        .bind(unix(now))
        .bind(&fresh.session_id)
        .execute(&mut *tx)
        .await?;
        insert_refresh(&mut tx, fresh).await?;
        tx.commit().await?;
        Ok(ended)
    }

    async fn delete_user(
        &self,
        user_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<String>, StoreError> {
        let (_gate, mut tx) = self.write().await?;
        let live: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM sessions WHERE user_id = ? AND ended_at IS NULL AND expires_at > ?",
        )
        .bind(user_id)
        .bind(unix(now))
        .fetch_all(&mut *tx)
        .await?;
        // Sessions and refresh tokens go with the user (ON DELETE CASCADE).
        sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(live)
    }

    async fn ended_since(&self, since: OffsetDateTime) -> Result<Vec<EndedSession>, StoreError> {
        let rows = sqlx::query("SELECT id, ended_at FROM sessions WHERE ended_at >= ?")
            .bind(unix(since))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| {
                Ok(EndedSession {
                    id: row.try_get("id")?,
                    ended_at: time_of(row.try_get("ended_at")?)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?)
    }

    async fn prune(
        &self,
        now: OffsetDateTime,
        ended_before: OffsetDateTime,
        budgets_before: i64,
    ) -> Result<(u64, u64), StoreError> {
        let (_gate, mut tx) = self.write().await?;
        // A session's tokens go with it (ON DELETE CASCADE); count them first.
        let sessions = sqlx::query("DELETE FROM sessions WHERE expires_at <= ? OR ended_at < ?")
            .bind(unix(now))
            .bind(unix(ended_before))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        let tokens = sqlx::query("DELETE FROM refresh_tokens WHERE expires_at <= ?")
            .bind(unix(now))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        sqlx::query("DELETE FROM attempt_budgets WHERE window_start < ?")
            .bind(budgets_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok((sessions, tokens))
    }
}
