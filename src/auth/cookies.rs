//! [ssr] The two token cookies, with exactly the attributes of the contract.

use cookie::{Cookie, SameSite};
use http::{HeaderMap, HeaderValue};
use std::time::Duration;

pub const ACCESS_COOKIE: &str = "access_token";
pub const REFRESH_COOKIE: &str = "refresh_token";

/// The refresh cookie goes only to the auth endpoints, never to pages or other APIs.
const REFRESH_PATH: &str = "/api/auth";

fn build(name: &'static str, value: String, max_age: Duration, secure: bool) -> HeaderValue {
    let (same_site, path) = if name == REFRESH_COOKIE {
        (SameSite::Strict, REFRESH_PATH)
    } else {
        (SameSite::Lax, "/")
    };
    let cookie = Cookie::build((name, value))
        .http_only(true)
        .secure(secure)
        .same_site(same_site)
        .path(path)
        .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
        .build();
    // A cookie built from a JWT (base64url and dots) is always a valid header value.
    HeaderValue::from_str(&cookie.to_string()).expect("token cookies are ASCII")
}

pub fn access(token: String, max_age: Duration, secure: bool) -> HeaderValue {
    build(ACCESS_COOKIE, token, max_age, secure)
}

pub fn refresh(token: String, max_age: Duration, secure: bool) -> HeaderValue {
    build(REFRESH_COOKIE, token, max_age, secure)
}

/// Both cookies, emptied with `Max-Age=0` (same path, so the browser drops the right ones).
pub fn cleared(secure: bool) -> [HeaderValue; 2] {
    [
        build(ACCESS_COOKIE, String::new(), Duration::ZERO, secure),
        build(REFRESH_COOKIE, String::new(), Duration::ZERO, secure),
    ]
}

/// The value of cookie `name` in the request, if it was sent and is not empty.
pub fn read<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
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

    #[test]
    fn access_cookie_has_the_contract_attributes() {
        let value = access("tok".into(), Duration::from_secs(900), true);
        let text = value.to_str().unwrap();
        assert!(text.starts_with("access_token=tok"));
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Lax",
            "Path=/",
            "Max-Age=900",
        ] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
    }

    #[test]
    fn refresh_cookie_is_strict_and_scoped_to_the_auth_api() {
        let text = refresh("tok".into(), Duration::from_secs(604_800), true)
            .to_str()
            .unwrap()
            .to_owned();
        for attribute in [
            "HttpOnly",
            "Secure",
            "SameSite=Strict",
            "Path=/api/auth",
            "Max-Age=604800",
        ] {
            assert!(text.contains(attribute), "{text} lacks {attribute}");
        }
    }

    #[test]
    fn secure_is_left_out_only_when_asked() {
        let text = access("tok".into(), Duration::from_secs(1), false);
        assert!(!text.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn cleared_cookies_expire_at_once() {
        for value in cleared(true) {
            assert!(value.to_str().unwrap().contains("Max-Age=0"));
        }
    }

    #[test]
    fn read_finds_a_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            "a=1; access_token=xyz; b=2".parse().unwrap(),
        );
        assert_eq!(read(&headers, ACCESS_COOKIE), Some("xyz"));
        assert_eq!(read(&headers, REFRESH_COOKIE), None);
    }
}
