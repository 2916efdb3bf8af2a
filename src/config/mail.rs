//! The mail settings: where messages go (an SMTP server, or `.eml` files in an outbox folder
//! when none is set), whom they come from, and the origin their links point to.

use super::{flag, parse_duration, ConfigError, DatabaseKind, DatabaseUrl};
use std::{path::PathBuf, time::Duration};

pub const DEFAULT_PASSWORD_RESET_EXPIRY: &str = "30m";
/// Whom mail comes from while it only goes into the outbox folder.
pub const DEFAULT_MAIL_FROM: &str = "Gatehouse <gatehouse@localhost>";

/// The mail settings. `Debug` hides an SMTP password.
#[derive(Clone)]
pub struct Mail {
    pub delivery: Delivery,
    /// `MAIL_FROM`, a mailbox (`Name <address>` or an address).
    pub from: lettre::message::Mailbox,
    /// `PUBLIC_URL`: the origin (scheme, host, port) that links in mails point to; `None` for
    /// the address the server listens on. Never the request's `Host`, which the sender of a
    /// request chooses: a reset link built from it would carry the token to their site.
    pub public_url: Option<String>,
    /// `PASSWORD_RESET_EXPIRY`: how long a reset link works.
    pub password_reset_expiry: Duration,
    /// `REQUIRE_VERIFIED_EMAIL`: an account logs in only once its address is verified.
    pub require_verified_email: bool,
}

/// Where messages go.
#[derive(Clone, PartialEq, Eq)]
pub enum Delivery {
    /// `SMTP_URL`, in lettre's form (`smtp://host:port`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host:465`); checked at start-up.
    Smtp(String),
    /// No `SMTP_URL`: each message becomes an `.eml` file here (`MAIL_OUTBOX`, or `outbox/`
    /// beside the database).
    Outbox(PathBuf),
}

impl std::fmt::Debug for Mail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mail")
            .field("delivery", &self.delivery)
            .field("from", &self.from.to_string())
            .field("public_url", &self.public_url)
            .field("password_reset_expiry", &self.password_reset_expiry)
            .field("require_verified_email", &self.require_verified_email)
            .finish()
    }
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Smtp(url) => write!(f, "Smtp({})", redact_password(url)),
            Self::Outbox(dir) => write!(f, "Outbox({})", dir.display()),
        }
    }
}

impl Delivery {
    /// Where messages go, fit for a log line (an SMTP password replaced by `***`).
    pub fn describe(&self) -> String {
        match self {
            Self::Smtp(url) => redact_password(url),
            Self::Outbox(dir) => dir.display().to_string(),
        }
    }
}

fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    match rest.rsplit_once('@') {
        Some((credentials, host)) => {
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}")
        }
        None => url.to_owned(),
    }
}

impl Mail {
    pub fn from_lookup(
        set: impl Fn(&str) -> Option<String>,
        database: &DatabaseUrl,
    ) -> Result<Self, ConfigError> {
        let smtp = set("SMTP_URL").map(|url| url.trim().to_owned());
        let delivery = match &smtp {
            Some(url) => {
                // Parsed as the worker will: a bad URL stops start-up here, not at the first mail.
                lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(url)
                    .map_err(|e| ConfigError::new("SMTP_URL", smtp_url_problem(&e)))?;
                Delivery::Smtp(url.clone())
            }
            None => Delivery::Outbox(match set("MAIL_OUTBOX") {
                Some(dir) => PathBuf::from(dir.trim()),
                None => default_outbox(database),
            }),
        };
        let from = match set("MAIL_FROM") {
            Some(raw) => raw.trim().parse().map_err(|_| {
                ConfigError::new(
                    "MAIL_FROM",
                    format!("expected an address such as Gatehouse <no-reply@example.com>, got {raw:?}"),
                )
            })?,
            None if smtp.is_some() => {
                return Err(ConfigError::new(
                    "MAIL_FROM",
                    "must be set when SMTP_URL is: the address mail comes from, such as \
                     Gatehouse <no-reply@example.com>",
                ))
            }
            None => DEFAULT_MAIL_FROM.parse().expect("the default sender is a mailbox"),
        };
        let public_url = set("PUBLIC_URL").map(|raw| public_origin(&raw)).transpose()?;
        // Mail that leaves the machine carries links that must lead back here: the address the
        // server listens on (0.0.0.0, say) does not.
        if smtp.is_some() && public_url.is_none() {
            return Err(ConfigError::new(
                "PUBLIC_URL",
                "must be set when SMTP_URL is: the origin links in mails lead to, such as \
                 https://login.example.com",
            ));
        }
        let password_reset_expiry = parse_duration(
            set("PASSWORD_RESET_EXPIRY")
                .as_deref()
                .unwrap_or(DEFAULT_PASSWORD_RESET_EXPIRY),
        )
        .map_err(|e| ConfigError::new("PASSWORD_RESET_EXPIRY", e))?;
        Ok(Self {
            delivery,
            from,
            public_url,
            password_reset_expiry,
            require_verified_email: flag(&set, "REQUIRE_VERIFIED_EMAIL", false)?,
        })
    }
}

/// What is wrong with an SMTP URL, without the URL (it may hold a password).
fn smtp_url_problem(error: &lettre::transport::smtp::Error) -> String {
    format!(
        "expected smtp://host:port, smtp://user:password@host:587?tls=required or \
         smtps://host:465 ({error})"
    )
}

/// `outbox/` beside a SQLite file; in the working directory otherwise.
fn default_outbox(database: &DatabaseUrl) -> PathBuf {
    match &database.kind {
        DatabaseKind::SqliteFile(file) => file
            .parent()
            .map_or_else(|| PathBuf::from("outbox"), |dir| dir.join("outbox")),
        DatabaseKind::SqliteMemory | DatabaseKind::Postgres => PathBuf::from("outbox"),
    }
}

/// `PUBLIC_URL` as an origin: `http` or `https`, a host, maybe a port, and nothing after it.
fn public_origin(raw: &str) -> Result<String, ConfigError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let bad = || {
        ConfigError::new(
            "PUBLIC_URL",
            format!("expected an origin such as https://login.example.com, got {raw:?}"),
        )
    };
    let (scheme, rest) = trimmed.split_once("://").ok_or_else(bad)?;
    let fine = matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && rest
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !fine {
        return Err(bad());
    }
    // A reset link over plain http can be read on the way: only this machine may be http.
    if scheme == "http" && !is_loopback_host(rest) {
        return Err(ConfigError::new(
            "PUBLIC_URL",
            format!("must be https:// (http only for localhost or 127.0.0.1), got {raw:?}"),
        ));
    }
    Ok(format!("{scheme}://{rest}"))
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn is_loopback_host(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::lookup;

    fn sqlite() -> DatabaseUrl {
        DatabaseUrl::parse("sqlite://data/gatehouse.db").unwrap()
    }

    #[test]
    fn with_nothing_set_mail_goes_into_an_outbox_beside_the_database() {
        let mail = Mail::from_lookup(lookup(&[]), &sqlite()).unwrap();
        assert_eq!(mail.delivery, Delivery::Outbox(PathBuf::from("data/outbox")));
        assert_eq!(mail.from.to_string(), DEFAULT_MAIL_FROM);
        assert_eq!(mail.public_url, None);
        assert_eq!(mail.password_reset_expiry, Duration::from_secs(1800));
    }

    #[test]
    fn an_smtp_url_is_checked_and_its_password_never_shown() {
        let vars = [
            ("SMTP_URL", "smtp://mailer:hunter2@mail.example.com:587?tls=required"),
            ("MAIL_FROM", "Gatehouse <no-reply@example.com>"),
            ("PUBLIC_URL", "https://login.example.com"),
        ];
        let mail = Mail::from_lookup(lookup(&vars), &sqlite()).unwrap();
        assert!(matches!(mail.delivery, Delivery::Smtp(_)));
        let shown = format!("{mail:?} {}", mail.delivery.describe());
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("mailer:***@mail.example.com"), "{shown}");
    }

    #[test]
    fn each_bad_mail_setting_names_its_variable() {
        let from = ("MAIL_FROM", "Gatehouse <no-reply@example.com>");
        let cases: [(&[(&str, &str)], &str); 8] = [
            (&[("SMTP_URL", "mail.example.com")], "SMTP_URL"),
            (&[("SMTP_URL", "http://mail.example.com")], "SMTP_URL"),
            (&[("SMTP_URL", "smtp://localhost:2525")], "MAIL_FROM"),
            (&[("SMTP_URL", "smtp://localhost:2525"), from], "PUBLIC_URL"),
            (&[("MAIL_FROM", "not an address")], "MAIL_FROM"),
            (&[("PUBLIC_URL", "https://example.com/path?q")], "PUBLIC_URL"),
            (&[("PUBLIC_URL", "http://login.example.com")], "PUBLIC_URL"),
            (&[("PUBLIC_URL", "http://127.0.0.1.example.com")], "PUBLIC_URL"),
        ];
        for (vars, expected) in cases {
            let error = Mail::from_lookup(lookup(vars), &sqlite()).expect_err(expected);
            assert_eq!(error.var, expected, "{vars:?}");
        }
        let expiry = [("PASSWORD_RESET_EXPIRY", "soon")];
        let error = Mail::from_lookup(lookup(&expiry), &sqlite()).unwrap_err();
        assert_eq!(error.var, "PASSWORD_RESET_EXPIRY");
    }

    #[test]
    fn a_public_url_is_kept_as_an_origin_and_http_is_for_this_machine_only() {
        let vars = [("PUBLIC_URL", "https://login.example.com/")];
        let mail = Mail::from_lookup(lookup(&vars), &sqlite()).unwrap();
        assert_eq!(mail.public_url.as_deref(), Some("https://login.example.com"));
        for local in ["http://localhost:3000", "http://127.0.0.1:3100", "http://[::1]:80"] {
            let vars = [("PUBLIC_URL", local)];
            let mail = Mail::from_lookup(lookup(&vars), &sqlite()).unwrap();
            assert_eq!(mail.public_url.as_deref(), Some(local));
        }
    }
}
