//! [ssr] Passkeys: added to an account from its security page, listed, removed; and a sign-in
//! with one alone, which counts as both factors (something held, unlocked by something known or
//! been). Each ceremony is two requests: its state waits in `challenges`, keyed by this browser's
//! challenge cookie, and is taken (single use) by the second.

use super::{
    admission::Admitted,
    current_user::account,
    request::{new_id, now, CurrentRequest},
    second_factor::{require_recent_proof, SECOND_STEP_LIFETIME},
    sign_in::start_login_session,
};
use crate::{
    credentials::{cookies::Kind, mail_tokens::MailToken},
    domain::{PasskeyInfo, PasskeyName, User},
    error::{AppError, ErrorCode, EMAIL_UNVERIFIED},
    mail::letters::Letter,
    store::{ChallengePurpose, ChallengeRecord, EventKind, PasskeyRecord, SignInMethod, StoreError},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use webauthn_rs::prelude::{
    AuthenticationResult, DiscoverableAuthentication, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Uuid,
};

fn refused() -> AppError {
    AppError::new(
        ErrorCode::InvalidCredentials,
        "That passkey could not sign you in. Try again, or log in with your password.",
    )
}

fn ceremony_gone() -> AppError {
    AppError::new(
        ErrorCode::TokenExpired,
        "This took too long, or began in another tab. Please try again.",
    )
}

/// Starts a ceremony of `purpose` in this browser, keeping `state` for its second request.
async fn begin(
    request: &CurrentRequest,
    purpose: ChallengePurpose,
    user_id: Option<&str>,
    state: &impl serde::Serialize,
) -> Result<(), AppError> {
    let at = now().unix_timestamp();
    let value = MailToken::generate();
    let state = serde_json::to_string(state).map_err(|_| AppError::opaque_internal())?;
    request
        .state
        .store
        .put_challenge(&ChallengeRecord {
            id_hash: value.hash(),
            purpose: purpose.as_str().to_owned(),
            user_id: user_id.map(str::to_owned),
            credential_version: None,
            state: Some(state),
            created_at: at,
            expires_at: at + SECOND_STEP_LIFETIME.as_secs() as i64,
        })
        .await?;
    request.set_challenge(Kind::Ceremony, value.expose(), SECOND_STEP_LIFETIME);
    Ok(())
}

/// Takes this browser's ceremony of `purpose`: its account and state.
async fn take<T: serde::de::DeserializeOwned>(
    request: &CurrentRequest,
    purpose: ChallengePurpose,
) -> Result<(Option<String>, T), AppError> {
    let id_hash = request
        .cookie(Kind::Ceremony)
        .and_then(MailToken::parse)
        .ok_or_else(ceremony_gone)?
        .hash();
    let challenge = request
        .state
        .store
        .take_challenge(&id_hash, purpose, now().unix_timestamp())
        .await?
        .ok_or_else(ceremony_gone)?;
    request.clear_challenge(Kind::Ceremony);
    let state = challenge
        .state
        .as_deref()
        .and_then(|state| serde_json::from_str(state).ok())
        .ok_or_else(AppError::opaque_internal)?;
    Ok((challenge.user_id, state))
}

/// The passkey `id` of `user_id`, as webauthn-rs keeps it; refused as a sign-in when there is
/// no such passkey (never added, or removed).
async fn stored_passkey(request: &CurrentRequest, user_id: &str, id: &str) -> Result<Passkey, AppError> {
    let record = request
        .state
        .store
        .passkey(user_id, id)
        .await?
        .ok_or_else(refused)?;
    serde_json::from_str(&record.passkey).map_err(|_| AppError::opaque_internal())
}

/// Every passkey of `user_id`, as webauthn-rs keeps them.
async fn stored_passkeys(request: &CurrentRequest, user_id: &str) -> Result<Vec<Passkey>, AppError> {
    let records = request.state.store.passkeys_of(user_id).await?;
    Ok(records
        .iter()
        .filter_map(|record| serde_json::from_str(&record.passkey).ok())
        .collect())
}

fn credential_id(passkey: &Passkey) -> String {
    URL_SAFE_NO_PAD.encode(passkey.cred_id())
}

/// `GET passkeys`: the caller's passkeys.
pub async fn list() -> Result<Vec<PasskeyInfo>, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let passkeys = request.state.store.passkeys_of(&claims.sub).await?;
    Ok(passkeys.into_iter().map(info).collect())
}

pub(super) fn info(record: PasskeyRecord) -> PasskeyInfo {
    let rfc3339 = |at: i64| {
        time::OffsetDateTime::from_unix_timestamp(at)
            .ok()
            .and_then(|at| at.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_default()
    };
    PasskeyInfo {
        id: record.id,
        name: record.name,
        created_at: rfc3339(record.created_at),
        last_used_at: record.last_used_at.map(rfc3339),
    }
}

/// `POST passkey_add_begin`: the options for the browser's `navigator.credentials.create`, as
/// WebAuthn JSON (`{"publicKey": …}`).
pub async fn add_begin() -> Result<String, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let unique = Uuid::parse_str(&user.id).map_err(|_| AppError::opaque_internal())?;
    let existing = stored_passkeys(&request, &user.id)
        .await?
        .iter()
        .map(|passkey| passkey.cred_id().clone())
        .collect();
    let (options, registration) = state
        .passkeys
        .0
        .start_passkey_registration(unique, &user.username, &user.full_name, Some(existing))
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey registration");
            AppError::opaque_internal()
        })?;
    begin(&request, ChallengePurpose::PasskeyAdd, Some(&user.id), &registration).await?;
    // A passkey that names its account (discoverable), so that it signs in without a username.
    let mut options = serde_json::to_value(&options).map_err(|_| AppError::opaque_internal())?;
    if let Some(selection) = options
        .pointer_mut("/publicKey/authenticatorSelection")
        .and_then(serde_json::Value::as_object_mut)
    {
        selection.insert("residentKey".into(), "required".into());
        selection.insert("requireResidentKey".into(), true.into());
    }
    Ok(options.to_string())
}

/// `POST passkey_add_finish`: the browser's answer (`credential`, WebAuthn JSON) adds the
/// passkey, under `name`.
pub async fn add_finish(credential: String, name: PasskeyName) -> Result<PasskeyInfo, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let unreadable = || AppError::invalid_input("credential", "The browser's answer was not a passkey.");
    let credential: RegisterPublicKeyCredential =
        serde_json::from_str(&credential).map_err(|_| unreadable())?;
    let (owner, registration): (_, PasskeyRegistration) =
        take(&request, ChallengePurpose::PasskeyAdd).await?;
    if owner.as_deref() != Some(user.id.as_str()) {
        return Err(ceremony_gone());
    }
    let passkey = state
        .passkeys
        .0
        .finish_passkey_registration(&credential, &registration)
        .map_err(|e| {
            tracing::info!(user_id = %user.id, error = %e, "a passkey was refused");
            AppError::invalid_input("credential", "This passkey could not be added. Please try again.")
        })?;
    let record = PasskeyRecord {
        id: credential_id(&passkey),
        user_id: user.id.clone(),
        name: name.as_str().to_owned(),
        passkey: serde_json::to_string(&passkey).map_err(|_| AppError::opaque_internal())?,
        created_at: now().unix_timestamp(),
        last_used_at: None,
    };
    let event = request
        .event(EventKind::PasskeyAdded, &user.id, now())
        .about(&claims.sid);
    let notice = Letter::FactorsChanged {
        what: "a passkey was added",
        forgot: state.mailer.link("/forgot"),
    }
    .to(&user.email, &request.circumstances(), new_id());
    match state.store.add_passkey(&record, &event, &notice).await {
        Ok(()) => {}
        Err(StoreError::Taken(_)) => {
            return Err(AppError::conflict("credential", "This passkey is added already."))
        }
        Err(other) => return Err(other.into()),
    }
    state.mailer.queued();
    tracing::info!(user_id = %user.id, "passkey added");
    Ok(info(record))
}

/// `POST passkey_remove`: removes the caller's passkey `id`.
pub async fn remove(id: String) -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let user = account(state, &claims.sub).await?;
    require_recent_proof(&request, &user, &claims.sid, false).await?;
    let event = request
        .event(EventKind::PasskeyRemoved, &user.id, now())
        .about(&claims.sid);
    let notice = Letter::FactorsChanged {
        what: "a passkey was removed",
        forgot: state.mailer.link("/forgot"),
    }
    .to(&user.email, &request.circumstances(), new_id());
    if !state.store.remove_passkey(&user.id, &id, &event, &notice).await? {
        return Err(AppError::new(ErrorCode::NotFound, "There is no such passkey on your account."));
    }
    state.mailer.queued();
    request.redirect_plain_form("/security");
    Ok(())
}

/// `POST passkey_login_begin`: the options for `navigator.credentials.get`, for any passkey of
/// this site (the passkey names its account).
pub async fn login_begin() -> Result<String, AppError> {
    let request = CurrentRequest::current()?;
    let (options, authentication) = request
        .state
        .passkeys
        .0
        .start_discoverable_authentication()
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey sign-in");
            AppError::opaque_internal()
        })?;
    begin(&request, ChallengePurpose::PasskeyLogin, None, &authentication).await?;
    serde_json::to_string(&options).map_err(|_| AppError::opaque_internal())
}

/// `POST passkey_login_finish`: the browser's answer signs in, both factors at once.
pub async fn login_finish(credential: String) -> Result<User, AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let credential: PublicKeyCredential = serde_json::from_str(&credential).map_err(|_| refused())?;
    let (_, authentication): (_, DiscoverableAuthentication) =
        take(&request, ChallengePurpose::PasskeyLogin).await?;
    let (unique, id) = state
        .passkeys
        .0
        .identify_discoverable_authentication(&credential)
        .map_err(|_| refused())?;
    let id = URL_SAFE_NO_PAD.encode(id);
    let user = account(state, &unique.to_string())
        .await
        .map_err(|_| refused())?;
    let passkey = stored_passkey(&request, &user.id, &id).await?;
    let result = state
        .passkeys
        .0
        .finish_discoverable_authentication_v2(&credential, authentication, &passkey)
        .map_err(|e| {
            tracing::info!(user_id = %user.id, error = %e, "a passkey sign-in was refused");
            refused()
        })?;
    used(&request, &id, passkey, &result).await?;
    if state.config.mail.require_verified_email && user.email_verified_at.is_none() {
        return Err(AppError::new(ErrorCode::EmailUnverified, EMAIL_UNVERIFIED));
    }
    let version = user.credential_version;
    start_login_session(
        &request,
        &user,
        version,
        Admitted::granted(SignInMethod::Passkey),
    )
    .await?;
    // A login of this browser waiting for its second step is over, whoever it was for: the
    // passkey signed in on its own ("Use a passkey instead").
    if let Some(step) = request.cookie(Kind::Challenge).and_then(MailToken::parse) {
        state
            .store
            .take_challenge(&step.hash(), ChallengePurpose::SecondStep, now().unix_timestamp())
            .await?;
        request.clear_challenge(Kind::Challenge);
    }
    Ok(user.to_public())
}

/// Keeps what a sign-in with `passkey` taught (its signature counter, its backup state) and
/// when it was used.
async fn used(
    request: &CurrentRequest,
    id: &str,
    mut passkey: Passkey,
    result: &AuthenticationResult,
) -> Result<(), AppError> {
    passkey.update_credential(result);
    let updated = serde_json::to_string(&passkey).map_err(|_| AppError::opaque_internal())?;
    request
        .state
        .store
        .passkey_used(id, &updated, now().unix_timestamp())
        .await?;
    Ok(())
}

/// `POST passkey_confirm_begin`: the options for `navigator.credentials.get` that confirm who
/// is behind this session (step-up) with one of its account's passkeys.
pub async fn confirm_begin() -> Result<String, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let passkeys = stored_passkeys(&request, &claims.sub).await?;
    if passkeys.is_empty() {
        return Err(AppError::new(ErrorCode::NotFound, "There are no passkeys on your account."));
    }
    let (options, authentication) = state
        .passkeys
        .0
        .start_passkey_authentication(&passkeys)
        .map_err(|e| {
            tracing::error!(error = %e, "cannot start a passkey confirmation");
            AppError::opaque_internal()
        })?;
    // The session that asked is kept with the ceremony: only it is confirmed by the answer.
    let state_of_session = (&claims.sid, &authentication);
    begin(&request, ChallengePurpose::PasskeyConfirm, Some(&claims.sub), &state_of_session).await?;
    serde_json::to_string(&options).map_err(|_| AppError::opaque_internal())
}

/// `POST passkey_confirm_finish`: one of the account's passkeys proves, for `STEP_UP_WINDOW`,
/// that the person behind this session is its owner: it is both factors.
pub async fn confirm_finish(credential: String) -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let credential: PublicKeyCredential = serde_json::from_str(&credential).map_err(|_| refused())?;
    let (owner, (session, authentication)): (_, (String, PasskeyAuthentication)) =
        take(&request, ChallengePurpose::PasskeyConfirm).await?;
    if owner.as_deref() != Some(claims.sub.as_str()) || session != claims.sid {
        return Err(ceremony_gone());
    }
    let id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
    let passkey = stored_passkey(&request, &claims.sub, &id).await?;
    let result = state
        .passkeys
        .0
        .finish_passkey_authentication(&credential, &authentication)
        .map_err(|e| {
            tracing::info!(user_id = %claims.sub, error = %e, "a passkey confirmation was refused");
            refused()
        })?;
    used(&request, &id, passkey, &result).await?;
    state
        .store
        .session_verified(&claims.sub, &claims.sid, now().unix_timestamp())
        .await?
        .then_some(())
        .ok_or_else(AppError::session_ended)?;
    tracing::info!(user_id = %claims.sub, "identity confirmed with a passkey");
    Ok(())
}
