//! The one error type that crosses the wire. Every failure a client can see is an [`AppError`]
//! with a stable [`ErrorCode`] from docs/API.md; the HTTP status is derived from the code in one
//! place ([`ErrorCode::status`]), whichever layer raised the error. How the server's own errors
//! (the store's, hashing's, tokens') become one is in [`server`], in one place.

use leptos::server_fn::{
    codec::JsonEncoding,
    error::{FromServerFnError, ServerFnErrorErr},
};
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
mod server;
#[cfg(feature = "ssr")]
pub use server::chain;

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
    /// The password was right, and the account's address is not verified yet while logins
    /// require it (`REQUIRE_VERIFIED_EMAIL`).
    EmailUnverified,
    /// The password was right, and an operator has disabled the account.
    AccountDisabled,
    /// The password was right, and the account has a second factor: no session yet, but a
    /// second step bound to this browser, which a code or a passkey completes.
    MfaRequired,
    /// A sensitive change needs a fresh proof of who is asking (password and second factor, or
    /// a passkey) within the last minutes: `POST /api/auth/confirm_identity` gives one.
    StepUpRequired,
    /// The database cannot take the request now (its disk is full, its lock is held, it is
    /// away): try again after `Retry-After`.
    Unavailable,
    Internal,
}

impl ErrorCode {
    /// The HTTP status that carries this code.
    pub fn status(self) -> u16 {
        match self {
            Self::InvalidInput => 400,
            Self::Conflict => 409,
            Self::RateLimited => 429,
            Self::Forbidden
            | Self::EmailUnverified
            | Self::AccountDisabled
            | Self::StepUpRequired => 403,
            Self::NotFound => 404,
            Self::InvalidCredentials
            | Self::MfaRequired
            | Self::Unauthenticated
            | Self::TokenInvalid
            | Self::TokenExpired
            | Self::TokenRevoked
            | Self::TokenReused => 401,
            Self::Unavailable => 503,
            Self::Internal => 500,
        }
    }

    /// True for the 401s of a protected call: the access token is missing or unusable, so a
    /// refresh may still help. A failed login is a 401 too, but refreshing cannot fix it.
    pub fn is_session_failure(self) -> bool {
        self.status() == 401 && !matches!(self, Self::InvalidCredentials | Self::MfaRequired)
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

// Said of reads too (a page listing the devices while the database is away), so it names no
// action.
const UNAVAILABLE: &str = "The service is briefly unavailable. Please try again in a moment.";

/// The answers to a reset link that cannot be used: said by the server, and kept when they come
/// back in the URL of a plain form post.
pub const RESET_LINK_EXPIRED: &str = "This reset link has expired. Ask for a new one below.";
pub const RESET_LINK_INVALID: &str = "This reset link cannot be used: it was used already, or \
     the password has changed since it was sent. Ask for a new one below.";
/// The same, for the other links mail carries: confirming an address, moving to a new one, and
/// undoing that.
pub const VERIFY_LINK_EXPIRED: &str =
    "This confirmation link has expired. Send a new one, or enter the code from a newer mail.";
pub const VERIFY_LINK_INVALID: &str = "This confirmation link cannot be used: it was used \
     already, or the account's address or password has changed since it was sent.";
pub const CHANGE_LINK_EXPIRED: &str =
    "This link has expired. Change your address again on your profile to get a new one.";
pub const CHANGE_LINK_INVALID: &str = "This link cannot be used: it was used already, or the \
     account's address or password has changed since it was sent.";
pub const UNDO_LINK_EXPIRED: &str = "This link has expired, so it can no longer change the \
     account's address.";
pub const UNDO_LINK_INVALID: &str = "This link cannot be used: it was used already, or the \
     change it was about has been made since. If so, the mail that told of the change has a link \
     that undoes it.";
/// A login whose password was right, waiting for its second step.
pub const MFA_REQUIRED: &str =
    "Enter the code from your authenticator app, or one of your recovery codes.";
/// A sensitive change asked for too long after the last proof of who is asking.
pub const STEP_UP_REQUIRED: &str = "Confirm it's you to continue.";
/// A second step that cannot go on: expired, used, or never started in this browser.
pub const SECOND_STEP_GONE: &str = "This sign-in has expired. Please log in again.";
/// A wrong authenticator or recovery code (`field`: `code`).
pub const FACTOR_CODE_WRONG: &str =
    "That code is not right. Enter the current code from your app, or an unused recovery code.";
/// A login or registration refused until the address is confirmed.
pub const EMAIL_UNVERIFIED: &str = "Confirm your address first: open the link we sent to it. \
     No mail? Send a new one from the confirmation page.";
/// A disabled account's answer, once its password was right.
pub const ACCOUNT_DISABLED: &str =
    "This account has been disabled. Contact the site's administrator.";
/// What is wrong with a verification code (`field`: `code`), kept through a plain form post.
pub const CODE_SHAPE: &str = "Enter the six digits from the mail.";
pub const CODE_WRONG: &str = "That code is not right. Check the newest mail, or send a new one.";
pub const CODE_EXPIRED: &str = "That code has expired. Send a new one.";
/// A registration refused a session until the address is confirmed.
pub const CONFIRM_TO_LOG_IN: &str = "Your account is created. Open the link we sent to your \
     address to confirm it, then log in.";
const LINK_MESSAGES: [&str; 10] = [
    CONFIRM_TO_LOG_IN,
    RESET_LINK_EXPIRED,
    RESET_LINK_INVALID,
    VERIFY_LINK_EXPIRED,
    VERIFY_LINK_INVALID,
    CHANGE_LINK_EXPIRED,
    CHANGE_LINK_INVALID,
    UNDO_LINK_EXPIRED,
    UNDO_LINK_INVALID,
    EMAIL_UNVERIFIED,
];

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

    /// The error as a page may show it when it was read from the page's own URL (a form posted
    /// without JavaScript comes back with `?__err=…`). Anyone can write such a URL into a link,
    /// so its text is never shown: the code (and the field it names) picks one of our messages.
    /// A message we know word for word is kept, so the one the server sent still reads the same.
    pub fn from_url(self) -> Self {
        const KEPT: [&str; 3] = [
            "That login and password do not match an account.",
            "That is not your current password.",
            "That is not your password.",
        ];
        if self.code == ErrorCode::InvalidCredentials && KEPT.contains(&self.message.as_str()) {
            return self;
        }
        if self.code == ErrorCode::Conflict
            && [TAKEN_BY_ANOTHER, EMAIL_TAKEN_BY_ANOTHER, MOVE_BACK_BY_UNDO]
                .contains(&self.message.as_str())
        {
            return self;
        }
        if matches!(
            self.code,
            ErrorCode::TokenExpired | ErrorCode::TokenInvalid | ErrorCode::EmailUnverified
        ) && LINK_MESSAGES.contains(&self.message.as_str())
        {
            return self;
        }
        if self.code == ErrorCode::InvalidInput
            && [CODE_SHAPE, CODE_WRONG, CODE_EXPIRED, FACTOR_CODE_WRONG]
                .contains(&self.message.as_str())
        {
            return self;
        }
        let message = match self.code {
            ErrorCode::InvalidInput if self.field.as_deref() == Some(WHOLE_BODY) => {
                "The form could not be sent. Please try again."
            }
            ErrorCode::InvalidInput => "Check this field and try again.",
            ErrorCode::Conflict => "That is already registered. Log in, or choose another.",
            // The wait itself is in `Retry-After`, which a plain form post does not show.
            ErrorCode::RateLimited => "Too many attempts. Please try again later.",
            ErrorCode::Forbidden => "This request came from another site and was refused.",
            ErrorCode::NotFound => "There is no such session on your account.",
            ErrorCode::InvalidCredentials => KEPT[0],
            ErrorCode::Unauthenticated
            | ErrorCode::TokenInvalid
            | ErrorCode::TokenExpired
            | ErrorCode::TokenRevoked
            | ErrorCode::TokenReused => "Your session has ended. Please log in again.",
            ErrorCode::EmailUnverified => EMAIL_UNVERIFIED,
            ErrorCode::AccountDisabled => ACCOUNT_DISABLED,
            ErrorCode::MfaRequired => MFA_REQUIRED,
            ErrorCode::StepUpRequired => STEP_UP_REQUIRED,
            ErrorCode::Unavailable => UNAVAILABLE,
            ErrorCode::Internal => "Something went wrong on our side. Please try again.",
        };
        Self {
            message: message.to_owned(),
            ..self
        }
    }

    /// The database cannot take the request now: a 503 the client may retry.
    pub fn unavailable() -> Self {
        Self::new(ErrorCode::Unavailable, UNAVAILABLE)
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

/// A username a logged-in person chose belongs to another account.
pub const TAKEN_BY_ANOTHER: &str = "That username belongs to another account. Choose another.";
pub const EMAIL_TAKEN_BY_ANOTHER: &str = "That address belongs to another account. Choose another.";
/// Asked to move back to an address the account left within the undo window.
pub const MOVE_BACK_BY_UNDO: &str = "This account left that address recently. To move back, \
     open the link in the mail that address was sent when the account left it.";

/// How long to wait, as a person says it: "in a minute", "in 15 minutes", "in 2 hours".
/// Rounded up, so that nobody is told to come back before they may.
pub fn wait_in_words(wait: std::time::Duration) -> String {
    let minutes = wait.as_secs().div_ceil(60).max(1);
    match minutes {
        1 => "in a minute".to_owned(),
        2..=89 => format!("in {minutes} minutes"),
        _ => match minutes.div_ceil(60) {
            1 => "in an hour".to_owned(),
            hours => format!("in {hours} hours"),
        },
    }
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
    fn an_error_read_from_a_url_never_shows_the_text_the_url_carried() {
        let forged =
            AppError::invalid_input("password", "Your account is locked: call +1 555 0100");
        let shown = forged.from_url();
        assert_eq!(shown.message, "Check this field and try again.");
        assert_eq!(
            shown.field.as_deref(),
            Some("password"),
            "still points at the field"
        );
        let phishing = AppError::new(
            ErrorCode::InvalidCredentials,
            "Visit evil.example to unlock",
        );
        assert_eq!(
            phishing.from_url().message,
            "That login and password do not match an account."
        );
        let ours = AppError::new(
            ErrorCode::InvalidCredentials,
            "That is not your current password.",
        );
        assert_eq!(ours.clone().from_url(), ours, "our own words are kept");
    }

    #[test]
    fn only_token_failures_ask_for_a_refresh() {
        assert!(ErrorCode::TokenExpired.is_session_failure());
        assert!(ErrorCode::Unauthenticated.is_session_failure());
        assert!(!ErrorCode::InvalidCredentials.is_session_failure());
        assert!(!ErrorCode::Internal.is_session_failure());
    }

    #[test]
    fn a_wait_reads_in_words_rounded_up() {
        let words = |secs| wait_in_words(std::time::Duration::from_secs(secs));
        assert_eq!(words(0), "in a minute");
        assert_eq!(words(59), "in a minute");
        assert_eq!(words(61), "in 2 minutes");
        assert_eq!(words(898), "in 15 minutes");
        assert_eq!(words(900), "in 15 minutes");
        assert_eq!(words(89 * 60), "in 89 minutes");
        assert_eq!(words(90 * 60), "in 2 hours");
        assert_eq!(words(24 * 3600), "in 24 hours");
    }
}
