//! [ssr] The command line in the same binary (`clap`): with no command it serves, as always;
//! with one it acts on the database the settings name, the way the server would (the same
//! store, the same session endings, an event for each change, by "operator") and exits.
//!
//! Running servers learn of every change within a second: the database announces it
//! (PostgreSQL by NOTIFY, SQLite in a table each server polls; see `caches::follow`).

mod output;

use crate::{
    auth::endings::Endings,
    caches::{revoked::RevokedSessions, user_cache::UserCache},
    config::{Config, DatabaseKind},
    mail::letters::{Circumstances, Letter},
    domain::Email,
    store::{
        Actor, EndReason, Event, EventKind, Retirement, Store, StoreError, UserKey, UserRecord,
    },
};
use clap::{Parser, Subcommand};
use output::Output;
use std::sync::Arc;
use time::OffsetDateTime;

/// Login done right. With no command, serves the app.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Print JSON for scripts instead of tables for people.
    #[arg(long, global = true)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the app (the same as no command).
    Serve,
    /// List, show, disable, enable or delete accounts.
    #[command(subcommand)]
    Users(Users),
    /// List an account's live sessions, or end them.
    #[command(subcommand)]
    Sessions(Sessions),
    /// An account's audit trail, newest first.
    Events {
        /// The account: its id, email or username.
        user: String,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Apply the migrations this build knows, then exit (the server applies them at start-up
    /// too).
    Migrate,
    /// List, rotate or retire the token signing keys.
    #[command(subcommand)]
    Keys(Keys),
}

#[derive(Debug, Subcommand)]
pub enum Keys {
    /// Every signing key, newest first: the newest live one signs, every live one verifies.
    List,
    /// Start signing with a new key. Tokens of the others stay valid for their remaining
    /// lifetime, so nobody is logged out.
    Rotate {
        /// Retire every other key at once (a key leaked): everyone logs in again.
        #[arg(long)]
        retire_others: bool,
    },
    /// Stop accepting one key's tokens now: everyone holding one logs in again.
    Retire { kid: String },
}

#[derive(Debug, Subcommand)]
pub enum Users {
    /// Every account, oldest first.
    List {
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// One account, with its live sessions.
    Show { user: String },
    /// Refuse its logins (`account_disabled`) and end its sessions at once.
    Disable { user: String },
    /// Let it log in again.
    Enable { user: String },
    /// Turn its two-step verification off (the authenticator app and its recovery codes), for
    /// someone who lost both: its password alone logs in again, and can set an app up anew.
    ResetFactors { user: String },
    /// Delete it with its sessions; its events stay until `AUDIT_RETENTION`.
    Delete {
        user: String,
        /// Needed: deleting cannot be undone.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum Sessions {
    /// The account's live sessions, newest first.
    List { user: String },
    /// End one session (its id, from `sessions list`).
    Revoke { session_id: String },
    /// End every session of the account.
    RevokeAll { user: String },
}

/// Why a command failed; each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no account has the id, email or username {0:?}")]
    NoSuchUser(String),
    #[error("{0:?} has no two-step verification on")]
    NoFactors(String),
    #[error("no live session has the id {0:?}")]
    NoSuchSession(String),
    #[error("deleting {0:?} cannot be undone: run again with --yes")]
    NotConfirmed(String),
    #[error(
        "DATABASE_URL: there is no database at {0}; start the server once to create it, or \
         run `gatehouse migrate`"
    )]
    NoDatabase(String),
    #[error("no live signing key has the id {0:?}; see `gatehouse keys list`")]
    NoSuchKey(String),
    #[error("{0:?} is the only live signing key: run `gatehouse keys rotate` first")]
    LastKey(String),
    #[error("DATABASE_URL: cannot open the database")]
    Open(#[source] StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write the answer")]
    Write(#[from] std::io::Error),
}

/// Runs one command against the database of `config`.
pub async fn run(command: Command, json: bool, config: &Config) -> Result<(), AdminError> {
    if let (DatabaseKind::SqliteFile(path), false) =
        (&config.database.kind, matches!(command, Command::Migrate))
    {
        // Opening would create an empty database, and every answer would be "no such account".
        if !path.exists() {
            return Err(AdminError::NoDatabase(path.display().to_string()));
        }
    }
    let store = crate::store::connect(&config.database)
        .await
        .map_err(AdminError::Open)?;
    let admin = Admin {
        // Where mailed links lead: as the servers say it (see `mail::Mailer`).
        origin: config.mail.public_url.clone().unwrap_or_else(|| {
            let site = std::env::var("LEPTOS_SITE_ADDR").unwrap_or_else(|_| "127.0.0.1:3000".into());
            format!("http://{site}")
        }),
        store,
        revoked: RevokedSessions::new(config.access_ttl),
        users: UserCache::new(1),
        out: Output::new(json),
    };
    admin.run(command).await
}

struct Admin {
    origin: String,
    store: Arc<dyn Store>,
    // Only for `Endings`: the running servers' caches hear of each end from the database.
    revoked: RevokedSessions,
    users: UserCache,
    out: Output,
}

impl Admin {
    async fn run(&self, command: Command) -> Result<(), AdminError> {
        let printed = match command {
            Command::Serve => Ok(()),
            Command::Migrate => {
                let current = self.store.migrations_applied().await?;
                self.out.done(&format!(
                    "migrations applied; the database is {}",
                    if current { "up to date" } else { "newer than this build" }
                ))
            }
            Command::Users(Users::List { limit }) => {
                let users = self.store.list_users(limit).await?;
                self.out.users(&users)
            }
            Command::Users(Users::Show { user }) => {
                let user = self.user(&user).await?;
                let sessions = self.store.list_sessions(&user.id, now()).await?;
                self.out.user(&user, &sessions)
            }
            Command::Users(Users::Disable { user }) => return self.set_disabled(&user, true).await,
            Command::Users(Users::Enable { user }) => return self.set_disabled(&user, false).await,
            Command::Users(Users::ResetFactors { user }) => {
                let found = self.user(&user).await?;
                let event = operator(EventKind::TotpDisabled, &found.id);
                // The owner hears of it, as of every change to their factors.
                let notice = Letter::FactorsChanged {
                    what: "an administrator turned it off",
                    forgot: format!("{}/forgot", self.origin),
                }
                .to(
                    &found.email,
                    &Circumstances {
                        when: now(),
                        device: String::new(),
                        address: String::new(),
                    },
                    uuid::Uuid::new_v4().to_string(),
                );
                if !self.store.remove_totp(&found.id, &event, &notice).await? {
                    return Err(AdminError::NoFactors(user));
                }
                self.out.done(&format!(
                    "two-step verification turned off for {}",
                    found.username
                ))
            }
            Command::Users(Users::Delete { user, yes }) => {
                let found = self.user(&user).await?;
                if !yes {
                    return Err(AdminError::NotConfirmed(user));
                }
                let event = operator(EventKind::AccountDeleted, &found.id);
                let ended = self.endings().delete_account(&event).await?;
                self.out.changed("deleted", &found, ended.len())
            }
            Command::Sessions(Sessions::List { user }) => {
                let user = self.user(&user).await?;
                let sessions = self.store.list_sessions(&user.id, now()).await?;
                self.out.sessions(&sessions)
            }
            Command::Sessions(Sessions::Revoke { session_id }) => {
                let owner = self
                    .store
                    .session_owner(&session_id)
                    .await?
                    .ok_or_else(|| AdminError::NoSuchSession(session_id.clone()))?;
                let event = operator(EventKind::SessionRevoked, &owner);
                if !self.endings().revoke(&session_id, &event).await? {
                    return Err(AdminError::NoSuchSession(session_id));
                }
                self.out.revoked(&session_id, &owner)
            }
            Command::Sessions(Sessions::RevokeAll { user }) => {
                let user = self.user(&user).await?;
                let event = operator(EventKind::SessionsEnded, &user.id);
                let ended = self.endings().end_all(EndReason::Revoked, &event).await?;
                self.out.changed("logged out everywhere", &user, ended.len())
            }
            Command::Keys(Keys::List) => {
                let keys = self.store.signing_keys().await?;
                self.out.keys(&keys)
            }
            Command::Keys(Keys::Rotate { retire_others }) => {
                let kid = new_kid();
                self.store
                    .add_signing_key(&kid, now(), retire_others)
                    .await?;
                let keys = self.store.signing_keys().await?;
                self.out.keys(&keys)
            }
            Command::Keys(Keys::Retire { kid }) => {
                match self.store.retire_signing_key(&kid, now()).await? {
                    Retirement::Retired => {}
                    Retirement::NotLive => return Err(AdminError::NoSuchKey(kid)),
                    Retirement::LastLive => return Err(AdminError::LastKey(kid)),
                }
                let keys = self.store.signing_keys().await?;
                self.out.keys(&keys)
            }
            Command::Events { user, limit } => {
                let user = self.user(&user).await?;
                let events = self.store.events_of(&user.id, limit).await?;
                self.out.events(&events)
            }
        };
        Ok(printed?)
    }

    async fn set_disabled(&self, user: &str, disabled: bool) -> Result<(), AdminError> {
        let found = self.user(user).await?;
        let kind = if disabled {
            EventKind::AccountDisabled
        } else {
            EventKind::AccountEnabled
        };
        let ended = self
            .store
            .set_disabled(&found.id, disabled, &operator(kind, &found.id))
            .await?
            .ok_or_else(|| AdminError::NoSuchUser(user.to_owned()))?;
        let what = if disabled { "disabled" } else { "enabled" };
        Ok(self.out.changed(what, &found, ended.len())?)
    }

    /// The account named by its id, email or username.
    async fn user(&self, named: &str) -> Result<UserRecord, AdminError> {
        let by_id = self.store.find_user(named).await?;
        let found = match by_id {
            Some(user) => Some(user),
            None if named.contains('@') => {
                let key = Email::key_of(named);
                self.store.find_user_by(UserKey::Email(&key)).await?
            }
            None => self.store.find_user_by(UserKey::Username(named)).await?,
        };
        found.ok_or_else(|| AdminError::NoSuchUser(named.to_owned()))
    }

    fn endings(&self) -> Endings<'_> {
        Endings {
            store: self.store.as_ref(),
            revoked: &self.revoked,
            users: &self.users,
        }
    }
}

fn now() -> OffsetDateTime {
    crate::store::clock()
}

/// A new key id: the time in milliseconds then 20 random bits, in hex, so that ids sort as
/// they were made (two rotations within a second still pick the later one to sign), and never
/// `0` (the original key's).
fn new_kid() -> String {
    use rand::Rng;
    let millis = OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
    format!("{millis:011x}{:05x}", rand::thread_rng().gen_range(0..1u32 << 20))
}

fn operator(kind: EventKind, user_id: &str) -> Event {
    Event {
        user_id: user_id.to_owned(),
        kind,
        at: now(),
        actor: Actor::Operator,
        ip: None,
        device: None,
        session_id: None,
    }
}
