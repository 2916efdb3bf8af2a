//! [ssr] The [`Store`] on SQLite: the zero-configuration default.
//!
//! Durability: WAL with `synchronous=NORMAL`. A transaction that answered 200 is in the WAL
//! before the answer, so it survives the process being killed (`kill -9`); only a power loss
//! or OS crash can lose the last moments of commits, the trade SQLite's own docs recommend
//! for WAL.

use super::{RefreshRecord, Rotation, Store, StoreError, UserKey, UserRecord};
use crate::config::DatabaseUrl;
use async_trait::async_trait;
use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Row, SqlitePool,
};
use std::{str::FromStr, time::Duration};
use time::OffsetDateTime;

#[derive(Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating if missing) the database and brings its schema up to date.
    pub async fn connect(database: &DatabaseUrl) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(&database.url)?
            .create_if_missing(true)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let mut pool = SqlitePoolOptions::new();
        if database.sqlite_file.is_some() {
            options = options
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal);
            pool = pool.max_connections(8);
        } else {
            // Each connection to `:memory:` is a database of its own: keep exactly one, forever.
            pool = pool
                .max_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        }
        let pool = pool.connect_with(options).await?;
        sqlx::migrate!("./migrations/sqlite").run(&pool).await?;
        Ok(Self { pool })
    }
}

fn unix(at: OffsetDateTime) -> i64 {
    at.unix_timestamp()
}

fn user_from_row(row: &sqlx::sqlite::SqliteRow) -> Result<UserRecord, sqlx::Error> {
    let created: i64 = row.try_get("created_at")?;
    Ok(UserRecord {
        id: row.try_get("id")?,
        email: row.try_get("email")?,
        username: row.try_get("username")?,
        full_name: row.try_get("full_name")?,
        password_hash: row.try_get("password_hash")?,
        created_at: OffsetDateTime::from_unix_timestamp(created)
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
    })
}

const USER_COLUMNS: &str = "id, email, username, full_name, password_hash, created_at";

async fn insert_refresh<'e, E>(executor: E, record: &RefreshRecord) -> Result<(), sqlx::Error>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO refresh_tokens (token_hash, session_id, user_id, issued_at, expires_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&record.token_hash)
    .bind(&record.session_id)
    .bind(&record.user_id)
    .bind(unix(record.issued_at))
    .bind(unix(record.expires_at))
    .execute(executor)
    .await
    .map(drop)
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_user(
        &self,
        user: &UserRecord,
        email_key: &str,
        first: &RefreshRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        let inserted = sqlx::query(
            "INSERT INTO users (id, email, email_key, username, full_name, password_hash, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(email_key)
        .bind(&user.username)
        .bind(&user.full_name)
        .bind(&user.password_hash)
        .bind(unix(user.created_at))
        .execute(&mut *tx)
        .await;
        if let Err(sqlx::Error::Database(db)) = &inserted {
            if db.is_unique_violation() {
                let field = if db.message().contains("email_key") {
                    "email"
                } else {
                    "username"
                };
                return Err(StoreError::Taken(field));
            }
        }
        inserted?;
        insert_refresh(&mut *tx, first).await?;
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

    async fn insert_refresh(&self, record: &RefreshRecord) -> Result<(), StoreError> {
        Ok(insert_refresh(&self.pool, record).await?)
    }

    async fn rotate_refresh(
        &self,
        old_hash: &str,
        successor: &RefreshRecord,
        now: OffsetDateTime,
    ) -> Result<Rotation, StoreError> {
        // Take the write lock before reading, so two exchanges of one token serialise here
        // instead of both reading 'live' (or failing at once with SQLITE_BUSY).
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let row = sqlx::query("SELECT state, expires_at FROM refresh_tokens WHERE token_hash = ?")
            .bind(old_hash)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(row) = row else {
            return Ok(Rotation::Unknown);
        };
        let state: String = row.try_get("state")?;
        let expires_at: i64 = row.try_get("expires_at")?;
        let refused = match state.as_str() {
            "used" => Some(Rotation::AlreadyUsed),
            "revoked" => Some(Rotation::Revoked),
            _ if expires_at <= unix(now) => Some(Rotation::Expired),
            _ => None,
        };
        if let Some(refused) = refused {
            return Ok(refused);
        }
        sqlx::query("UPDATE refresh_tokens SET state = 'used', used_at = ? WHERE token_hash = ?")
            .bind(unix(now))
            .bind(old_hash)
            .execute(&mut *tx)
            .await?;
        insert_refresh(&mut *tx, successor).await?;
        tx.commit().await?;
        Ok(Rotation::Rotated)
    }

    async fn revoke_session(
        &self,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE refresh_tokens SET state = 'revoked', used_at = COALESCE(used_at, ?)
             WHERE session_id = ? AND state = 'live'",
        )
        .bind(unix(now))
        .bind(session_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
