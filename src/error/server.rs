//! [ssr] How the server's own errors become the wire's [`AppError`], in one place: the store's
//! (a taken name is 409, a database away 503), hashing's (a full queue is 429), the tokens'
//! (401 with the reason), and anything else an opaque 500 whose cause goes to the log only.

use super::{AppError, ErrorCode};
use crate::{
    credentials::passwords::HashError, credentials::tokens::TokenError, store::StoreError,
};

impl AppError {
    /// Too many attempts: 429 (the caller sets `Retry-After`).
    pub fn rate_limited() -> Self {
        Self::new(
            ErrorCode::RateLimited,
            "Too many attempts. Please wait a moment and try again.",
        )
    }

    /// Too many attempts, for `wait` more (the caller sets `Retry-After` to the same): the
    /// message says how long in words. `whose` says what is limited ("this account").
    pub fn rate_limited_for(whose: &str, wait: std::time::Duration) -> Self {
        Self::new(
            ErrorCode::RateLimited,
            format!(
                "Too many attempts {whose}. Try again {}.",
                super::wait_in_words(wait)
            ),
        )
    }

    /// The session behind a valid token has ended (logout, revocation, a password change).
    pub fn session_ended() -> Self {
        Self::new(
            ErrorCode::TokenRevoked,
            "This session has ended. Please log in again.",
        )
    }

    /// Logs `cause` (with its source chain) on the server and returns an opaque 500.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        tracing::error!(error = %chain(cause), "internal error");
        Self::opaque_internal()
    }
}

/// An error and every cause under it, in one line: `outer: inner: innermost`.
pub fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut chain = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        chain.push_str(": ");
        chain.push_str(&inner.to_string());
        source = inner.source();
    }
    chain
}

/// For the layers in front of the server functions: the JSON body under its code's status.
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.code.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self)).into_response()
    }
}

impl From<StoreError> for AppError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Taken(field) => Self::conflict(
                field,
                format!("That {field} is already registered. Log in, or choose another."),
            ),
            // The password that was checked is not the account's password any more.
            StoreError::CredentialsChanged => Self::invalid_credentials(),
            StoreError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable; answering 503");
                Self::unavailable()
            }
            other => Self::internal(&other),
        }
    }
}

impl From<HashError> for AppError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => Self::rate_limited(),
            other => Self::internal(&other),
        }
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
