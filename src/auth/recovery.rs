//! [ssr] Account recovery: a reset link by mail for a forgotten password, and the reset itself.
//!
//! Asking for a link answers the same, at once, whether or not the address has an account: the
//! lookup, the per-account cap and the mail happen after the answer. Opening the link spends
//! nothing (mail scanners and link previews fetch links); only the form's POST does, in one
//! transaction with the new password, the end of every session, the cleared lockout and the
//! notice. The reset logs the person in on this device: they have just proved they read the
//! account's mail and chose its password, which is what a login proves; sending them to log in
//! again would only ask for the password they typed a second ago. Unless the account has a
//! second factor: the mailbox is not one, so the password is set and the browser goes on to
//! the second step, as after a login's password.

use super::{
    addresses::cap_wait,
    links::{self, link_path, link_state},
    login::{account_key, admit_hashing},
    request::{new_id, CurrentRequest},
    second_factor::{self, Gate},
};
use crate::{
    credentials::{mail_tokens::MailToken, password_policy},
    security::limits,
    domain::{Email, Password, User, Username},
    error::AppError,
    mail::letters::{Circumstances, Letter},
    state::AppState,
    store::{
        AccountToken, EventKind, PasswordReset, ResetOutcome, StoreError, TokenPurpose,
        TokenState, UserKey,
    },
};
use std::{
    sync::{Mutex, PoisonError},
    time::Duration,
};

/// Reset mails one requester (an address, a /64 for IPv6) may have sent to one account per hour,
/// counted by every instance together: enough for a lost mail or two.
pub const RESET_MAILS_PER_HOUR: u32 = 3;
/// Reset mails one account may be sent per hour from everyone together: too few to bury its
/// owner's inbox.
pub const RESET_MAILS_PER_ACCOUNT_HOUR: u32 = 10;

pub async fn request_password_reset(email: Email) -> Result<(), AppError> {
    let request = CurrentRequest::current()?;
    let about = request.circumstances();
    let requester = limits::hashing_claimant(request.client_ip());
    let state = request.state.clone();
    // The answer does not wait for the lookup: known and unknown addresses are answered alike
    // and in the same time, and a slow mail server delays nobody.
    let mailer_state = state.clone();
    state.mailer.after_answer("password reset", async move {
        send_reset_link(&mailer_state, &email, &requester, about).await
    });
    request.redirect_plain_form("/forgot?sent=1");
    Ok(())
}

async fn send_reset_link(
    state: &AppState,
    email: &Email,
    requester: &str,
    about: Circumstances,
) -> Result<(), StoreError> {
    let store = &state.store;
    let Some(user) = store.find_user_by(UserKey::Email(&email.key())).await? else {
        return Ok(());
    };
    let now = about.when;
    // Two caps: one per requester, so that a stranger spends only their own share and the
    // owner's request still gets through; and a higher one per account, so that many strangers
    // together cannot bury its inbox.
    let caps = [
        (format!("reset-mail:{}:{requester}", user.id), RESET_MAILS_PER_HOUR),
        (format!("reset-mail:{}", user.id), RESET_MAILS_PER_ACCOUNT_HOUR),
    ];
    for (name, max) in caps {
        if cap_wait(state, &name, max, Duration::from_secs(3600))
            .await?
            .is_some()
        {
            tracing::info!(user_id = %user.id, "reset mail not sent: an hourly cap is reached");
            return Ok(());
        }
    }
    let token = MailToken::generate();
    let valid_for = state.config.mail.password_reset_expiry;
    let link = state
        .mailer
        .link(&link_path(TokenPurpose::PasswordReset, &token));
    let mut mail = Letter::PasswordReset { link, valid_for }.to(&user.email, &about, new_id());
    mail.discard_after = Some(now + valid_for);
    let record = AccountToken {
        token_hash: token.hash(),
        user_id: user.id.clone(),
        purpose: TokenPurpose::PasswordReset,
        credential_version: user.credential_version,
        created_at: now,
        expires_at: now + valid_for,
        email_was: user.email.clone(),
        email_to: None,
        code_hash: None,
    };
    store
        .issue_account_tokens(std::slice::from_ref(&record), std::slice::from_ref(&mail))
        .await?;
    state.mailer.queued();
    tracing::info!(user_id = %user.id, mail_id = %mail.id, "password reset mail queued");
    Ok(())
}

pub async fn reset_password(token: String, new_password: Password) -> Result<User, AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let token = MailToken::parse(&token).ok_or_else(|| refused(&TokenState::Invalid))?;
    let token_hash = token.hash();
    let user_id = match link_state(state, token.expose(), TokenPurpose::PasswordReset).await? {
        TokenState::Usable { user_id, .. } => user_id,
        other => return Err(refused(&other)),
    };
    let user = state
        .store
        .find_user(&user_id)
        .await?
        .ok_or_else(|| refused(&TokenState::Invalid))?;
    // Stored names were valid when stored; the policy needs them as validated types.
    let username = Username::parse(&user.username)?;
    let email = Email::parse(&user.email)?;
    let password_hash = {
        let _place = admit_hashing(&request, Some(&account_key(&user)))?;
        let (new, _, _) = password_policy::check_off_thread(
            state.passwords.workers(),
            new_password,
            username,
            email,
        )
        .await
        .map_err(|e| e.for_field("new_password"))?;
        state.passwords.hash(new.expose()).await?
    };
    let about = request.circumstances();
    let notice = Letter::PasswordChangedByReset {
        forgot: state.mailer.link("/forgot"),
    }
    .to(&user.email, &about, new_id());
    let budget_keys = [state.limits.budget_key(&account_key(&user))];
    let at = about.when;
    let event = request.event(EventKind::PasswordReset, &user.id, at);
    let without_session = PasswordReset {
        token_hash: &token_hash,
        user_id: &user.id,
        password_hash: &password_hash,
        budget_keys: &budget_keys,
        session: None,
        notice: &notice,
        event: &event,
        at,
    };
    // The mailbox is no second factor: an account that has one is not signed in by the link.
    // Its password is set all the same, and this browser goes on to the second step.
    let admitted = match second_factor::after_password(&request, &user).await? {
        Gate::Open(admitted) => admitted,
        Gate::SecondStep => {
            match state.endings().reset_password(&without_session).await? {
                ResetOutcome::Done { .. } => {}
                ResetOutcome::Refused(why) => return Err(refused(&why)),
            }
            state.mailer.queued();
            tracing::info!(user_id = %user.id, "password reset; second step asked for");
            let version = user.credential_version + 1;
            return Err(second_factor::start_second_step(&request, &user, version).await?);
        }
    };
    // What the store found, when it refused: the token was spent or outdated meanwhile.
    let refusal = Mutex::new(None);
    let applied = request
        .start_session(&user, &admitted, at, |session| {
            let (refusal, without_session, event) = (&refusal, &without_session, &event);
            async move {
                let reset = PasswordReset {
                    session: Some(&session),
                    event: &event.clone().about(&session.id),
                    ..*without_session
                };
                match state.endings().reset_password(&reset).await? {
                    ResetOutcome::Done { .. } => Ok(()),
                    ResetOutcome::Refused(why) => {
                        *refusal.lock().unwrap_or_else(PoisonError::into_inner) = Some(why);
                        // No cookies for a reset that did not happen.
                        Err(StoreError::CredentialsChanged)
                    }
                }
            }
        })
        .await;
    if let Some(why) = refusal.into_inner().unwrap_or_else(PoisonError::into_inner) {
        return Err(refused(&why));
    }
    applied?;
    state.mailer.queued();
    request.trust_device(&user.id, user.credential_version + 1);
    tracing::info!(user_id = %user.id, "password reset");
    request.redirect_plain_form("/profile?reset=1");
    Ok(user.to_public())
}

fn refused(state: &TokenState) -> AppError {
    links::refused(TokenPurpose::PasswordReset, state)
}
