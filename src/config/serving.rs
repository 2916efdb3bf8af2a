//! How connections are served: the time a client may take, how many connections it may hold,
//! and how much the request log says.

use super::{parse_duration, positive_count, ConfigError};
use std::time::Duration;

pub const DEFAULT_HEADER_TIMEOUT: &str = "10s";
pub const DEFAULT_REQUEST_TIMEOUT: &str = "30s";
pub const DEFAULT_SHUTDOWN_GRACE: &str = "10s";
pub const DEFAULT_DATABASE_WAIT_AT_START: &str = "30s";
/// With the default total of 5,000, 79 addresses are needed to take every place.
pub const DEFAULT_MAX_CONNECTIONS_PER_ADDRESS: u32 = 64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Serving {
    /// `HEADER_TIMEOUT`: how long a connection may take to send a request's headers, counted
    /// from when it is ready for one; so also how long an idle keep-alive connection stays open.
    pub header_timeout: Duration,
    /// `REQUEST_TIMEOUT`: how long a request's body may take to arrive once its headers are in;
    /// past it, 408. Also how long a write to a client may make no progress (one that stopped
    /// reading) before its connection is closed, and how long a page's answer may stop on the
    /// server's side (`server::page_within_deadline`). (The server's own work is bounded by its
    /// waits for the database and the hashing queue.)
    pub request_timeout: Duration,
    /// `MAX_CONNECTIONS`: connections open at once, from everyone; `None` for the default
    /// (`connections::DEFAULT_MAX_CONNECTIONS`, less if the file-descriptor limit says so).
    pub max_connections: Option<u32>,
    /// `MAX_CONNECTIONS_PER_ADDRESS`: connections one client address may hold open at once
    /// (trusted proxies are exempt: every client behind them shares their address).
    pub max_connections_per_address: u32,
    /// `SHUTDOWN_GRACE`: on SIGTERM or Ctrl-C, how long requests in flight may take to finish.
    pub shutdown_grace: Duration,
    /// `LOG_REQUESTS`: which requests get a log line.
    pub log_requests: LogRequests,
    /// `DATABASE_WAIT_AT_START`: how long start-up keeps trying to reach PostgreSQL.
    pub database_wait_at_start: Duration,
    /// `LOG_FORMAT`: text for people, or one JSON object per line.
    pub log_format: LogFormat,
    /// `METRICS_ADDR`: where Prometheus metrics are served, apart from the public address;
    /// `None` (the default) serves none.
    pub metrics_addr: Option<std::net::SocketAddr>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Which requests get a line in the log. Every line is small, but one per request adds up: a
/// test run of 90,000 requests wrote 165 MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogRequests {
    /// Every request.
    All,
    /// Requests answered with a 4xx or 5xx status.
    Failures,
    /// None (errors are still logged where they happen).
    None,
}

impl LogRequests {
    pub fn includes(self, status: u16) -> bool {
        match self {
            Self::All => true,
            Self::Failures => status >= 400,
            Self::None => false,
        }
    }
}

impl Serving {
    pub fn from_lookup(set: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let duration = |name: &'static str, default: &str| {
            let duration = parse_duration(set(name).as_deref().unwrap_or(default))
                .map_err(|e| ConfigError::new(name, e))?;
            if duration.is_zero() {
                return Err(ConfigError::new(name, "must be longer than zero"));
            }
            Ok(duration)
        };
        let count = |name: &'static str| positive_count(name, set(name));
        let log_requests = match set("LOG_REQUESTS").map(|v| v.trim().to_ascii_lowercase()) {
            None => LogRequests::All,
            Some(v) if v == "all" => LogRequests::All,
            Some(v) if v == "failures" => LogRequests::Failures,
            Some(v) if v == "none" => LogRequests::None,
            Some(v) => {
                return Err(ConfigError::new(
                    "LOG_REQUESTS",
                    format!("expected all, failures or none, got {v:?}"),
                ))
            }
        };
        let log_format = match set("LOG_FORMAT").map(|v| v.trim().to_ascii_lowercase()) {
            None => LogFormat::Text,
            Some(v) if v == "text" => LogFormat::Text,
            Some(v) if v == "json" => LogFormat::Json,
            Some(v) => {
                return Err(ConfigError::new(
                    "LOG_FORMAT",
                    format!("expected text or json, got {v:?}"),
                ))
            }
        };
        let metrics_addr = set("METRICS_ADDR")
            .map(|raw| {
                raw.trim().parse().map_err(|_| {
                    ConfigError::new(
                        "METRICS_ADDR",
                        format!("expected an address and port like 127.0.0.1:9100, got {raw:?}"),
                    )
                })
            })
            .transpose()?;
        Ok(Self {
            header_timeout: duration("HEADER_TIMEOUT", DEFAULT_HEADER_TIMEOUT)?,
            request_timeout: duration("REQUEST_TIMEOUT", DEFAULT_REQUEST_TIMEOUT)?,
            max_connections: count("MAX_CONNECTIONS")?,
            max_connections_per_address: count("MAX_CONNECTIONS_PER_ADDRESS")?
                .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_ADDRESS),
            shutdown_grace: duration("SHUTDOWN_GRACE", DEFAULT_SHUTDOWN_GRACE)?,
            log_requests,
            database_wait_at_start: duration(
                "DATABASE_WAIT_AT_START",
                DEFAULT_DATABASE_WAIT_AT_START,
            )?,
            log_format,
            metrics_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serving(pairs: &[(&str, &str)]) -> Result<Serving, ConfigError> {
        Serving::from_lookup(crate::config::lookup(pairs))
    }

    #[test]
    fn defaults_bound_every_wait_and_every_client() {
        let serving = serving(&[]).unwrap();
        assert_eq!(serving.header_timeout, Duration::from_secs(10));
        assert_eq!(serving.request_timeout, Duration::from_secs(30));
        assert_eq!(serving.max_connections, None);
        assert_eq!(serving.max_connections_per_address, 64);
        assert_eq!(serving.shutdown_grace, Duration::from_secs(10));
        assert_eq!(serving.log_requests, LogRequests::All);
        assert_eq!(serving.database_wait_at_start, Duration::from_secs(30));
        assert_eq!(serving.log_format, LogFormat::Text);
        assert_eq!(serving.metrics_addr, None);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (var, bad) in [
            ("HEADER_TIMEOUT", "soon"),
            ("HEADER_TIMEOUT", "0s"),
            ("REQUEST_TIMEOUT", "-1"),
            ("MAX_CONNECTIONS", "0"),
            ("MAX_CONNECTIONS_PER_ADDRESS", "many"),
            ("SHUTDOWN_GRACE", "1 minute"),
            ("LOG_REQUESTS", "some"),
            ("LOG_FORMAT", "xml"),
            ("METRICS_ADDR", "9100"),
        ] {
            assert_eq!(serving(&[(var, bad)]).unwrap_err().var, var, "{bad}");
        }
    }

    #[test]
    fn failures_logs_only_4xx_and_5xx() {
        assert!(!LogRequests::Failures.includes(200));
        assert!(!LogRequests::Failures.includes(302));
        assert!(LogRequests::Failures.includes(429));
        assert!(LogRequests::Failures.includes(503));
        assert!(!LogRequests::None.includes(500));
        assert!(LogRequests::All.includes(200));
    }
}
