//! [ssr] The SQLite database file itself: created owner-only, and watched while the server runs,
//! so that a file deleted, replaced or made read-only under it is refused (503) rather than
//! written into an unlinked inode or failing on half the connections.

use crate::store::StoreError;
use sqlx::sqlite::SqliteConnection;
use std::sync::atomic::{AtomicBool, Ordering};

/// Makes the database file readable by its owner alone (it holds password hashes, emails and
/// addresses), creating it so if missing. SQLite gives the `-wal` and `-shm` files it creates
/// the mode of the database file; ones left from before are narrowed here too.
pub(super) fn owner_only(path: &std::path::Path) -> Result<(), std::io::Error> {
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

/// The database file as it was opened: its device and inode.
pub(super) struct OpenedFile {
    pub(super) path: std::path::PathBuf,
    identity: (u64, u64),
    /// Whether "deleted or replaced" was logged (it lasts until a restart: once is enough).
    gone_logged: AtomicBool,
    /// Whether the last write found the file not writable (logged at each change).
    refusing: AtomicBool,
    /// Whether SQLite has opened a connection read-only since the start; only then does each
    /// acquire ask whether its connection is one.
    pub(super) read_only_connections: AtomicBool,
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
    pub(super) fn at(path: &std::path::Path) -> Result<Self, std::io::Error> {
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
    pub(super) fn ready_for_writes(&self) -> Result<(), StoreError> {
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
    pub(super) fn writable(&self) -> Result<(), std::io::Error> {
        use rustix::fs::{accessat, Access, AtFlags, CWD};
        accessat(CWD, &self.path, Access::WRITE_OK, AtFlags::EACCESS).map_err(Into::into)
    }
}

/// Whether SQLite opened this connection read-only.
#[allow(unsafe_code)] // the one FFI call: sqlx offers no safe way to ask
pub(super) async fn opened_read_only(conn: &mut SqliteConnection) -> Result<bool, sqlx::Error> {
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
