//! The five endpoints of the contract, as server functions under `/api/auth`. Each one parses
//! its input into validated types at the boundary and hands over to [`flows`] (server only).
//! Arguments default to empty, so a missing field is reported by the field's own validation
//! (400 `invalid_input` naming it) rather than by the framework.

#[cfg(feature = "ssr")]
use crate::domain::{Email, FullName, LoginName, Password, Username};
use crate::{domain::User, error::AppError};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub mod cookies;
#[cfg(feature = "ssr")]
mod exchange;
#[cfg(feature = "ssr")]
mod flows;
#[cfg(feature = "ssr")]
pub mod password_policy;
#[cfg(feature = "ssr")]
pub mod passwords;
#[cfg(feature = "ssr")]
pub mod tokens;

/// What a successful refresh answers: the new access token itself stays in its cookie.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refreshed {
    /// RFC 3339.
    pub access_expires_at: String,
}

/// Creates an account and logs it in.
#[server(prefix = "/api/auth", endpoint = "register")]
pub async fn register(
    #[server(default)] email: String,
    #[server(default)] username: String,
    #[server(default)] full_name: String,
    #[server(default)] password: String,
) -> Result<User, AppError> {
    let email = Email::parse(&email)?;
    let username = Username::parse(&username)?;
    let full_name = FullName::parse(&full_name)?;
    let password = Password::parse(&password)?;
    let (password, username, email) =
        password_policy::check_blocking(password, username, email).await?;
    flows::register(email, username, full_name, password).await
}

/// Logs in with an email or username and a password.
#[server(prefix = "/api/auth", endpoint = "login")]
pub async fn login(
    #[server(default)] login: String,
    #[server(default)] password: String,
) -> Result<User, AppError> {
    let login = LoginName::parse(&login)?;
    if password.is_empty() {
        return Err(AppError::invalid_input("password", "Enter your password."));
    }
    if password.chars().count() > 1024 {
        return Err(AppError::invalid_input(
            "password",
            "That password is far too long.",
        ));
    }
    flows::login(login, password).await
}

/// Exchanges the `refresh_token` cookie for a new pair (rotation).
#[server(prefix = "/api/auth", endpoint = "refresh")]
pub async fn refresh() -> Result<Refreshed, AppError> {
    flows::refresh().await
}

/// Ends this session: its refresh token is revoked and both cookies are cleared.
#[server(prefix = "/api/auth", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    flows::logout().await
}

/// The logged-in user, from the `access_token` cookie.
#[server(prefix = "/api/auth", endpoint = "me", input = server_fn::codec::GetUrl)]
pub async fn me() -> Result<User, AppError> {
    flows::me().await
}
