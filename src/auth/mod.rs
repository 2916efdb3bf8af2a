//! The endpoints of the contract, as server functions under `/api/auth`. Each one parses
//! its input into validated types at the boundary and hands over to the module that does it
//! (server only): [`login`], [`rotation`], [`current_user`], [`sessions`], [`account`].
//! Arguments default to empty, so a missing field is reported by the field's own validation
//! (400 `invalid_input` naming it) rather than by the framework.

use crate::{
    domain::{
        ActivityEntry, FactorStatus, PasskeyInfo, SecondStepOptions, SessionInfo, TotpEnrolment,
        User,
    },
    error::AppError,
};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

server_only! {
    use crate::domain::{Email, FullName, LoginName, PasskeyName, Password, TypedPassword, Username};
    mod account;
    mod admission;
    mod activity;
    mod authenticator;
    mod addresses;
    mod current_user;
    pub mod endings;
    mod links;
    mod login;
    mod passkeys;
    mod recovery;
    mod request;
    mod resume;
    mod rotation;
    mod second_factor;
    mod sign_in;
    mod step_up;
    mod sessions;
    pub use current_user::{me_route, ME_PATH};
    pub use links::link_detour;
    pub use resume::{detour, resume_route, RESUME_PATH};
}

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
    login::register(email, username, full_name, password).await
}

/// Logs in with an email or username and a password.
#[server(prefix = "/api/auth", endpoint = "login")]
pub async fn login(
    #[server(default)] login: String,
    #[server(default)] password: String,
) -> Result<User, AppError> {
    let login = LoginName::parse(&login)?;
    let password = TypedPassword::parse("password", &password)?;
    login::login(login, password).await
}

/// What this browser's login waiting for its second step can be completed with.
#[server(prefix = "/api/auth", endpoint = "second_step", input = server_fn::codec::GetUrl)]
pub async fn second_step() -> Result<SecondStepOptions, AppError> {
    second_factor::second_step_methods().await
}

/// Completes a login waiting for its second step (`mfa_required`) with a `code`: the
/// authenticator app's six digits, or a recovery code.
#[server(prefix = "/api/auth", endpoint = "complete_login")]
pub async fn complete_login(#[server(default)] code: String) -> Result<User, AppError> {
    second_factor::complete_second_step(code).await
}

/// Proves, for `STEP_UP_WINDOW`, that the person behind this session is its owner: the
/// password, and the authenticator's `code` when the account has one.
#[server(prefix = "/api/auth", endpoint = "confirm_identity")]
pub async fn confirm_identity(
    #[server(default)] password: String,
    #[server(default)] code: String,
) -> Result<(), AppError> {
    let password = TypedPassword::parse("password", &password)?;
    step_up::confirm_identity(password, code).await
}

/// What protects the caller's account besides its password.
#[server(prefix = "/api/auth", endpoint = "factors", input = server_fn::codec::GetUrl)]
pub async fn factors() -> Result<FactorStatus, AppError> {
    authenticator::factors().await
}

/// Starts setting up an authenticator app: its secret, as a QR code and as text.
#[server(prefix = "/api/auth", endpoint = "totp_begin")]
pub async fn totp_begin() -> Result<TotpEnrolment, AppError> {
    authenticator::begin().await
}

/// Turns the authenticator app on with its first right `code`; answers the recovery codes.
#[server(prefix = "/api/auth", endpoint = "totp_confirm")]
pub async fn totp_confirm(#[server(default)] code: String) -> Result<Vec<String>, AppError> {
    authenticator::confirm(code).await
}

/// Turns the authenticator app off.
#[server(prefix = "/api/auth", endpoint = "totp_disable")]
pub async fn totp_disable() -> Result<(), AppError> {
    authenticator::disable().await
}

/// Ten new recovery codes; the old ones stop working.
#[server(prefix = "/api/auth", endpoint = "recovery_codes")]
pub async fn recovery_codes() -> Result<Vec<String>, AppError> {
    authenticator::new_recovery_codes().await
}

/// The caller's passkeys.
#[server(prefix = "/api/auth", endpoint = "passkeys", input = server_fn::codec::GetUrl)]
pub async fn passkeys() -> Result<Vec<PasskeyInfo>, AppError> {
    passkeys::list().await
}

/// Starts adding a passkey: the options for `navigator.credentials.create`, WebAuthn JSON.
#[server(prefix = "/api/auth", endpoint = "passkey_add_begin")]
pub async fn passkey_add_begin() -> Result<String, AppError> {
    passkeys::add_begin().await
}

/// Adds the passkey the browser made (`credential`, WebAuthn JSON), named `name`.
#[server(prefix = "/api/auth", endpoint = "passkey_add_finish")]
pub async fn passkey_add_finish(
    #[server(default)] credential: String,
    #[server(default)] name: String,
) -> Result<PasskeyInfo, AppError> {
    let name = PasskeyName::parse(&name)?;
    passkeys::add_finish(credential, name).await
}

/// Removes the caller's passkey `id`.
#[server(prefix = "/api/auth", endpoint = "passkey_remove")]
pub async fn passkey_remove(#[server(default)] id: String) -> Result<(), AppError> {
    passkeys::remove(id).await
}

/// Starts a sign-in with a passkey: the options for `navigator.credentials.get`.
#[server(prefix = "/api/auth", endpoint = "passkey_login_begin")]
pub async fn passkey_login_begin() -> Result<String, AppError> {
    passkeys::login_begin().await
}

/// Starts confirming who is behind this session with one of its passkeys (step-up): the
/// options for `navigator.credentials.get`.
#[server(prefix = "/api/auth", endpoint = "passkey_confirm_begin")]
pub async fn passkey_confirm_begin() -> Result<String, AppError> {
    passkeys::confirm_begin().await
}

/// Confirms who is behind this session with the passkey the browser used (`credential`,
/// WebAuthn JSON), for `STEP_UP_WINDOW`.
#[server(prefix = "/api/auth", endpoint = "passkey_confirm_finish")]
pub async fn passkey_confirm_finish(#[server(default)] credential: String) -> Result<(), AppError> {
    passkeys::confirm_finish(credential).await
}

/// Signs in with the passkey the browser used (`credential`, WebAuthn JSON).
#[server(prefix = "/api/auth", endpoint = "passkey_login_finish")]
pub async fn passkey_login_finish(#[server(default)] credential: String) -> Result<User, AppError> {
    passkeys::login_finish(credential).await
}

/// Exchanges the `refresh_token` cookie for a new pair (rotation).
#[server(prefix = "/api/auth", endpoint = "refresh")]
pub async fn refresh() -> Result<Refreshed, AppError> {
    rotation::refresh().await
}

/// Ends this session: its refresh token is revoked and both cookies are cleared.
#[server(prefix = "/api/auth", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    sessions::logout().await
}

/// The logged-in user, from the `access_token` cookie. Pages call it as a function while they
/// render; over HTTP, `GET /api/auth/me` is answered by `me_route` with the same JSON.
#[server(prefix = "/api/auth", endpoint = "me", input = server_fn::codec::GetUrl)]
pub async fn me() -> Result<User, AppError> {
    current_user::me().await
}

/// The caller's live sessions, newest first, the current one marked.
#[server(prefix = "/api/auth", endpoint = "sessions", input = server_fn::codec::GetUrl)]
pub async fn sessions() -> Result<Vec<SessionInfo>, AppError> {
    sessions::sessions().await
}

/// What happened to the caller's account lately, newest first: logins, failed ones, logouts,
/// changes of password and address, and an administrator's actions.
#[server(prefix = "/api/auth", endpoint = "activity", input = server_fn::codec::GetUrl)]
pub async fn activity() -> Result<Vec<ActivityEntry>, AppError> {
    activity::activity().await
}

/// Ends one of the caller's sessions (the current one too: that is a logout).
#[server(prefix = "/api/auth", endpoint = "revoke_session")]
pub async fn revoke_session(#[server(default)] session_id: String) -> Result<(), AppError> {
    if session_id.trim().is_empty() {
        return Err(AppError::invalid_input(
            "session_id",
            "Choose the session to end.",
        ));
    }
    sessions::revoke_session(session_id).await
}

/// Ends every session of the caller, this one included.
#[server(prefix = "/api/auth", endpoint = "logout_all")]
pub async fn logout_all() -> Result<(), AppError> {
    sessions::logout_all().await
}

/// Changes the username and full name. A new `email` (optional) is not taken at once: a link
/// goes to it, and the account moves when it is opened (`confirm_email_change`); the answer
/// still shows the current address.
#[server(prefix = "/api/auth", endpoint = "update_profile")]
pub async fn update_profile(
    #[server(default)] username: String,
    #[server(default)] full_name: String,
    #[server(default)] email: String,
) -> Result<User, AppError> {
    let username = Username::parse(&username)?;
    let full_name = FullName::parse(&full_name)?;
    let email = match email.trim() {
        "" => None,
        typed => Some(Email::parse(typed)?),
    };
    account::update_profile(username, full_name, email).await
}

/// Changes the password: this session goes on with a fresh pair, every other one ends.
#[server(prefix = "/api/auth", endpoint = "change_password")]
pub async fn change_password(
    #[server(default)] current_password: String,
    #[server(default)] new_password: String,
) -> Result<(), AppError> {
    let current_password = TypedPassword::parse("current_password", &current_password)?;
    let new_password = Password::parse(&new_password).map_err(|e| e.for_field("new_password"))?;
    account::change_password(current_password, new_password).await
}

/// Deletes the account, its sessions and tokens, once the password confirms it.
#[server(prefix = "/api/auth", endpoint = "delete_account")]
pub async fn delete_account(#[server(default)] password: String) -> Result<(), AppError> {
    let password = TypedPassword::parse("password", &password)?;
    account::delete_account(password).await
}

/// Sends a link to choose a new password to `email`, if an account uses it. The answer is the
/// same, in the same time, whether one does or not.
#[server(prefix = "/api/auth", endpoint = "request_password_reset")]
pub async fn request_password_reset(#[server(default)] email: String) -> Result<(), AppError> {
    let email = Email::parse(&email)?;
    recovery::request_password_reset(email).await
}

/// Proves the account's address: with the `token` of the link mailed to it (no session needed),
/// or with the six-digit `code` from that mail, for the signed-in account or, signed out, the
/// account `login` names.
#[server(prefix = "/api/auth", endpoint = "verify_email")]
pub async fn verify_email(
    #[server(default)] token: String,
    #[server(default)] code: String,
    #[server(default)] login: String,
) -> Result<(), AppError> {
    match (token.trim().is_empty(), code.trim().is_empty()) {
        (false, _) => addresses::verify_by_link(token).await,
        (true, false) => addresses::verify_by_code(code, optional_login(&login)?).await,
        (true, true) => Err(AppError::invalid_input("code", crate::error::CODE_SHAPE)),
    }
}

/// Sends a new verification link and code: to the signed-in account or, signed out, to the
/// account `login` names (answered alike whether or not there is one).
#[server(prefix = "/api/auth", endpoint = "resend_verification")]
pub async fn resend_verification(#[server(default)] login: String) -> Result<(), AppError> {
    addresses::resend_verification(optional_login(&login)?).await
}

/// Moves the account to the address that the link's `token` was mailed to.
#[server(prefix = "/api/auth", endpoint = "confirm_email_change")]
pub async fn confirm_email_change(#[server(default)] token: String) -> Result<(), AppError> {
    addresses::confirm_email_change(token).await
}

/// With the `token` of the link mailed to the old address: cancels a pending address change,
/// or puts the old address back and logs every device out. `true` when it was put back.
#[server(prefix = "/api/auth", endpoint = "cancel_email_change")]
pub async fn cancel_email_change(#[server(default)] token: String) -> Result<bool, AppError> {
    addresses::cancel_email_change(token).await
}

/// An optional login name: empty is none.
#[cfg(feature = "ssr")]
fn optional_login(login: &str) -> Result<Option<LoginName>, AppError> {
    match login.trim() {
        "" => Ok(None),
        typed => LoginName::parse(typed).map(Some),
    }
}

/// Sets a new password with the token from a reset link: every session ends, the account's
/// lockout is lifted, and this device is logged in.
#[server(prefix = "/api/auth", endpoint = "reset_password")]
pub async fn reset_password(
    #[server(default)] token: String,
    #[server(default)] new_password: String,
) -> Result<User, AppError> {
    let new_password = Password::parse(&new_password).map_err(|e| e.for_field("new_password"))?;
    recovery::reset_password(token, new_password).await
}
