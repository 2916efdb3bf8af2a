//! [ssr] The request a server function is answering, and the means to answer it: cookies in
//! and out, who is asking, redirects for plain form posts, and handing out a new token pair.

use crate::credentials::{
    cookies::{self, Kind},
    devices::TrustedDevice,
    tokens::{refresh_token_hash, AccessClaims, Checked, Issued, TokenError, TokenKeys},
};
use crate::{
    domain::NextPath,
    error::AppError,
    security::client_ip,
    state::AppState,
    store::{NewSession, RefreshRecord, UserRecord},
};
use http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use time::OffsetDateTime;

/// The request being answered and the means to answer it.
pub(super) struct CurrentRequest {
    pub(super) state: AppState,
    /// The HTTP request's head: method, URI, headers, and the client's address.
    parts: Parts,
    response: ResponseOptions,
}

impl CurrentRequest {
    pub(super) fn current() -> Result<Self, AppError> {
        match (use_context(), use_context(), use_context()) {
            (Some(state), Some(parts), Some(response)) => Ok(Self {
                state,
                parts,
                response,
            }),
            _ => {
                tracing::error!("server function ran without its request context");
                Err(AppError::opaque_internal())
            }
        }
    }

    /// The request of a plain axum route (not a server function), with its own answer's
    /// headers to fill; [`Self::response_headers`] takes them back out.
    pub(super) fn of_route(state: AppState, parts: Parts) -> Self {
        Self {
            state,
            parts,
            response: ResponseOptions::default(),
        }
    }

    /// The headers set so far (cookies, `Retry-After`), for a route that builds its own answer.
    pub(super) fn response_headers(&self) -> http::HeaderMap {
        self.response
            .0
            .read()
            .map(|parts| parts.headers.clone())
            .unwrap_or_default()
    }

    /// A cookie under its current name.
    pub(super) fn cookie(&self, kind: Kind) -> Option<&str> {
        cookies::read(&self.parts.headers, kind, self.state.config.cookie_secure)
    }

    /// A token cookie, and whether it came under the unprefixed name of earlier versions.
    pub(super) fn token_cookie(&self, kind: Kind) -> Option<(&str, bool)> {
        token_cookie(&self.state, &self.parts.headers, kind)
    }

    /// This browser, if it logged in to `user`'s account before, under its current password
    /// (a valid device cookie).
    pub(super) fn trusted_device(&self, user: &UserRecord) -> Option<TrustedDevice> {
        let value = self.cookie(Kind::Device)?;
        self.state
            .devices
            .verify(value, &user.id, user.credential_version)
    }

    /// Marks this browser as one that `user_id` logged in from with the password of
    /// `credential_version`; a browser already trusted keeps its device id.
    pub(super) fn trust_device(&self, user_id: &str, credential_version: i64) {
        let known = self.cookie(Kind::Device).and_then(|value| {
            self.state
                .devices
                .verify(value, user_id, credential_version)
        });
        let value = self
            .state
            .devices
            .issue(user_id, credential_version, known.as_ref());
        let secure = self.state.config.cookie_secure;
        self.set_cookies([cookies::set(
            Kind::Device,
            value,
            cookies::DEVICE_MAX_AGE,
            secure,
        )]);
    }

    /// The client's address, told as the rate limits tell it.
    pub(super) fn client_ip(&self) -> Option<std::net::IpAddr> {
        client_ip::of_request(
            &self.parts.extensions,
            &self.parts.headers,
            &self.state.config.limits.trusted_proxies,
        )
    }

    fn set_cookies(&self, values: impl IntoIterator<Item = HeaderValue>) {
        for value in values {
            self.response.append_header(header::SET_COOKIE, value);
        }
    }

    /// For a 429: when the client may try again.
    pub(super) fn set_retry_after(&self, wait: std::time::Duration) {
        self.response.insert_header(
            header::RETRY_AFTER,
            crate::security::limits::retry_after(wait),
        );
    }

    /// Binds a challenge to this browser for `lifetime`: a second step (`Kind::Challenge`) or
    /// a passkey ceremony (`Kind::Ceremony`).
    pub(super) fn set_challenge(&self, kind: Kind, value: &str, lifetime: std::time::Duration) {
        let secure = self.state.config.cookie_secure;
        self.set_cookies([cookies::set(kind, value.to_owned(), lifetime, secure)]);
    }

    /// The challenge is done with: its cookie goes.
    pub(super) fn clear_challenge(&self, kind: Kind) {
        self.set_challenge(kind, "", std::time::Duration::ZERO);
    }

    pub(super) fn clear_cookies(&self) {
        self.set_cookies(cookies::cleared(self.state.config.cookie_secure));
    }

    /// A plain HTML form post (no JavaScript) is answered with a redirect to a page; calls
    /// from scripts and from the WASM client get the JSON answer alone.
    pub(super) fn redirect_plain_form(&self, to: &str) {
        let accepts_html = self
            .parts
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if accepts_html {
            leptos_axum::redirect(to);
        }
    }

    fn referer(&self) -> &str {
        self.parts
            .headers
            .get(header::REFERER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// The referring page itself (the profile, by default).
    pub(super) fn referring_page(&self) -> NextPath {
        NextPath::of_url(self.referer()).unwrap_or_else(|| NextPath::or_default(None))
    }

    /// The `next` page named in the referring page's query, as the no-JS login form knows it.
    pub(super) fn next_from_referer(&self) -> NextPath {
        let query = self.referer().split_once('?').map(|(_, q)| q);
        NextPath::or_default(query_value(query, "next").as_deref())
    }

    /// The access token's claims, if it is valid and its session has not ended. Every
    /// protected endpoint starts here; the revocation check is in memory, not a query.
    pub(super) fn authenticated(&self) -> Result<AccessClaims, AppError> {
        authenticate(&self.state, &self.parts.headers)
    }

    /// The current request of a logged-in person, with the claims of its access token.
    pub(super) fn signed_in() -> Result<(Self, AccessClaims), AppError> {
        let request = Self::current()?;
        let claims = request.authenticated()?;
        Ok((request, claims))
    }

    pub(super) fn headers(&self) -> &http::HeaderMap {
        &self.parts.headers
    }

    /// Who is asking, for the sessions list: the user agent (bounded) and the client address,
    /// told as the rate limits tell it.
    pub(super) fn device(&self) -> (String, String) {
        let agent = self
            .parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let agent: String = agent.chars().take(MAX_USER_AGENT_CHARS).collect();
        let ip = self.client_ip();
        (agent, ip.map(|ip| ip.to_string()).unwrap_or_default())
    }

    /// An entry of the account's audit trail for what this request does (its author as
    /// [`EventKind::requested_by`](crate::store::EventKind::requested_by) says).
    pub(super) fn event(
        &self,
        kind: crate::store::EventKind,
        user_id: &str,
        at: OffsetDateTime,
    ) -> crate::store::Event {
        let (device, ip) = self.device();
        crate::store::Event {
            user_id: user_id.to_owned(),
            kind,
            at,
            actor: kind.requested_by(),
            ip: Some(ip).filter(|ip| !ip.is_empty()),
            device: Some(device).filter(|device| !device.is_empty()),
            session_id: None,
        }
    }

    /// When, from which device and address: what a mail tells of the request behind it. The
    /// device in our own words only (see `recognised_device`).
    pub(super) fn circumstances(&self) -> crate::mail::letters::Circumstances {
        let (agent, address) = self.device();
        crate::mail::letters::Circumstances {
            when: now(),
            device: crate::domain::recognised_device(&agent).unwrap_or_default(),
            address,
        }
    }

    /// The record of a refresh token about to be handed out.
    pub(super) fn record_of(
        refresh: &Issued,
        user_id: &str,
        session_id: &str,
        now: OffsetDateTime,
    ) -> RefreshRecord {
        RefreshRecord {
            token_hash: refresh_token_hash(&refresh.token),
            session_id: session_id.to_owned(),
            user_id: user_id.to_owned(),
            issued_at: now,
            expires_at: refresh.expires_at,
        }
    }

    /// Hands a pair to the browser, once its refresh record is stored. Each cookie lasts as
    /// long as its token. Returns when the access token expires.
    pub(super) fn set_pair(
        &self,
        access: Issued,
        refresh: Issued,
        now: OffsetDateTime,
    ) -> OffsetDateTime {
        let secure = self.state.config.cookie_secure;
        let left =
            |until: OffsetDateTime| std::time::Duration::try_from(until - now).unwrap_or_default();
        let access_expires_at = access.expires_at;
        self.set_cookies([
            cookies::set(Kind::Access, access.token, left(access.expires_at), secure),
            cookies::set(
                Kind::Refresh,
                refresh.token,
                left(refresh.expires_at),
                secure,
            ),
        ]);
        access_expires_at
    }

    /// Starts a new session for `user` on this device: the session and its first refresh
    /// record go in by `store`, then both cookies are set. Only with leave to
    /// (`second_factor::Admitted`): every way in passes the second factor.
    pub(super) async fn start_session<F, Fut>(
        &self,
        user: &UserRecord,
        admitted: &super::admission::Admitted,
        now: OffsetDateTime,
        store: F,
    ) -> Result<(), AppError>
    where
        F: FnOnce(NewSession) -> Fut,
        Fut: std::future::Future<Output = Result<(), crate::store::StoreError>>,
    {
        let (user_agent, ip) = self.device();
        let id = new_id();
        let ends_by = now + self.state.config.session_max_lifetime;
        let pair = self.new_pair(user, &id, now, ends_by)?;
        let session = NewSession {
            id,
            user_id: user.id.clone(),
            created_at: now,
            ends_by,
            user_agent,
            ip,
            method: admitted.method(),
            first: pair.record,
        };
        store(session).await?;
        crate::telemetry::metrics::session_started();
        self.set_pair(pair.access, pair.refresh, now);
        Ok(())
    }

    /// A fresh access and refresh token for `session_id` (a new session, or one whose tokens
    /// are all replaced), with the refresh token's record to store before handing them out.
    pub(super) fn new_pair(
        &self,
        user: &UserRecord,
        session_id: &str,
        now: OffsetDateTime,
        ends_by: OffsetDateTime,
    ) -> Result<NewPair, AppError> {
        let tokens = &self.state.tokens;
        let access = tokens.issue_access(user, session_id, now, ends_by)?;
        let refresh = tokens.issue_refresh(&user.id, session_id, now, ends_by)?;
        let record = Self::record_of(&refresh, &user.id, session_id, now);
        Ok(NewPair {
            access,
            refresh,
            record,
        })
    }
}

/// A new access and refresh token for one session, with the refresh token's record: stored
/// first, then the tokens go out in cookies ([`CurrentRequest::set_pair`]).
pub(super) struct NewPair {
    pub access: Issued,
    pub refresh: Issued,
    pub record: RefreshRecord,
}

/// The value of `key` in a query string, decoded.
pub(super) fn query_value(query: Option<&str>, key: &str) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(name, _)| name == key)
        .map(|(_, value)| value.into_owned())
}

/// The claims of the request's access token, if it is valid and its session has not ended.
pub(super) fn authenticate(
    state: &AppState,
    headers: &http::HeaderMap,
) -> Result<AccessClaims, AppError> {
    let (_, claims) = verified_token(state, headers, Kind::Access, TokenKeys::verify_access)?;
    if state.revoked.contains(&claims.sid) {
        return Err(AppError::session_ended());
    }
    Ok(claims)
}

/// The request's token cookie of `kind` and its claims, as `verify` checks them. A token under
/// the unprefixed name of earlier versions is honoured only if it was issued before the
/// prefixes took effect (see `credentials::cookies`); one planted there since is treated as absent.
pub(super) fn verified_token<'h, C: Checked>(
    state: &AppState,
    headers: &'h http::HeaderMap,
    kind: Kind,
    verify: impl FnOnce(&TokenKeys, &str) -> Result<C, TokenError>,
) -> Result<(&'h str, C), AppError> {
    let (token, legacy) =
        token_cookie(state, headers, kind).ok_or_else(AppError::unauthenticated)?;
    let claims = verify(&state.tokens, token)?;
    if legacy && !state.legacy_cookie_honoured(claims.iat()) {
        return Err(AppError::unauthenticated());
    }
    Ok((token, claims))
}

/// A token cookie of the request: under its current name, or (`true`) under the unprefixed
/// name of earlier versions, which the caller honours only for a token issued before the
/// prefixes (see `credentials::cookies`).
pub(super) fn token_cookie<'h>(
    state: &AppState,
    headers: &'h http::HeaderMap,
    kind: Kind,
) -> Option<(&'h str, bool)> {
    let secure = state.config.cookie_secure;
    cookies::read(headers, kind, secure)
        .map(|token| (token, false))
        .or_else(|| cookies::read_legacy(headers, kind, secure).map(|token| (token, true)))
}

/// User agents are free text of any length; this much names any real browser.
const MAX_USER_AGENT_CHARS: usize = 256;

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Now, to the whole second: what the database keeps, so answers match later reads.
pub(super) fn now() -> OffsetDateTime {
    crate::store::clock()
}
