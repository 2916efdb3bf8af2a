//! The one error type that crosses the wire. Every failure a client can see is an [`AppError`]
//! with a stable [`ErrorCode`] from CONTRACT.md; the HTTP status is derived from the code in one
//! place ([`ErrorCode::status`]), whichever layer raised the error.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

/// The stable, machine-readable error codes of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    InvalidInput,
    Conflict,
    RateLimited,
    Forbidden,
    NotFound,
    InvalidCredentials,
    Unauthenticated,
    TokenInvalid,
    TokenExpired,
    TokenRevoked,
    TokenReused,
    Internal,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput => 400,
            Self::Conflict => 409,
            Self::RateLimited => 429,
            Self::Forbidden => 403,
            Self::NotFound => 404,
            Self::InvalidCredentials
            | Self::Unauthenticated
            | Self::TokenInvalid
            | Self::TokenExpired
            | Self::TokenRevoked
            | Self::TokenReused => 401,
            Self::Internal => 500,
        }
    }

    /// True for the 401s of a protected call: the access token is missing or unusable, so a
    /// refresh may still help. A failed login is a 401 too, but refreshing cannot fix it.
    pub fn is_session_failure(self) -> bool {
        self.status() == 401 && self != Self::InvalidCredentials
    }
}

/// An error as the client sees it: `{"code", "message", "field"?}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AppError {
    pub code: ErrorCode,
    /// For people: safe to show as it is.
    pub message: String,
    /// The input field at fault, on `invalid_input` (and on `conflict`, to point the form at it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The field name used when the request as a whole is at fault (unreadable or too large body).
pub const WHOLE_BODY: &str = "body";

impl AppError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn invalid_input(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(ErrorCode::InvalidInput, message)
        }
    }

    pub fn conflict(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: Some(field.to_owned()),
            ..Self::new(ErrorCode::Conflict, message)
        }
    }

    /// The one answer to every failed login, so that it cannot tell which part was wrong.
    pub fn invalid_credentials() -> Self {
        Self::new(
            ErrorCode::InvalidCredentials,
            "That login and password do not match an account.",
        )
    }

    /// The same error about another field: a rule shared by two inputs (a new password is
    /// checked like a password) names the input the person actually filled in.
    pub fn for_field(mut self, field: &str) -> Self {
        if self.field.is_some() {
            self.field = Some(field.to_owned());
        }
        self
    }

    pub fn unauthenticated() -> Self {
        Self::new(ErrorCode::Unauthenticated, "Please log in.")
    }

    /// A 500 that says nothing about its cause. Server code logs the cause first: see
    /// `AppError::internal` in the `ssr` build.
    pub fn opaque_internal() -> Self {
        Self::new(
            ErrorCode::Internal,
            "Something went wrong on our side. Please try again.",
        )
    }
}

#[cfg(feature = "ssr")]
impl AppError {
    /// Logs `cause` (with its source chain) on the server and returns an opaque 500.
    pub fn internal(cause: &(dyn std::error::Error + 'static)) -> Self {
        let mut chain = cause.to_string();
        let mut source = cause.source();
        while let Some(inner) = source {
            chain.push_str(": ");
            chain.push_str(&inner.to_string());
            source = inner.source();
        }
        tracing::error!(error = %chain, "internal error");
        Self::opaque_internal()
    }
}

/// For the layers in front of the server functions: the JSON body under its code's status.
#[cfg(feature = "ssr")]
impl axum::response::IntoResponse for AppError {
    fn into_response(self) -> axum::response::Response {
        let status = axum::http::StatusCode::from_u16(self.code.status())
            .unwrap_or(axum::http::StatusCode::INTERNAL_SERVER_ERROR);
        (status, axum::Json(self)).into_response()
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    /// Failures of the server-function machinery itself. Arguments that cannot be decoded are
    /// the caller's fault (400), never a 500; on the browser, a request that never got an answer
    /// is reported as a generic failure.
    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        match value {
            ServerFnErrorErr::Args(detail) | ServerFnErrorErr::MissingArg(detail) => {
                Self::invalid_input(
                    missing_field(&detail).unwrap_or(WHOLE_BODY),
                    "The request could not be read: send the form fields as \
                     application/x-www-form-urlencoded.",
                )
            }
            ServerFnErrorErr::Request(_) => Self::new(
                ErrorCode::Internal,
                "Could not reach the server. Check your connection and try again.",
            ),
            _ => Self::opaque_internal(),
        }
    }
}

/// serde names a missing field as "missing field `name`"; point the client at it when it does.
fn missing_field(detail: &str) -> Option<&str> {
    let start = detail.find("missing field `")? + "missing field `".len();
    let len = detail[start..].find('`')?;
    Some(&detail[start..start + len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_has_code_message_and_field_only_when_set() {
        let with_field = serde_json::to_value(AppError::invalid_input("email", "bad")).unwrap();
        assert_eq!(
            with_field,
            serde_json::json!({"code": "invalid_input", "message": "bad", "field": "email"})
        );
        let without = serde_json::to_value(AppError::unauthenticated()).unwrap();
        assert_eq!(without["code"], "unauthenticated");
        assert!(without.get("field").is_none());
    }

    #[test]
    fn undecodable_arguments_become_invalid_input_naming_the_field() {
        let err = AppError::from_server_fn_error(ServerFnErrorErr::Args(
            "missing field `password`".into(),
        ));
        assert_eq!(err.code, ErrorCode::InvalidInput);
        assert_eq!(err.field.as_deref(), Some("password"));
        assert_eq!(err.code.status(), 400);
    }

    #[test]
    fn only_token_failures_ask_for_a_refresh() {
        assert!(ErrorCode::TokenExpired.is_session_failure());
        assert!(ErrorCode::Unauthenticated.is_session_failure());
        assert!(!ErrorCode::InvalidCredentials.is_session_failure());
        assert!(!ErrorCode::Internal.is_session_failure());
    }
}
