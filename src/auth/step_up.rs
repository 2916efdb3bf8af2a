//! [ssr] Confirming who is behind a session (step-up): the password, and the second factor
//! when the account has one, prove it for `STEP_UP_WINDOW`, which sensitive changes ask for
//! (see `second_factor::require_recent_proof`).

use super::{
    login::confirm_owner,
    request::{now, CurrentRequest},
    second_factor::check_code,
};
use crate::{
    domain::TypedPassword,
    error::AppError,
};

/// `POST confirm_identity`: the password, and a code when the account has an authenticator
/// app, prove that the person behind this session is its owner, for `STEP_UP_WINDOW`. One of
/// the account's passkeys does it alone (`passkeys::confirm_finish`).
pub async fn confirm_identity(password: TypedPassword, code: String) -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let user = confirm_owner(
        &request,
        &claims,
        &password,
        ("password", "That is not your password."),
    )
    .await?;
    let factors = request.state.store.factor_summary(&user.id).await?;
    if factors.totp {
        if code.trim().is_empty() {
            return Err(AppError::invalid_input(
                "code",
                "Enter the code from your authenticator app, or a recovery code.",
            ));
        }
        check_code(&request, &user, &code).await?;
    }
    request
        .state
        .store
        .session_verified(&user.id, &claims.sid, now().unix_timestamp())
        .await?
        .then_some(())
        .ok_or_else(AppError::session_ended)?;
    tracing::info!(user_id = %user.id, "identity confirmed");
    // Without JavaScript, back to the page the change was refused on, to try it again.
    request.redirect_plain_form(request.referring_page().as_str());
    Ok(())
}
