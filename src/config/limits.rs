//! The abuse limits: how many failed logins an account, and how many attempts an address, may
//! make before answers turn into 429, and which proxies may say who the client is.

use super::{positive_count, ConfigError};
use ipnet::IpNet;
use std::net::IpAddr;

pub const DEFAULT_LOGIN_MAX_FAILURES: u32 = 10;
pub const DEFAULT_IP_ATTEMPTS_PER_MINUTE: u32 = 60;
/// One hashing and one waiting: all an honest person ever needs at once.
pub const DEFAULT_PASSWORD_QUEUE_SHARE: u32 = 2;
/// About half a second of Argon2 work per hashing slot.
pub const DEFAULT_PASSWORD_QUEUE_PER_CORE: u32 = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// `LOGIN_MAX_FAILURES`: failed logins one account may take within the failure window.
    pub login_max_failures: u32,
    /// `IP_ATTEMPTS_PER_MINUTE`: login and registration attempts from one address per minute.
    pub ip_attempts_per_minute: u32,
    /// `TRUSTED_PROXIES`: the peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: TrustedProxies,
    /// `PASSWORD_QUEUE_SHARE`: places one address or one account may hold at once in the
    /// password-hashing queue (waiting or hashing).
    pub password_queue_share: u32,
    /// `PASSWORD_QUEUE_PER_CORE`: places in the whole queue per hashing slot.
    pub password_queue_per_core: u32,
}

impl Limits {
    pub fn from_lookup(set: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let count = |name: &'static str, default: u32| {
            Ok::<_, ConfigError>(positive_count(name, set(name))?.unwrap_or(default))
        };
        Ok(Self {
            login_max_failures: count("LOGIN_MAX_FAILURES", DEFAULT_LOGIN_MAX_FAILURES)?,
            ip_attempts_per_minute: count(
                "IP_ATTEMPTS_PER_MINUTE",
                DEFAULT_IP_ATTEMPTS_PER_MINUTE,
            )?,
            trusted_proxies: TrustedProxies::parse(set("TRUSTED_PROXIES").as_deref().unwrap_or(""))
                .map_err(|reason| ConfigError::new("TRUSTED_PROXIES", reason))?
                .writing(match set("FORWARDED_HEADER") {
                    None => ForwardedHeader::default(),
                    Some(raw) => ForwardedHeader::parse(&raw)
                        .map_err(|reason| ConfigError::new("FORWARDED_HEADER", reason))?,
                }),
            password_queue_share: count("PASSWORD_QUEUE_SHARE", DEFAULT_PASSWORD_QUEUE_SHARE)?,
            password_queue_per_core: count(
                "PASSWORD_QUEUE_PER_CORE",
                DEFAULT_PASSWORD_QUEUE_PER_CORE,
            )?,
        })
    }
}

/// Addresses and ranges (`10.0.0.1`, `10.0.0.0/8`, `::1`), comma-separated. Empty by default:
/// then no forwarding header is believed and the client is the socket's peer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>, ForwardedHeader);

/// `FORWARDED_HEADER`: which header the trusted proxies write. Only that one is read: a proxy
/// passes the other through from the client untouched, so reading it too (or falling back to
/// it) would let the client name any address it likes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` and `X-Forwarded-Proto` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=…;proto=…`.
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!(
                "expected x-forwarded-for or forwarded, got {other:?}"
            )),
        }
    }
}

impl TrustedProxies {
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        format!("expected IP addresses or ranges like 10.0.0.0/8, got {item:?}")
                    })
            })
            .collect::<Result<_, _>>()
            .map(|nets| Self(nets, ForwardedHeader::default()))
    }

    /// The same proxies, writing `header`.
    pub fn writing(self, header: ForwardedHeader) -> Self {
        Self(self.0, header)
    }

    /// The header these proxies write.
    pub fn header(&self) -> ForwardedHeader {
        self.1
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(pairs: &[(&str, &str)]) -> Result<Limits, ConfigError> {
        Limits::from_lookup(crate::config::lookup(pairs))
    }

    #[test]
    fn defaults_apply_when_nothing_is_set() {
        let limits = limits(&[]).unwrap();
        assert_eq!(limits.login_max_failures, 10);
        assert_eq!(limits.ip_attempts_per_minute, 60);
        assert!(limits.trusted_proxies.is_empty());
        assert_eq!(limits.password_queue_share, 2);
        assert_eq!(limits.password_queue_per_core, 32);
    }

    #[test]
    fn counts_must_be_whole_numbers_of_at_least_one() {
        for bad in ["0", "-3", "ten", "1.5"] {
            let error = limits(&[("LOGIN_MAX_FAILURES", bad)]).unwrap_err();
            assert_eq!(error.var, "LOGIN_MAX_FAILURES", "{bad}");
        }
        for var in [
            "IP_ATTEMPTS_PER_MINUTE",
            "PASSWORD_QUEUE_SHARE",
            "PASSWORD_QUEUE_PER_CORE",
        ] {
            assert_eq!(limits(&[(var, "0")]).unwrap_err().var, var);
        }
    }

    #[test]
    fn trusted_proxies_take_addresses_and_ranges() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 192.168.1.7,::1").unwrap();
        assert!(proxies.contains("10.1.2.3".parse().unwrap()));
        assert!(proxies.contains("192.168.1.7".parse().unwrap()));
        assert!(proxies.contains("::ffff:10.9.9.9".parse().unwrap()));
        assert!(proxies.contains("::1".parse().unwrap()));
        assert!(!proxies.contains("192.168.1.8".parse().unwrap()));
        let error = limits(&[("TRUSTED_PROXIES", "10.0.0.0/8, proxy.local")]).unwrap_err();
        assert_eq!(error.var, "TRUSTED_PROXIES");
    }

    #[test]
    fn the_forwarded_header_is_one_of_the_two_known_ones() {
        assert_eq!(
            limits(&[]).unwrap().trusted_proxies.header(),
            ForwardedHeader::XForwardedFor
        );
        let rfc = limits(&[("FORWARDED_HEADER", "Forwarded")]).unwrap();
        assert_eq!(rfc.trusted_proxies.header(), ForwardedHeader::Forwarded);
        let error = limits(&[("FORWARDED_HEADER", "x-real-ip")]).unwrap_err();
        assert_eq!(error.var, "FORWARDED_HEADER");
    }
}
