//! Every setting, read once at start-up from the environment (and `.env`, which the real
//! environment overrides), validated, and handed down through `AppState`. A bad value stops
//! start-up with one line naming the variable.

mod duration;
mod limits;
mod mail;
mod secrets;
mod serving;

pub use duration::{parse_duration, DurationError};
pub use limits::{ForwardedHeader, Limits, TrustedProxies};
pub use mail::{Delivery, Mail};
pub use secrets::{mark_database_created, Secret};
pub use serving::{LogFormat, LogRequests, Serving};

use std::{path::PathBuf, time::Duration};

/// The server's settings. `Debug` is safe to log: secrets are redacted.
#[derive(Debug, Clone)]
pub struct Config {
    pub database: DatabaseUrl,
    pub access_secret: Secret,
    pub refresh_secret: Secret,
    /// `ACCESS_TOKEN_SECRET_PREVIOUS`: a secret being replaced; its tokens still verify.
    pub access_secret_previous: Option<Secret>,
    /// `REFRESH_TOKEN_SECRET_PREVIOUS`: likewise for refresh tokens.
    pub refresh_secret_previous: Option<Secret>,
    /// `FACTOR_SECRET`: seals second-factor secrets in the database. Never rotated: losing it
    /// turns every authenticator app off.
    pub factor_secret: Secret,
    pub access_ttl: Duration,
    pub refresh_ttl: Duration,
    /// `REFRESH_REUSE_GRACE`: how long a just-rotated refresh token still gets its successor.
    pub refresh_reuse_grace: Duration,
    /// `SESSION_MAX_LIFETIME`: no session outlives this age since its login.
    pub session_max_lifetime: Duration,
    /// `AUDIT_RETENTION`: how long the audit trail's events are kept.
    pub audit_retention: Duration,
    /// `STEP_UP_WINDOW`: how recent a proof of who is asking must be for a sensitive change.
    pub step_up_window: Duration,
    pub cookie_secure: bool,
    pub limits: Limits,
    /// Timeouts and connection caps, and how much the request log says.
    pub serving: Serving,
    /// Where mail goes, from whom, and where its links lead.
    pub mail: Mail,
    /// Where generated secrets are kept, when the operator set none.
    pub secrets_file: Option<PathBuf>,
    /// The SQLite file must already exist: the secrets file generated beside it records that it
    /// was created, so a missing database was deleted or moved, not new.
    pub database_must_exist: bool,
}

/// A one-line reason start-up cannot go on; it always names the variable at fault.
#[derive(Debug, thiserror::Error)]
#[error("{var}: {reason}")]
pub struct ConfigError {
    pub var: &'static str,
    pub reason: String,
}

impl ConfigError {
    pub fn new(var: &'static str, reason: impl ToString) -> Self {
        Self {
            var,
            reason: reason.to_string(),
        }
    }
}

/// A count setting: unset, or a whole number of at least 1.
fn positive_count(name: &'static str, raw: Option<String>) -> Result<Option<u32>, ConfigError> {
    raw.map(|raw| match raw.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(ConfigError::new(
            name,
            format!("expected a whole number of at least 1, got {raw:?}"),
        )),
    })
    .transpose()
}

pub const DEFAULT_DATABASE_URL: &str = "sqlite://gatehouse.db";
pub const DEFAULT_ACCESS_TTL: &str = "15m";
pub const DEFAULT_REFRESH_TTL: &str = "7d";
pub const DEFAULT_REFRESH_REUSE_GRACE: &str = "10s";
pub const DEFAULT_SESSION_MAX_LIFETIME: &str = "30d";
pub const DEFAULT_AUDIT_RETENTION: &str = "90d";
pub const DEFAULT_STEP_UP_WINDOW: &str = "5m";
/// The longest grace window accepted. The window is how long a copied refresh token stays
/// useful to a thief without tripping reuse detection; tabs need a few seconds, never minutes.
pub const MAX_REFRESH_REUSE_GRACE: Duration = Duration::from_secs(60);

impl Config {
    /// Reads `.env` in the working directory (if present; parent directories are not searched)
    /// into the process environment without overriding what is already set, then builds the
    /// config from the environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        match dotenvy::from_path(".env") {
            Ok(_) => {}
            Err(e) if e.not_found() => {}
            Err(e) => return Err(ConfigError::new(".env", e)),
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds the config from any variable lookup, so tests need not touch the process env.
    /// Each group of settings is read by its own function, in the order the README lists them.
    pub fn from_lookup(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let set = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let database = DatabaseUrl::parse(
            set("DATABASE_URL")
                .as_deref()
                .unwrap_or(DEFAULT_DATABASE_URL),
        )?;
        let lifetimes = Lifetimes::from_lookup(set)?;
        let cookie_secure = cookie_secure(set)?;
        let mail = Mail::from_lookup(set, &database)?;
        // After the settings above: a start that fails on one of them generates no secrets.
        let keys = Keys::from_lookup(set, &database)?;
        Ok(Self {
            database,
            access_secret: keys.access,
            refresh_secret: keys.refresh,
            access_secret_previous: keys.access_previous,
            refresh_secret_previous: keys.refresh_previous,
            factor_secret: keys.factor,
            access_ttl: lifetimes.access,
            refresh_ttl: lifetimes.refresh,
            refresh_reuse_grace: lifetimes.reuse_grace,
            session_max_lifetime: lifetimes.session_max,
            audit_retention: lifetimes.audit_retention,
            step_up_window: lifetimes.step_up_window,
            cookie_secure,
            limits: Limits::from_lookup(set)?,
            serving: Serving::from_lookup(set)?,
            mail,
            secrets_file: keys.file,
            database_must_exist: keys.database_created,
        })
    }
}

/// The signing keys, set or generated, and where generated ones are kept.
struct Keys {
    access: Secret,
    refresh: Secret,
    access_previous: Option<Secret>,
    refresh_previous: Option<Secret>,
    factor: Secret,
    file: Option<PathBuf>,
    /// The secrets file records that the database was created (see `Config`).
    database_created: bool,
}

impl Keys {
    fn from_lookup(
        set: impl Fn(&str) -> Option<String>,
        database: &DatabaseUrl,
    ) -> Result<Self, ConfigError> {
        let (access, refresh, factor, file, database_created) = match (
            set("ACCESS_TOKEN_SECRET"),
            set("REFRESH_TOKEN_SECRET"),
            set("FACTOR_SECRET"),
        ) {
            (Some(access), Some(refresh), Some(factor)) => (access, refresh, factor, None, false),
            (Some(access), Some(refresh), None) if database.kind != DatabaseKind::Postgres => {
                // The token keys are set, the factor key is not: it is kept in the file alone.
                let generated = database.generated_secrets("FACTOR_SECRET")?;
                (access, refresh, generated.factor, None, false)
            }
            (access, refresh, factor) => {
                let generated = database.generated_secrets(match (&access, &refresh) {
                    (Some(_), Some(_)) => "FACTOR_SECRET",
                    _ => "ACCESS_TOKEN_SECRET",
                })?;
                (
                    access.unwrap_or(generated.access),
                    refresh.unwrap_or(generated.refresh),
                    factor.unwrap_or(generated.factor),
                    Some(generated.path),
                    generated.database_created,
                )
            }
        };
        let secret = |name: &'static str, value: String| {
            if value.len() < Secret::MIN_BYTES {
                Err(ConfigError::new(name, "must be at least 32 bytes long"))
            } else {
                Ok(Secret::new(value.into_bytes()))
            }
        };
        let access = secret("ACCESS_TOKEN_SECRET", access)?;
        let refresh = secret("REFRESH_TOKEN_SECRET", refresh)?;
        let factor = secret("FACTOR_SECRET", factor)?;
        if access == refresh {
            return Err(ConfigError::new(
                "REFRESH_TOKEN_SECRET",
                "must differ from ACCESS_TOKEN_SECRET",
            ));
        }
        let previous = |name: &'static str, current: &Secret| -> Result<_, ConfigError> {
            let Some(value) = set(name) else {
                return Ok(None);
            };
            let value = secret(name, value)?;
            if &value == current {
                return Err(ConfigError::new(name, "is the current secret: leave it unset"));
            }
            Ok(Some(value))
        };
        Ok(Self {
            access_previous: previous("ACCESS_TOKEN_SECRET_PREVIOUS", &access)?,
            refresh_previous: previous("REFRESH_TOKEN_SECRET_PREVIOUS", &refresh)?,
            access,
            refresh,
            factor,
            file,
            database_created,
        })
    }
}

/// How long tokens and sessions live.
struct Lifetimes {
    access: Duration,
    refresh: Duration,
    reuse_grace: Duration,
    session_max: Duration,
    audit_retention: Duration,
    step_up_window: Duration,
}

impl Lifetimes {
    fn from_lookup(set: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let ttl = |name: &'static str, default: &str| {
            parse_duration(set(name).as_deref().unwrap_or(default))
                .map_err(|e| ConfigError::new(name, e))
        };
        let access = ttl("ACCESS_TOKEN_EXPIRY", DEFAULT_ACCESS_TTL)?;
        let refresh = ttl("REFRESH_TOKEN_EXPIRY", DEFAULT_REFRESH_TTL)?;
        if refresh < access {
            return Err(ConfigError::new(
                "REFRESH_TOKEN_EXPIRY",
                "must not be shorter than ACCESS_TOKEN_EXPIRY",
            ));
        }
        let reuse_grace = match set("REFRESH_REUSE_GRACE") {
            // `0` turns the window off: every second presentation is reuse.
            Some(raw) if raw.trim() == "0" => Duration::ZERO,
            raw => parse_duration(raw.as_deref().unwrap_or(DEFAULT_REFRESH_REUSE_GRACE))
                .map_err(|e| ConfigError::new("REFRESH_REUSE_GRACE", e))?,
        };
        if reuse_grace > MAX_REFRESH_REUSE_GRACE {
            return Err(ConfigError::new(
                "REFRESH_REUSE_GRACE",
                "must be at most 60s: a longer window lets a stolen token go unnoticed",
            ));
        }
        Ok(Self {
            access,
            refresh,
            reuse_grace,
            session_max: ttl("SESSION_MAX_LIFETIME", DEFAULT_SESSION_MAX_LIFETIME)?,
            audit_retention: ttl("AUDIT_RETENTION", DEFAULT_AUDIT_RETENTION)?,
            step_up_window: ttl("STEP_UP_WINDOW", DEFAULT_STEP_UP_WINDOW)?,
        })
    }
}

/// `COOKIE_SECURE`: `true` unless set to `false` (or `0`).
fn cookie_secure(set: impl Fn(&str) -> Option<String>) -> Result<bool, ConfigError> {
    flag(set, "COOKIE_SECURE", true)
}

/// A yes-or-no setting: `true` or `1`, `false` or `0`, and `default` when unset.
fn flag(
    set: impl Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match set(name).map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) if v == "true" || v == "1" => Ok(true),
        Some(v) if v == "false" || v == "0" => Ok(false),
        Some(v) => Err(ConfigError::new(
            name,
            format!("expected true or false, got {v:?}"),
        )),
    }
}

/// `DATABASE_URL`, understood: SQLite (the zero-configuration default) or PostgreSQL (for
/// several instances sharing one database). `Debug` hides a PostgreSQL password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    pub url: String,
    pub kind: DatabaseKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseKind {
    /// A SQLite file, created if missing.
    SqliteFile(PathBuf),
    /// An in-memory SQLite database: gone when the process ends.
    SqliteMemory,
    Postgres,
}

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseUrl")
            .field("url", &self.redacted())
            .field("kind", &self.kind)
            .finish()
    }
}

impl DatabaseUrl {
    pub fn parse(url: &str) -> Result<Self, ConfigError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Self {
                url: url.to_owned(),
                kind: DatabaseKind::Postgres,
            });
        }
        let rest = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .ok_or_else(|| {
                ConfigError::new(
                    "DATABASE_URL",
                    format!(
                        "expected a sqlite: or postgres:// URL, as in {DEFAULT_DATABASE_URL} \
                         or postgres://user:password@host/gatehouse"
                    ),
                )
            })?;
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let in_memory = path.is_empty() || path == ":memory:" || query.contains("mode=memory");
        Ok(Self {
            url: url.to_owned(),
            kind: if in_memory {
                DatabaseKind::SqliteMemory
            } else {
                DatabaseKind::SqliteFile(PathBuf::from(path))
            },
        })
    }

    /// The URL with any password replaced by `***`, fit for logs and errors.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.url.split_once("://") else {
            return self.url.clone();
        };
        match rest.split_once('@') {
            Some((credentials, host)) if credentials.contains(':') => {
                let user = credentials.split(':').next().unwrap_or_default();
                format!("{scheme}://{user}:***@{host}")
            }
            _ => self.url.clone(),
        }
    }

    /// Secrets for a database that has none configured: kept beside the database file, or
    /// fresh for each start of an in-memory database (whose data dies with the process anyway).
    /// The generated secrets, for the unset setting `var`.
    fn generated_secrets(
        &self,
        var: &'static str,
    ) -> Result<secrets::GeneratedSecrets, ConfigError> {
        match &self.kind {
            DatabaseKind::SqliteFile(file) => {
                secrets::load_or_create(&file.with_extension("secrets"))
                    .map_err(|e| ConfigError::new(var, format!("not set, and {e}")))
            }
            // Every instance on one PostgreSQL must sign with the same keys, so none may
            // invent its own.
            DatabaseKind::Postgres => Err(ConfigError::new(
                var,
                "must be set, with ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET and FACTOR_SECRET, \
                 when DATABASE_URL is PostgreSQL: every instance needs the same secrets",
            )),
            DatabaseKind::SqliteMemory => {
                let dir = std::env::temp_dir().join(format!("gatehouse-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&dir).map_err(|e| ConfigError::new(var, e))?;
                let generated = secrets::load_or_create(&dir.join("memory.secrets"))
                    .map_err(|e| ConfigError::new(var, e));
                let _ = std::fs::remove_dir_all(&dir);
                generated
            }
        }
    }
}

/// A variable lookup over fixed pairs, for the settings' unit tests.
#[cfg(test)]
pub(crate) fn lookup<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_from(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(lookup(pairs))
    }

    const A: &str = "an-access-secret-that-is-long-enough-000";
    const R: &str = "a-refresh-secret-that-is-long-enough-111";

    #[test]
    fn defaults_apply_when_nothing_is_set_but_the_secrets() {
        let config =
            config_from(&[("ACCESS_TOKEN_SECRET", A), ("REFRESH_TOKEN_SECRET", R)]).unwrap();
        assert_eq!(config.access_ttl, Duration::from_secs(900));
        assert_eq!(config.refresh_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(config.refresh_reuse_grace, Duration::from_secs(10));
        assert_eq!(
            config.session_max_lifetime,
            Duration::from_secs(30 * 86_400)
        );
        assert!(config.cookie_secure);
        assert_eq!(
            config.database.kind,
            DatabaseKind::SqliteFile(PathBuf::from("gatehouse.db"))
        );
        assert!(config.secrets_file.is_none());
    }

    #[test]
    fn missing_secrets_are_generated_beside_the_database_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/data.db", dir.path().display());
        let first = config_from(&[("DATABASE_URL", &url)]).unwrap();
        let second = config_from(&[("DATABASE_URL", &url)]).unwrap();
        assert_eq!(first.secrets_file, Some(dir.path().join("data.secrets")));
        assert_eq!(first.access_secret, second.access_secret);
        assert_ne!(first.access_secret, first.refresh_secret);
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let base = [("ACCESS_TOKEN_SECRET", A), ("REFRESH_TOKEN_SECRET", R)];
        let cases: [(&str, &str, &str); 9] = [
            ("REFRESH_REUSE_GRACE", "soon", "REFRESH_REUSE_GRACE"),
            ("REFRESH_REUSE_GRACE", "5m", "REFRESH_REUSE_GRACE"),
            ("SESSION_MAX_LIFETIME", "0", "SESSION_MAX_LIFETIME"),
            ("ACCESS_TOKEN_EXPIRY", "15 minutes", "ACCESS_TOKEN_EXPIRY"),
            ("REFRESH_TOKEN_EXPIRY", "1x", "REFRESH_TOKEN_EXPIRY"),
            ("COOKIE_SECURE", "maybe", "COOKIE_SECURE"),
            ("ACCESS_TOKEN_SECRET", "short", "ACCESS_TOKEN_SECRET"),
            ("REFRESH_TOKEN_SECRET", A, "REFRESH_TOKEN_SECRET"),
            ("DATABASE_URL", "mysql://x", "DATABASE_URL"),
        ];
        for (name, value, expected) in cases {
            let mut vars = base.to_vec();
            vars.retain(|(k, _)| *k != name);
            vars.push((name, value));
            let err = config_from(&vars).expect_err(name);
            assert_eq!(err.var, expected, "{name}={value}");
            assert!(err.to_string().starts_with(expected));
        }
    }

    #[test]
    fn refresh_lifetime_shorter_than_access_lifetime_is_refused() {
        let err = config_from(&[
            ("ACCESS_TOKEN_SECRET", A),
            ("REFRESH_TOKEN_SECRET", R),
            ("ACCESS_TOKEN_EXPIRY", "1h"),
            ("REFRESH_TOKEN_EXPIRY", "30m"),
        ])
        .unwrap_err();
        assert_eq!(err.var, "REFRESH_TOKEN_EXPIRY");
    }

    #[test]
    fn a_zero_grace_window_turns_it_off() {
        let config = config_from(&[
            ("ACCESS_TOKEN_SECRET", A),
            ("REFRESH_TOKEN_SECRET", R),
            ("REFRESH_REUSE_GRACE", "0"),
        ])
        .unwrap();
        assert_eq!(config.refresh_reuse_grace, Duration::ZERO);
    }

    #[test]
    fn sqlite_urls_are_understood() {
        let file = DatabaseUrl::parse("sqlite:data/app.db?mode=rwc").unwrap();
        assert_eq!(
            file.kind,
            DatabaseKind::SqliteFile(PathBuf::from("data/app.db"))
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite::memory:").unwrap().kind,
            DatabaseKind::SqliteMemory
        );
    }

    #[test]
    fn postgres_urls_are_understood_and_their_password_never_shown() {
        for url in [
            "postgres://app:hunter2@db/gatehouse",
            "postgresql://app:hunter2@db/gh",
        ] {
            let parsed = DatabaseUrl::parse(url).unwrap();
            assert_eq!(parsed.kind, DatabaseKind::Postgres);
            assert!(!format!("{parsed:?}").contains("hunter2"), "{parsed:?}");
            assert!(parsed
                .redacted()
                .starts_with(&url[..url.find(':').unwrap()]));
            assert!(parsed.redacted().contains("app:***@db/"));
        }
    }

    #[test]
    fn postgres_without_explicit_secrets_is_refused() {
        let err = config_from(&[("DATABASE_URL", "postgres://localhost/gatehouse")]).unwrap_err();
        assert_eq!(err.var, "ACCESS_TOKEN_SECRET");
        assert!(err.reason.contains("same secrets"), "{}", err.reason);
    }

    #[test]
    fn config_debug_never_shows_secrets() {
        let config =
            config_from(&[("ACCESS_TOKEN_SECRET", A), ("REFRESH_TOKEN_SECRET", R)]).unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains(A) && !shown.contains(R));
    }
}
