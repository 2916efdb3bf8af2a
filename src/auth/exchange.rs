//! [ssr] The request a server function is answering, and the means to answer it: cookies in
//! and out, redirects for plain form posts, and handing out a new token pair.

use super::{
    cookies,
    tokens::{refresh_token_hash, Issued},
};
use crate::{
    domain::NextPath,
    error::AppError,
    state::AppState,
    store::{RefreshRecord, UserRecord},
};
use http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use time::OffsetDateTime;

/// The request being answered and the means to answer it.
pub(super) struct Exchange {
    pub(super) state: AppState,
    request: Parts,
    response: ResponseOptions,
}

impl Exchange {
    pub(super) fn current() -> Result<Self, AppError> {
        match (use_context(), use_context(), use_context()) {
            (Some(state), Some(request), Some(response)) => Ok(Self {
                state,
                request,
                response,
            }),
            _ => {
                tracing::error!("server function ran without its request context");
                Err(AppError::opaque_internal())
            }
        }
    }

    pub(super) fn cookie(&self, name: &str) -> Option<&str> {
        cookies::read(&self.request.headers, name)
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

    pub(super) fn clear_cookies(&self) {
        self.set_cookies(cookies::cleared(self.state.config.cookie_secure));
    }

    /// A plain HTML form post (no JavaScript) is answered with a redirect to a page; calls
    /// from scripts and from the WASM client get the JSON answer alone.
    pub(super) fn redirect_plain_form(&self, to: &str) {
        let accepts_html = self
            .request
            .headers
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"));
        if accepts_html {
            leptos_axum::redirect(to);
        }
    }

    fn referer(&self) -> &str {
        self.request
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
        let query = self
            .referer()
            .split_once('?')
            .map(|(_, q)| q)
            .unwrap_or_default();
        let next = form_urlencoded::parse(query.as_bytes())
            .find(|(key, _)| key == "next")
            .map(|(_, value)| value.into_owned());
        NextPath::or_default(next.as_deref())
    }

    /// A refresh token for `session_id`, and the record to store before handing it out.
    pub(super) fn issue_refresh(
        &self,
        user_id: &str,
        session_id: &str,
        now: OffsetDateTime,
    ) -> Result<(Issued, RefreshRecord), AppError> {
        let refresh = self.state.tokens.issue_refresh(user_id, session_id, now)?;
        let record = RefreshRecord {
            token_hash: refresh_token_hash(&refresh.token),
            session_id: session_id.to_owned(),
            user_id: user_id.to_owned(),
            issued_at: now,
            expires_at: refresh.expires_at,
        };
        Ok((refresh, record))
    }

    /// Hands a pair to the browser, once its refresh record is stored. Returns when the access
    /// token expires.
    pub(super) fn set_pair(&self, access: Issued, refresh: Issued) -> OffsetDateTime {
        let secure = self.state.config.cookie_secure;
        let tokens = &self.state.tokens;
        self.set_cookies([
            cookies::access(access.token, tokens.access_ttl(), secure),
            cookies::refresh(refresh.token, tokens.refresh_ttl(), secure),
        ]);
        access.expires_at
    }

    /// Starts a new session for `user`: its first refresh record goes in by `store`, then both
    /// cookies are set.
    pub(super) async fn start_session<F, Fut>(
        &self,
        user: &UserRecord,
        now: OffsetDateTime,
        store: F,
    ) -> Result<(), AppError>
    where
        F: FnOnce(RefreshRecord) -> Fut,
        Fut: std::future::Future<Output = Result<(), crate::store::StoreError>>,
    {
        let session_id = new_id();
        let access = self.state.tokens.issue_access(user, &session_id, now)?;
        let (refresh, record) = self.issue_refresh(&user.id, &session_id, now)?;
        store(record).await?;
        self.set_pair(access, refresh);
        Ok(())
    }
}

pub(super) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}
