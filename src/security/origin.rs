//! [ssr] Cross-site request refusal. Cookies are `SameSite`, but `Lax` still lets another site
//! make a logged-in browser navigate here with a top-level POST form; so every state-changing
//! request that a browser marks as coming from elsewhere is refused before anything runs.

use crate::{
    config::TrustedProxies,
    error::{AppError, ErrorCode},
    security::client_ip,
};
use axum::{
    extract::Request,
    http::{header, HeaderMap, Method},
};

/// The refusal (403 `forbidden`) of a state-changing request whose `Origin` is not this site
/// (scheme and authority: `https://host` is another origin than `http://host`) or whose
/// `Sec-Fetch-Site` says `cross-site`. Requests with neither header are not a browser's
/// cross-site requests (curl, scripts, mobile clients) and go through. The request's scheme is
/// what `trusted` proxies say it came in with (see `client_ip::scheme_of_request`); it is
/// worked out only for state-changing requests, never on the read path.
pub fn refusal(request: &Request, trusted: &TrustedProxies) -> Option<AppError> {
    let reads_only = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if reads_only {
        return None;
    }
    let scheme = client_ip::scheme_of_request(request.extensions(), request.headers(), trusted);
    // HTTP/1.1 names the host in `Host`; HTTP/2 in the URI's authority.
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    is_cross_site(request.headers(), scheme, host).then(|| {
        AppError::new(
            ErrorCode::Forbidden,
            "This request came from another site and was refused.",
        )
    })
}

/// Whether the browser says this request came from another site. "This site" is the scheme and
/// host the request was sent to, so it holds on any domain without configuration.
pub fn is_cross_site(headers: &HeaderMap, scheme: &str, host: Option<&str>) -> bool {
    let fetch_site = headers
        .get("sec-fetch-site")
        .map(|v| v.as_bytes().eq_ignore_ascii_case(b"cross-site"));
    if fetch_site == Some(true) {
        return true;
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return false;
    };
    match (origin.to_str().ok().and_then(origin_parts), host) {
        (Some((origin_scheme, authority)), Some(host)) => {
            origin_scheme != scheme || !authority.eq_ignore_ascii_case(host)
        }
        // `Origin: null` (a sandboxed or privacy-sensitive context) or no `Host` to compare.
        _ => true,
    }
}

/// `("https", "example.org:8443")` from `https://example.org:8443`; `None` for `null` or
/// anything odd.
fn origin_parts(origin: &str) -> Option<(&str, &str)> {
    let (scheme, authority) = origin.split_once("://")?;
    let well_formed = matches!(scheme, "http" | "https")
        && !authority.is_empty()
        && !authority.contains(['/', '?', '#', '@']);
    well_formed.then_some((scheme, authority))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    /// Whether a request that came in over plain HTTP with these headers (`host` among them) is
    /// cross-site.
    fn cross_site(pairs: &[(&'static str, &'static str)]) -> bool {
        cross_site_over("http", pairs)
    }

    fn cross_site_over(scheme: &str, pairs: &[(&'static str, &'static str)]) -> bool {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        let host = pairs
            .iter()
            .find(|(name, _)| *name == "host")
            .map(|(_, v)| *v);
        is_cross_site(&map, scheme, host)
    }

    #[test]
    fn a_request_from_this_site_or_with_no_browser_headers_is_not_cross_site() {
        assert!(!cross_site(&[("host", "127.0.0.1:3000")]));
        assert!(!cross_site(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
            ("sec-fetch-site", "same-origin"),
        ]));
        assert!(!cross_site_over(
            "https",
            &[("host", "Example.org"), ("origin", "https://example.org")]
        ));
    }

    #[test]
    fn the_same_host_under_another_scheme_is_another_origin() {
        assert!(cross_site(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://127.0.0.1:3000"),
        ]));
        assert!(cross_site_over(
            "https",
            &[("host", "example.org"), ("origin", "http://example.org")]
        ));
    }

    #[test]
    fn another_origin_a_null_origin_or_a_cross_site_fetch_is_cross_site() {
        for pairs in [
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://evil.example"),
            ][..],
            &[
                ("host", "127.0.0.1:3000"),
                ("origin", "http://127.0.0.1:3001"),
            ],
            &[("host", "127.0.0.1:3000"), ("origin", "null")],
            &[("host", "127.0.0.1:3000"), ("sec-fetch-site", "cross-site")],
            &[("origin", "http://127.0.0.1:3000")],
        ] {
            assert!(cross_site(pairs), "{pairs:?}");
        }
    }
}
