//! [ssr] The cookies: the two tokens with exactly the attributes of the contract, and the
//! trusted-device cookie (see `credentials::devices`).
//!
//! With `Secure` cookies (the default) the names carry the browser-enforced prefixes: the
//! access cookie is `__Host-access_token` (only ever set by this host, over HTTPS, for the whole
//! site, so a sibling subdomain cannot plant or shadow it) and the refresh and device cookies
//! are `__Secure-…` (their path is the auth API, which `__Host-` does not allow). The unprefixed
//! names of earlier versions are still read ([`read_legacy`]), but honoured only for tokens issued
//! before the upgrade (the `upgrades` table records when): sessions from before it go on until
//! their tokens expire, while a token planted later under an unprefixed name (by a sibling
//! subdomain, say, which the prefixes exist to stop) is refused. They are cleared with the new
//! ones.

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue};
use std::time::Duration;

/// Which cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Access,
    Refresh,
    Device,
    /// A login waiting for its second step in this browser (the random value whose hash keys
    /// its row in `challenges`).
    Challenge,
    /// A passkey ceremony under way in this browser, keyed the same way. Its own cookie, so that
    /// trying a passkey (the login page offers one as it opens) never drops a second step.
    Ceremony,
}

/// The refresh and device cookies go only to the auth endpoints, never to pages or other APIs.
const AUTH_PATH: &str = "/api/auth";

/// How long a browser stays trusted after its last successful login.
pub const DEVICE_MAX_AGE: Duration = Duration::from_secs(365 * 24 * 3600);

impl Kind {
    /// The name when cookies are `Secure`.
    fn prefixed(self) -> &'static str {
        match self {
            Self::Access => "__Host-access_token",
            Self::Refresh => "__Secure-refresh_token",
            Self::Device => "__Secure-device",
            Self::Challenge => "__Secure-challenge",
            Self::Ceremony => "__Secure-passkey",
        }
    }

    /// The name without `Secure` (a browser refuses prefixed names then), and before prefixes.
    fn plain(self) -> &'static str {
        match self {
            Self::Access => "access_token",
            Self::Refresh => "refresh_token",
            Self::Device => "device",
            Self::Challenge => "challenge",
            Self::Ceremony => "passkey",
        }
    }

    pub fn name(self, secure: bool) -> &'static str {
        if secure {
            self.prefixed()
        } else {
            self.plain()
        }
    }

    fn path(self) -> &'static str {
        match self {
            Self::Access => "/",
            Self::Refresh | Self::Device | Self::Challenge | Self::Ceremony => AUTH_PATH,
        }
    }

    fn same_site(self) -> SameSite {
        match self {
            Self::Access => SameSite::Lax,
            Self::Refresh | Self::Device | Self::Challenge | Self::Ceremony => SameSite::Strict,
        }
    }
}

fn build(
    name: &'static str,
    kind: Kind,
    value: String,
    max_age: Duration,
    secure: bool,
) -> HeaderValue {
    let cookie = Cookie::build((name, value))
        .http_only(true)
        .secure(secure)
        .same_site(kind.same_site())
        .path(kind.path())
        .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
        .build();
    // Our values (JWTs, hex and dots) are always valid header values.
    HeaderValue::from_str(&cookie.to_string()).expect("our cookies are ASCII")
}

/// The `Set-Cookie` value that hands out `value` as cookie `kind` for `max_age`.
pub fn set(kind: Kind, value: String, max_age: Duration, secure: bool) -> HeaderValue {
    build(kind.name(secure), kind, value, max_age, secure)
}

/// Both token cookies emptied with `Max-Age=0` (same path, so the browser drops the right ones),
/// under the unprefixed names too when cookies are `Secure`. The device cookie stays: the
/// browser is still one the account logged in from.
pub fn cleared(secure: bool) -> Vec<HeaderValue> {
    let mut values = Vec::new();
    for kind in [Kind::Access, Kind::Refresh] {
        values.push(build(
            kind.name(secure),
            kind,
            String::new(),
            Duration::ZERO,
            secure,
        ));
        if secure {
            values.push(build(
                kind.plain(),
                kind,
                String::new(),
                Duration::ZERO,
                secure,
            ));
        }
    }
    values
}

/// The value of cookie `kind` in the request under its name, if it was sent and is not empty.
pub fn read(headers: &HeaderMap, kind: Kind, secure: bool) -> Option<&str> {
    named(headers, kind.name(secure))
}

/// The value of token cookie `kind` under the unprefixed name of earlier versions, where the
/// current name is prefixed. The caller honours it only for a token issued before the upgrade.
pub fn read_legacy(headers: &HeaderMap, kind: Kind, secure: bool) -> Option<&str> {
    (secure && kind != Kind::Device)
        .then(|| named(headers, kind.plain()))
        .flatten()
}

fn named<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|line| line.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `Set-Cookie` value for a secure cookie of `kind` holding "tok" for `seconds`.
    fn cookie_text(kind: Kind, seconds: u64) -> String {
        let value = set(kind, "tok".into(), Duration::from_secs(seconds), true);
        value.to_str().unwrap().to_owned()
    }

    /// Every token cookie is `HttpOnly` and `Secure`, and has the given attributes too.
    fn assert_attributes(text: &str, specific: &[&str]) {
        for attribute in ["HttpOnly", "Secure"].iter().chain(specific) {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
    }

    #[test]
    fn access_cookie_has_the_contract_attributes_and_the_host_prefix() {
        let text = cookie_text(Kind::Access, 900);
        assert!(text.starts_with("__Host-access_token=tok"), "{text}");
        assert_attributes(&text, &["SameSite=Lax", "Path=/", "Max-Age=900"]);
        assert!(!text.contains("Domain"), "__Host- forbids a Domain: {text}");
    }

    #[test]
    fn refresh_cookie_is_strict_scoped_to_the_auth_api_and_secure_prefixed() {
        let text = cookie_text(Kind::Refresh, 604_800);
        assert!(text.starts_with("__Secure-refresh_token=tok"), "{text}");
        assert_attributes(
            &text,
            &["SameSite=Strict", "Path=/api/auth", "Max-Age=604800"],
        );
    }

    #[test]
    fn without_secure_the_names_have_no_prefix_and_no_secure_attribute() {
        let text = set(Kind::Access, "tok".into(), Duration::from_secs(1), false);
        let text = text.to_str().unwrap();
        assert!(text.starts_with("access_token=tok"), "{text}");
        assert!(!text.contains("Secure"));
    }

    #[test]
    fn cleared_cookies_expire_at_once_under_both_names() {
        let cleared = cleared(true);
        for value in &cleared {
            assert!(value.to_str().unwrap().contains("Max-Age=0"));
        }
        let names: Vec<_> = cleared
            .iter()
            .map(|v| v.to_str().unwrap().split('=').next().unwrap().to_owned())
            .collect();
        for name in [
            "__Host-access_token",
            "access_token",
            "__Secure-refresh_token",
            "refresh_token",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} not cleared: {names:?}"
            );
        }
    }

    #[test]
    fn read_finds_the_current_name_and_read_legacy_the_old_one() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; access_token=old; __Host-access_token=new; b=2"
                .parse()
                .unwrap(),
        );
        assert_eq!(read(&headers, Kind::Access, true), Some("new"));
        assert_eq!(read(&headers, Kind::Access, false), Some("old"));
        assert_eq!(read_legacy(&headers, Kind::Access, true), Some("old"));
        assert_eq!(
            read_legacy(&headers, Kind::Access, false),
            None,
            "no prefix, no legacy"
        );
        assert_eq!(read(&headers, Kind::Refresh, true), None);
    }
}
