//! [ssr] A page that needs a login, loaded in full after its access token lapsed, still renders
//! with the person's data on the first answer, with or without JavaScript, and no "checking
//! your session" placeholder. The server cannot refresh on the page's own request: the refresh
//! cookie is `SameSite=Strict` and scoped to `/api/auth`. So the load is sent (303) through
//! `GET /api/auth/resume?next=<page>`, where that cookie comes along; it is rotated there as
//! `POST /api/auth/refresh` would, and the browser comes back to the page with a fresh pair.
//! Without a session, the detour ends on the login page, saying why when something ended it.
//! (And the other way round: a full load of the login or register page with a live access token
//! goes straight on to where the person was going.)
//!
//! From a link on another site, the browser withholds the `Strict` cookie on the whole redirect
//! chain. The answer is then an empty page that sends the browser on to the same address at once
//! (`<meta http-equiv=refresh>`, no script): a navigation this site starts, so the cookie comes
//! with it. That second request is same-origin, so the detour happens at most once. Another
//! site gains nothing by it: the browser ends up on the page it was sent to, which the site
//! renders for its own origin only (frames are refused), and a rotation was never secret.

use super::{
    request::{authenticate, query_value, token_cookie, CurrentRequest},
    rotation::rotate,
};
use crate::{
    app::{ENTRY_PAGES, NEEDS_LOGIN, STYLESHEET},
    credentials::cookies::Kind,
    domain::{NextPath, SignedOut},
    error::AppError,
    state::AppState,
};
use axum::{
    extract::{Request, State},
    response::{IntoResponse, Response},
};
use http::{header, HeaderMap, HeaderValue, StatusCode};
use leptos::prelude::*;

/// The path of [`resume_route`].
pub const RESUME_PATH: &str = "/api/auth/resume";

/// What the detour pages may load: the stylesheet, nothing else; no scripts at all.
const POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; \
                      form-action 'none'; frame-ancestors 'none'";

/// Where a full page load goes before any page renders (`Some`, a 303):
/// - a page that needs a login, without a live access token (none, expired, or of a session
///   that has ended), to [`RESUME_PATH`]; a token refused for another reason (the database
///   away) leaves the page to say so;
/// - the login or register page, with a live access token, on to its `?next=` (the profile by
///   default): there is nothing to do there for someone logged in.
pub fn detour(state: &AppState, request: &Request) -> Option<Response> {
    let uri = request.uri();
    let path = uri.path();
    if NEEDS_LOGIN.contains(&path) {
        let refused = authenticate(state, request.headers()).err()?;
        if !refused.code.is_session_failure() {
            return None;
        }
        // A query too long to carry along is dropped, not a reason to render without data.
        let page = uri
            .path_and_query()
            .and_then(|whole| NextPath::parse(whole.as_str()))
            .or_else(|| NextPath::parse(path))?;
        return Some(see_other(&page.via(RESUME_PATH), HeaderMap::new()));
    }
    if ENTRY_PAGES.contains(&path) && authenticate(state, request.headers()).is_ok() {
        let next = NextPath::or_default(query_value(uri.query(), "next").as_deref());
        return Some(see_other(next.as_str(), HeaderMap::new()));
    }
    None
}

/// `GET /api/auth/resume?next=<page>`: the refresh, then back to `next` (a path on this site,
/// the profile by default); or the login page when the session is gone; or the error's page.
pub async fn resume_route(State(state): State<AppState>, request: Request) -> Response {
    let (parts, _) = request.into_parts();
    let page = NextPath::or_default(query_value(parts.uri.query(), "next").as_deref());
    let again = page.via(RESUME_PATH);
    let sent_a_session = token_cookie(&state, &parts.headers, Kind::Refresh).is_some();
    if !sent_a_session && withheld_across_sites(&parts.headers) {
        return page_answer(StatusCode::OK, &again, None, HeaderMap::new());
    }
    let request = CurrentRequest::of_route(state, parts);
    match rotate(&request).await {
        Ok(_) => see_other(page.as_str(), request.response_headers()),
        Err(error) if error.code.is_session_failure() => {
            // Cookies are cleared only when a dead session was presented. With none, this may
            // be a browser that withheld a live one without saying why (no `Sec-Fetch-*`, so
            // no same-site step): a link must not log it out.
            if sent_a_session {
                request.clear_cookies();
            }
            let login = SignedOut::login_url(&page, SignedOut::of_refusal(error.code));
            see_other(&login, request.response_headers())
        }
        Err(error) => {
            let status =
                StatusCode::from_u16(error.code.status()).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            page_answer(status, &again, Some(&error), request.response_headers())
        }
    }
}

/// Whether this is a top-level navigation that another site started, on which the browser
/// leaves out `SameSite=Strict` cookies. Browsers too old to say (`Sec-Fetch-*`) go to login.
fn withheld_across_sites(headers: &HeaderMap) -> bool {
    let is = |name: &str, value: &[u8]| {
        headers
            .get(name)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(value))
    };
    is("sec-fetch-site", b"cross-site") && is("sec-fetch-dest", b"document")
}

/// A redirect that depends on the request's cookies: no cache may keep it for anyone else.
fn see_other(to: &str, mut headers: HeaderMap) -> Response {
    if let Ok(location) = HeaderValue::from_str(to) {
        headers.insert(header::LOCATION, location);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    (StatusCode::SEE_OTHER, headers).into_response()
}

/// A page of our own, outside the app: without `error`, the empty one that goes on to `again`
/// at once (the same-site step above); with it, the error and a link to try `again`.
fn page_answer(
    status: StatusCode,
    again: &str,
    error: Option<&AppError>,
    mut headers: HeaderMap,
) -> Response {
    let go_on = error.is_none().then(|| format!("0; url={again}"));
    let again = again.to_owned();
    let page = view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                {go_on.map(|content| view! { <meta http-equiv="refresh" content=content/> })}
                <link rel="stylesheet" href=STYLESHEET/>
                <title>"Gatehouse"</title>
            </head>
            <body>
                <main id="main">
                    <section class="card">
                        {match error {
                            Some(error) => view! {
                                <p class="form-error" role="alert">{error.message.clone()}</p>
                                <p><a href=again>"Try again"</a></p>
                            }.into_any(),
                            None => view! { <p><a href=again>"Continue"</a></p> }.into_any(),
                        }}
                    </section>
                </main>
            </body>
        </html>
    };
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    (status, headers, page.to_html()).into_response()
}
