//! [ssr] What the auth endpoints do, step by step. Everything here runs inside a server
//! function, where leptos_axum provides the request parts, a `ResponseOptions` and `AppState`.

use super::{
    cookies,
    passwords::HashError,
    tokens::{refresh_token_hash, Issued, TokenError},
    Refreshed,
};
use crate::{
    domain::{Email, FullName, LoginName, NextPath, Password, User, Username},
    error::{AppError, ErrorCode},
    state::AppState,
    store::{RefreshRecord, Rotation, UserKey, UserRecord},
};
use http::{header, request::Parts, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

impl From<HashError> for AppError {
    fn from(err: HashError) -> Self {
        Self::internal(&err)
    }
}

impl From<jsonwebtoken::errors::Error> for AppError {
    fn from(err: jsonwebtoken::errors::Error) -> Self {
        Self::internal(&err)
    }
}

impl From<TokenError> for AppError {
    fn from(err: TokenError) -> Self {
        match err {
            TokenError::Expired => Self::new(
                ErrorCode::TokenExpired,
                "Your session has expired. Please log in again.",
            ),
            TokenError::Invalid => Self::new(
                ErrorCode::TokenInvalid,
                "Your session is not valid. Please log in again.",
            ),
        }
    }
}

/// The request being answered and the means to answer it.
struct Exchange {
    state: AppState,
    request: Parts,
    response: ResponseOptions,
}

impl Exchange {
    fn current() -> Result<Self, AppError> {
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

    fn cookie(&self, name: &str) -> Option<&str> {
        cookies::read(&self.request.headers, name)
    }

    fn set_cookies(&self, values: impl IntoIterator<Item = HeaderValue>) {
        for value in values {
            self.response.append_header(header::SET_COOKIE, value);
        }
    }

    fn clear_cookies(&self) {
        self.set_cookies(cookies::cleared(self.state.config.cookie_secure));
    }

    /// A plain HTML form post (no JavaScript) is answered with a redirect to a page; calls
    /// from scripts and from the WASM client get the JSON answer alone.
    fn redirect_plain_form(&self, to: &str) {
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
    fn referring_page(&self) -> NextPath {
        NextPath::of_url(self.referer()).unwrap_or_else(|| NextPath::or_default(None))
    }

    /// The `next` page named in the referring page's query, as the no-JS login form knows it.
    fn next_from_referer(&self) -> NextPath {
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
    fn issue_refresh(
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
    fn set_pair(&self, access: Issued, refresh: Issued) -> OffsetDateTime {
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
    async fn start_session<F, Fut>(
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

/// Now, to the whole second: what the database keeps, so answers match later reads.
fn now() -> OffsetDateTime {
    let exact = OffsetDateTime::now_utc();
    exact - time::Duration::nanoseconds(exact.nanosecond().into())
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

pub async fn register(
    email: Email,
    username: Username,
    full_name: FullName,
    password: Password,
) -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    let now = now();
    let user = UserRecord {
        id: new_id(),
        email: email.as_str().to_owned(),
        username: username.as_str().to_owned(),
        full_name: full_name.as_str().to_owned(),
        password_hash: state.passwords.hash(password.expose()).await?,
        created_at: now,
    };
    let email_key = email.key();
    let store = &state.store;
    let account = &user;
    exchange
        .start_session(account, now, |first| async move {
            store.create_user(account, &email_key, &first).await
        })
        .await?;
    tracing::info!(user_id = %user.id, "account created");
    exchange.redirect_plain_form(exchange.next_from_referer().as_str());
    Ok(user.to_public())
}

pub async fn login(login: LoginName, password: String) -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    let key = match &login {
        LoginName::Email(key) => UserKey::Email(key),
        LoginName::Username(name) => UserKey::Username(name),
    };
    let found = state.store.find_user_by(key).await?;
    // Verify even when there is no such account, so both failures take the same time.
    let matches = state
        .passwords
        .verify(&password, found.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let Some(user) = found.filter(|_| matches) else {
        return Err(AppError::invalid_credentials());
    };
    exchange
        .start_session(&user, now(), |first| async move {
            state.store.insert_refresh(&first).await
        })
        .await?;
    tracing::info!(user_id = %user.id, "logged in");
    exchange.redirect_plain_form(exchange.next_from_referer().as_str());
    Ok(user.to_public())
}

pub async fn refresh() -> Result<Refreshed, AppError> {
    let exchange = Exchange::current()?;
    let outcome = rotate(&exchange).await;
    // Without JavaScript, the refresh is a "Continue" button on a page that needs a login:
    // back to that page when it worked, to the login page (and back after it) when not.
    let page = exchange.referring_page();
    match &outcome {
        Ok(_) => exchange.redirect_plain_form(page.as_str()),
        Err(_) => {
            // Whatever the cookies held is dead now; do not let the browser keep sending it.
            exchange.clear_cookies();
            exchange.redirect_plain_form(&page.login_url());
        }
    }
    outcome
}

async fn rotate(exchange: &Exchange) -> Result<Refreshed, AppError> {
    let state = &exchange.state;
    let token = exchange
        .cookie(cookies::REFRESH_COOKIE)
        .ok_or_else(AppError::unauthenticated)?;
    let claims = state.tokens.verify_refresh(token)?;
    let now = now();
    // The database row, not the signature, decides whether this token may still be used.
    let (refresh, successor) = exchange.issue_refresh(&claims.sub, &claims.sid, now)?;
    let rotation = state
        .store
        .rotate_refresh(&refresh_token_hash(token), &successor, now)
        .await?;
    let ended = |code, message: &str| Err(AppError::new(code, message));
    match rotation {
        Rotation::Rotated => {}
        Rotation::AlreadyUsed => {
            return ended(
                ErrorCode::TokenReused,
                "This session was already refreshed elsewhere. Please log in again.",
            )
        }
        Rotation::Revoked => {
            return ended(
                ErrorCode::TokenRevoked,
                "This session has ended. Please log in again.",
            )
        }
        Rotation::Expired => return Err(TokenError::Expired.into()),
        Rotation::Unknown => return Err(TokenError::Invalid.into()),
    }
    // Rows go with their account (ON DELETE CASCADE), so a rotated row means a live account.
    let user =
        state.store.find_user(&claims.sub).await?.ok_or_else(|| {
            AppError::new(ErrorCode::TokenRevoked, "This account no longer exists.")
        })?;
    let access = state.tokens.issue_access(&user, &claims.sid, now)?;
    let access_expires_at = exchange.set_pair(access, refresh);
    Ok(Refreshed {
        access_expires_at: access_expires_at.format(&Rfc3339).unwrap_or_default(),
    })
}

pub async fn logout() -> Result<(), AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    let session = exchange
        .cookie(cookies::REFRESH_COOKIE)
        .and_then(|token| state.tokens.refresh_session_of(token))
        .or_else(|| {
            let token = exchange.cookie(cookies::ACCESS_COOKIE)?;
            state
                .tokens
                .verify_access(token)
                .ok()
                .map(|claims| claims.sid)
        });
    if let Some(session) = session {
        state.store.revoke_session(&session, now()).await?;
        tracing::info!(session_id = %session, "logged out");
    }
    exchange.clear_cookies();
    exchange.redirect_plain_form("/login");
    Ok(())
}

pub async fn me() -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    let token = exchange
        .cookie(cookies::ACCESS_COOKIE)
        .ok_or_else(AppError::unauthenticated)?;
    let claims = state.tokens.verify_access(token)?;
    let user =
        state.store.find_user(&claims.sub).await?.ok_or_else(|| {
            AppError::new(ErrorCode::TokenRevoked, "This account no longer exists.")
        })?;
    Ok(user.to_public())
}
