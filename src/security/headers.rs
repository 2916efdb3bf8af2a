//! [ssr] Headers that limit what a browser does with our answers: on every page a
//! Content-Security-Policy whose script nonce is new for each response, and on every answer
//! the fixed ones (no MIME sniffing, no framing, no referrer to other sites, HSTS when the
//! cookies are `Secure`).

use axum::http::{header, HeaderMap, HeaderName, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;

/// The policy of an HTML page. Scripts run only with this response's nonce (Leptos puts it on
/// its hydration and data scripts; `strict-dynamic` lets those load the WASM client's own
/// modules), WebAssembly may compile, and everything else comes from this origin only.
/// `dev_reload` is the live-reload socket of `cargo leptos watch`, when it runs.
pub fn page_policy(nonce: &str, dev_reload: Option<&str>) -> String {
    let connect = match dev_reload {
        Some(socket) => format!("'self' {socket}"),
        None => "'self'".to_owned(),
    };
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src {connect}; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the page's policy while it renders, where the nonce Leptos put on its scripts is known.
/// Called from the shell, so every page (the 404 page too) carries it.
pub fn set_page_policy(options: &LeptosOptions) {
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    let dev_reload = watching().then(|| reload_socket(options)).flatten();
    if let Ok(value) =
        HeaderValue::from_str(&page_policy(&nonce.to_string(), dev_reload.as_deref()))
    {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

/// The live-reload socket as this request's browser will reach it: same host, reload port.
fn reload_socket(options: &LeptosOptions) -> Option<String> {
    let parts = use_context::<http::request::Parts>()?;
    let host = parts.headers.get(header::HOST)?.to_str().ok()?;
    let hostname = host.rsplit_once(':').map_or(host, |(name, _)| name);
    let port = options.reload_external_port.unwrap_or(options.reload_port);
    Some(format!("ws://{hostname}:{port}"))
}

/// Whether `cargo leptos watch` started this server (it sets `LEPTOS_WATCH`, and Leptos's
/// `AutoReload` then adds its script). Read once: the environment does not change.
fn watching() -> bool {
    static WATCHING: std::sync::LazyLock<bool> =
        std::sync::LazyLock::new(|| std::env::var_os("LEPTOS_WATCH").is_some());
    *WATCHING
}

/// HSTS for a year: sent only when cookies are `Secure`, that is when the site is served over
/// HTTPS (browsers ignore it over plain HTTP, so localhost is unaffected).
const HSTS: &str = "max-age=31536000";

/// The fixed headers, on every answer.
pub fn set_fixed_headers(cookie_secure: bool, headers: &mut HeaderMap) {
    let mut set = |name: HeaderName, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(header::REFERRER_POLICY, "same-origin");
    if cookie_secure {
        set(header::STRICT_TRANSPORT_SECURITY, HSTS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_policy_allows_scripts_only_with_the_nonce_and_forbids_framing() {
        let policy = page_policy("abc123", None);
        assert!(policy.contains("script-src 'nonce-abc123' 'strict-dynamic' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("unsafe-inline"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("connect-src 'self';"));
    }

    #[test]
    fn the_dev_reload_socket_is_allowed_only_when_given() {
        let policy = page_policy("n", Some("ws://localhost:3001"));
        assert!(policy.contains("connect-src 'self' ws://localhost:3001;"));
    }
}
