//! [ssr] What the auth endpoints do, step by step. Everything here runs inside a server
//! function, where leptos_axum provides the request parts, a `ResponseOptions` and `AppState`.

use super::{
    cookies,
    exchange::{new_id, Exchange},
    passwords::HashError,
    tokens::{refresh_token_hash, TokenError},
    Refreshed,
};
use crate::security::limits;
use crate::{
    domain::{Email, FullName, LoginName, Password, User, Username},
    error::{AppError, ErrorCode},
    store::{Rotation, UserKey, UserRecord},
};
use std::time::Instant;
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

/// Now, to the whole second: what the database keeps, so answers match later reads.
fn now() -> OffsetDateTime {
    let exact = OffsetDateTime::now_utc();
    exact - time::Duration::nanoseconds(exact.nanosecond().into())
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
    // Failures count per account (an email and a username of one account are one account);
    // names of no account count alike, so the limit says nothing about which names exist.
    let account = match (&found, &login) {
        (Some(user), _) => format!("user:{}", user.id),
        (None, LoginName::Email(key) | LoginName::Username(key)) => format!("name:{key}"),
    };
    let failures = &state.limits.failures;
    if let Some(wait) = failures.locked_for(&account, Instant::now()) {
        exchange.set_retry_after(wait);
        return Err(limits::rate_limited());
    }
    // Verify even when there is no such account, so both failures take the same time.
    let matches = state
        .passwords
        .verify(&password, found.as_ref().map(|u| u.password_hash.as_str()))
        .await?;
    let Some(user) = found.filter(|_| matches) else {
        failures.record_failure(&account, Instant::now());
        return Err(AppError::invalid_credentials());
    };
    failures.reset(&account);
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
