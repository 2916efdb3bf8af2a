//! [ssr] The second factor at every door: no session starts without it once an account has
//! one, and no sensitive change is made without a recent proof of who is asking.
//!
//! A session starts only through [`CurrentRequest::start_session`], which takes an [`Admitted`];
//! one is made here alone: for a new account (no factor yet), after a password when the account
//! has no second factor, or once the second step is done. A right password on an account with a
//! factor (at login, or a reset link's new password) gets a second step instead: a single-use,
//! five-minute challenge bound to this browser by an httpOnly cookie, which a code (an
//! authenticator app's or a recovery code) or a passkey completes.
//!
//! Wrong codes draw on a failure budget in the database, like wrong passwords, so codes guessed
//! in parallel, on any instance, are capped; a right code is accepted once (its time step, or
//! the recovery code, is spent in one statement).

use super::{
    admission::Admitted,
    current_user::account,
    request::{new_id, now, CurrentRequest},
    sign_in::start_login_session,
};
use crate::{
    credentials::{cookies::Kind, factors::Authenticator, mail_tokens::MailToken},
    mail::letters::Letter,
    error::{
        AppError, ErrorCode, FACTOR_CODE_WRONG, MFA_REQUIRED, SECOND_STEP_GONE, STEP_UP_REQUIRED,
    },
    store::{ChallengePurpose, ChallengeRecord, EventKind, Reservation, SignInMethod, UserRecord},
};
use std::time::Duration;

/// How long a second step waits for its code.
pub const SECOND_STEP_LIFETIME: Duration = Duration::from_secs(300);

/// What a right password leads to.
pub(super) enum Gate {
    /// A session, the password being all the account asks for.
    Open(Admitted),
    /// A second step first.
    SecondStep,
}

/// Whether a right password (or a reset link's new one) may start a session for `user`.
pub(super) async fn after_password(
    request: &CurrentRequest,
    user: &UserRecord,
) -> Result<Gate, AppError> {
    let factors = request.state.store.factor_summary(&user.id).await?;
    Ok(if factors.second_factor() {
        Gate::SecondStep
    } else {
        Gate::Open(Admitted::granted(SignInMethod::Password))
    })
}

/// Starts the second step in this browser for `user`, whose password was proved under
/// `credential_version`, and returns the answer to give (`mfa_required`).
pub(super) async fn start_second_step(
    request: &CurrentRequest,
    user: &UserRecord,
    credential_version: i64,
) -> Result<AppError, AppError> {
    let at = now().unix_timestamp();
    let value = MailToken::generate();
    request
        .state
        .store
        .put_challenge(&ChallengeRecord {
            id_hash: value.hash(),
            purpose: ChallengePurpose::SecondStep.as_str().to_owned(),
            user_id: Some(user.id.clone()),
            credential_version: Some(credential_version),
            state: None,
            created_at: at,
            expires_at: at + SECOND_STEP_LIFETIME.as_secs() as i64,
        })
        .await?;
    request.set_challenge(Kind::Challenge, value.expose(), SECOND_STEP_LIFETIME);
    tracing::info!(user_id = %user.id, "password right; second step asked for");
    Ok(AppError::new(ErrorCode::MfaRequired, MFA_REQUIRED))
}

/// The account of the second step this browser is in, if any and still open.
async fn pending_second_step(request: &CurrentRequest) -> Result<UserRecord, AppError> {
    let id_hash = pending_hash(request).ok_or_else(second_step_gone)?;
    let challenge = request
        .state
        .store
        .challenge(&id_hash, ChallengePurpose::SecondStep, now().unix_timestamp())
        .await?
        .ok_or_else(second_step_gone)?;
    owner_of(request, &challenge).await
}

/// The account a second step is of, while it can sign in (not deleted, not disabled).
async fn owner_of(request: &CurrentRequest, challenge: &ChallengeRecord) -> Result<UserRecord, AppError> {
    let user_id = challenge.user_id.as_deref().ok_or_else(second_step_gone)?;
    account(&request.state, user_id)
        .await
        .map_err(|_| second_step_gone())
}

fn second_step_gone() -> AppError {
    AppError::new(ErrorCode::TokenExpired, SECOND_STEP_GONE)
}

/// What the second step may be done with, for the page.
pub async fn second_step_methods() -> Result<crate::domain::SecondStepOptions, AppError> {
    let request = CurrentRequest::current()?;
    let user = pending_second_step(&request).await?;
    let factors = request.state.store.factor_summary(&user.id).await?;
    Ok(crate::domain::SecondStepOptions {
        totp: factors.totp,
        passkey: factors.passkeys > 0,
    })
}

/// `POST second_step`: the code that completes this browser's login.
pub async fn complete_second_step(code: String) -> Result<crate::domain::User, AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    // Taken before the code is checked, so that a code is spent only by the request that can
    // sign in with it: of several requests carrying one step, the others are refused without
    // spending theirs. A wrong code puts the step back, for the person to try again.
    let challenge = state
        .store
        .take_challenge(
            &pending_hash(&request).ok_or_else(second_step_gone)?,
            ChallengePurpose::SecondStep,
            now().unix_timestamp(),
        )
        .await?
        .ok_or_else(second_step_gone)?;
    let user = owner_of(&request, &challenge).await?;
    let version = challenge.credential_version.unwrap_or(user.credential_version);
    if version != user.credential_version {
        // The password changed since it was typed: this step can never sign in.
        request.clear_challenge(Kind::Challenge);
        return Err(AppError::invalid_credentials());
    }
    let method = match check_code(&request, &user, &code).await {
        Ok(method) => method,
        Err(refused) => {
            state.store.put_challenge(&challenge).await?;
            return Err(refused);
        }
    };
    request.clear_challenge(Kind::Challenge);
    start_login_session(&request, &user, version, Admitted::granted(method)).await?;
    Ok(user.to_public())
}

/// The hash of this browser's challenge cookie, if it carries one.
fn pending_hash(request: &CurrentRequest) -> Option<String> {
    request
        .cookie(Kind::Challenge)
        .and_then(MailToken::parse)
        .map(|value| value.hash())
}

/// Checks a code of `user`'s: six digits are the authenticator app's, anything else a recovery
/// code. A wrong one draws on the account's second-factor budget (`Retry-After` when spent);
/// a right one is spent, and costs nothing.
pub(super) async fn check_code(
    request: &CurrentRequest,
    user: &UserRecord,
    code: &str,
) -> Result<SignInMethod, AppError> {
    let state = &request.state;
    let code = code.trim();
    if code.is_empty() || code.len() > 64 {
        return Err(AppError::invalid_input("code", FACTOR_CODE_WRONG));
    }
    // As for passwords: a browser that logged in to the account before has a budget of its
    // own, so strangers who know the password cannot lock its owner's browser out.
    let device = request.trusted_device(user);
    let budget = match &device {
        Some(device) => format!("second-factor:{}", device.budget()),
        None => format!("second-factor:user:{}", user.id),
    };
    let key = state.limits.budget_key(&budget);
    let at = now().unix_timestamp();
    let (generation, last) = match state
        .store
        .reserve_attempt(&key, at, state.limits.failures)
        .await?
    {
        Reservation::Granted { generation, last } => (generation, last),
        Reservation::Exhausted { until } => {
            let wait = Duration::from_secs(u64::try_from(until.saturating_sub(at)).unwrap_or(0));
            request.set_retry_after(wait);
            return Err(AppError::rate_limited_for("for codes on this account", wait));
        }
    };
    let digits = code.chars().filter(|c| !c.is_whitespace()).count() == 6
        && code.chars().all(|c| c.is_ascii_digit() || c.is_whitespace());
    let right = if digits {
        authenticator_code(request, user, code, at).await?
    } else {
        let hash = state.factors.recovery_code_hash(code);
        let event = request.event(EventKind::RecoveryCodeUsed, &user.id, now());
        state
            .store
            .spend_recovery_code(&user.id, &hash, &event)
            .await?
            .then_some(SignInMethod::PasswordAndRecoveryCode)
    };
    match right {
        Some(method) => {
            state.store.refund_attempt(&key, generation).await?;
            Ok(method)
        }
        None => {
            let event = request.event(EventKind::SecondFactorFailed, &user.id, now());
            state.store.record_event(&event).await?;
            // The wrong code that spent the strangers' budget: the password is known to
            // someone, and its owner hears of it, once per window.
            if last && device.is_none() {
                let notice = Letter::CodesLocked {
                    forgot: state.mailer.link("/forgot"),
                    for_how_long: state.limits.failures.window,
                }
                .to(&user.email, &request.circumstances(), new_id());
                state.store.queue_mail(&notice).await?;
                state.mailer.queued();
            }
            Err(AppError::invalid_input("code", FACTOR_CODE_WRONG))
        }
    }
}

/// Whether `code` is the account's authenticator code at `at`, spending its time step.
async fn authenticator_code(
    request: &CurrentRequest,
    user: &UserRecord,
    code: &str,
    at: i64,
) -> Result<Option<SignInMethod>, AppError> {
    let state = &request.state;
    let Some(factor) = state.store.totp_factor(&user.id).await? else {
        return Ok(None);
    };
    if factor.confirmed_at.is_none() {
        return Ok(None);
    }
    let Some(secret) = state.factors.open(&user.id, &factor.secret) else {
        tracing::error!(user_id = %user.id,
            "an authenticator secret cannot be opened: FACTOR_SECRET changed since it was sealed");
        return Ok(None);
    };
    let Some(step) = Authenticator::new(secret, &user.email).check(code, at) else {
        return Ok(None);
    };
    Ok(state
        .store
        .spend_totp_step(&user.id, step)
        .await?
        .then_some(SignInMethod::PasswordAndCode))
}

/// For a sensitive change: the session must have proved who is behind it (its login, or a
/// confirmation since) within `STEP_UP_WINDOW`. `password_typed` says the request carried the
/// account's password, checked already: for an account with no second factor, that is the
/// whole proof there is.
pub(super) async fn require_recent_proof(
    request: &CurrentRequest,
    user: &UserRecord,
    session_id: &str,
    password_typed: bool,
) -> Result<(), AppError> {
    let state = &request.state;
    if password_typed && !state.store.factor_summary(&user.id).await?.second_factor() {
        return Ok(());
    }
    let proof = state
        .store
        .session_proof(&user.id, session_id)
        .await?
        .ok_or_else(AppError::session_ended)?;
    let window = state.config.step_up_window.as_secs() as i64;
    let recent = proof
        .verified_at
        .is_some_and(|at| now().unix_timestamp() - at <= window);
    if recent {
        Ok(())
    } else {
        Err(AppError::new(ErrorCode::StepUpRequired, STEP_UP_REQUIRED))
    }
}
