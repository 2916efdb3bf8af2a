//! [ssr] An account's authenticator app and recovery codes, managed from its profile: turned on
//! in two steps (a secret shown as a QR code and as text, then a first right code), turned off,
//! and new recovery codes. Each needs a recent proof of who is asking (see `second_factor`).

use super::{
    current_user::account,
    request::{now, CurrentRequest},
    second_factor::require_recent_proof,
};
use crate::{
    credentials::factors::{Authenticator, FactorKeys},
    domain::{FactorStatus, TotpEnrolment},
    error::{AppError, ErrorCode, FACTOR_CODE_WRONG},
    store::EventKind,
};

/// `GET factors`: what protects the caller's account besides its password: the app, its
/// codes, and the passkeys.
pub async fn factors() -> Result<FactorStatus, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let summary = state.store.factor_summary(&claims.sub).await?;
    let user = account(state, &claims.sub).await?;
    let recent_proof = match require_recent_proof(&request, &user, &claims.sid, false).await {
        Ok(()) => true,
        Err(e) if e.code == ErrorCode::StepUpRequired => false,
        Err(other) => return Err(other),
    };
    let mut pending = None;
    if !summary.totp && recent_proof {
        if let Some(factor) = state.store.totp_factor(&claims.sub).await? {
            if let Some(secret) = state.factors.open(&claims.sub, &factor.secret) {
                pending = Some(enrolment(Authenticator::new(secret, &user.email)));
            }
        }
    }
    let passkeys = state.store.passkeys_of(&claims.sub).await?;
    Ok(FactorStatus {
        totp: summary.totp,
        recovery_codes_left: summary.recovery_codes_left,
        pending,
        passkeys: passkeys.into_iter().map(super::passkeys::info).collect(),
        recent_proof,
    })
}

fn enrolment(app: Authenticator) -> TotpEnrolment {
    TotpEnrolment {
        secret: app.secret_text(),
        url: app.url(),
        qr_svg: app.qr_svg(),
    }
}

/// `POST totp_begin`: a new secret for the caller's authenticator app, waiting for its first
/// code. Asked again, it starts over with another secret.
pub async fn begin() -> Result<TotpEnrolment, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let secret = FactorKeys::new_secret();
    let sealed = state.factors.seal(&user.id, &secret);
    if !state
        .store
        .begin_totp(&user.id, &sealed, now().unix_timestamp())
        .await?
    {
        return Err(AppError::conflict(
            "code",
            "An authenticator app is on already. Turn it off first to set up another.",
        ));
    }
    // A plain post (the page's button) goes back to the page, which shows the enrolment.
    request.redirect_plain_form("/security");
    Ok(enrolment(Authenticator::new(secret, &user.email)))
}

/// `POST totp_confirm`: the first right code turns the app on; the answer is the ten recovery
/// codes, shown this once.
pub async fn confirm(code: String) -> Result<Vec<String>, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let pending = state
        .store
        .totp_factor(&user.id)
        .await?
        .filter(|factor| factor.confirmed_at.is_none())
        .ok_or_else(|| {
            AppError::conflict("code", "Start again: set up the authenticator app first.")
        })?;
    let secret = state
        .factors
        .open(&user.id, &pending.secret)
        .ok_or_else(AppError::opaque_internal)?;
    let step = Authenticator::new(secret, &user.email)
        .check(&code, now().unix_timestamp())
        .ok_or_else(|| AppError::invalid_input("code", FACTOR_CODE_WRONG))?;
    let (codes, hashes) = new_recovery_codes_for(state);
    let event = request
        .event(EventKind::TotpEnabled, &user.id, now())
        .about(&claims.sid);
    let changed = state
        .store
        .confirm_totp(
            &user.id,
            &pending.secret,
            step,
            &hashes,
            &event,
            &factors_changed(&request, &user, "it was turned on"),
        )
        .await?;
    if !changed {
        // Set up again meanwhile (another tab), or that step was spent: the code was for a
        // secret that is no longer the one waiting.
        return Err(AppError::conflict(
            "code",
            "The app was set up again meanwhile. Scan the new code and enter its code.",
        ));
    }
    state.mailer.queued();
    tracing::info!(user_id = %user.id, "authenticator app turned on");
    Ok(codes)
}

/// `POST totp_disable`: turns the app off, with its recovery codes.
pub async fn disable() -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let event = request
        .event(EventKind::TotpDisabled, &user.id, now())
        .about(&claims.sid);
    let notice = factors_changed(&request, &user, "it was turned off");
    if !state.store.remove_totp(&user.id, &event, &notice).await? {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "No authenticator app is on for this account.",
        ));
    }
    state.mailer.queued();
    tracing::info!(user_id = %user.id, "authenticator app turned off");
    request.redirect_plain_form("/security");
    Ok(())
}

/// `POST recovery_codes`: ten new codes; the old ones stop working.
pub async fn new_recovery_codes() -> Result<Vec<String>, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let (codes, hashes) = new_recovery_codes_for(state);
    let event = request
        .event(EventKind::RecoveryCodesReplaced, &user.id, now())
        .about(&claims.sid);
    if !state
        .store
        .replace_recovery_codes(
            &user.id,
            &hashes,
            &event,
            &factors_changed(&request, &user, "new recovery codes were made"),
        )
        .await?
    {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "Recovery codes come with an authenticator app: set one up first.",
        ));
    }
    state.mailer.queued();
    Ok(codes)
}

/// Ten new recovery codes, as shown to their owner and as stored.
fn new_recovery_codes_for(state: &crate::state::AppState) -> (Vec<String>, Vec<String>) {
    let codes = FactorKeys::new_recovery_codes();
    let hashes = codes
        .iter()
        .map(|code| state.factors.recovery_code_hash(code))
        .collect();
    (codes, hashes)
}

/// The owner's notice of a change to two-step verification (`what` happened), queued with it.
fn factors_changed(
    request: &CurrentRequest,
    user: &crate::store::UserRecord,
    what: &'static str,
) -> crate::store::OutgoingMail {
    crate::mail::letters::Letter::FactorsChanged {
        what,
        forgot: request.state.mailer.link("/forgot"),
    }
    .to(&user.email, &request.circumstances(), super::request::new_id())
}
