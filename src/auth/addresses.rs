//! [ssr] The account's address: proving it is the owner's (a link, or a six-digit code typed
//! where the person is signed in), and moving the account to a new one.
//!
//! A new address is not taken on the word of whoever holds a session: `update_profile` with a
//! new email sends a link to that address, and the account moves only when it is opened
//! (`confirm_email_change`). The current address hears of it at once, with a link that cancels
//! the change, and again once it is made, with a link that undoes it: a stolen session that
//! moves the account to its thief's mailbox (and then resets the password from there) is
//! undone by the owner from their own mailbox for a week.

use super::{
    current_user::account,
    links::{self, link_path, link_state, link_state_of},
    request::{new_id, now, CurrentRequest},
};
use crate::{
    credentials::mail_tokens::{MailCode, MailToken},
    domain::{Email, LoginName},
    error::{
        AppError, CODE_EXPIRED, CODE_SHAPE, CODE_WRONG, EMAIL_TAKEN_BY_ANOTHER, MOVE_BACK_BY_UNDO,
    },
    mail::letters::{Circumstances, Letter},
    state::AppState,
    store::{
        AccountToken, Budget, EmailChange, EmailChangeUndo, EventKind, OutgoingMail, Reservation, StoreError,
        TokenPurpose, TokenState, UndoOutcome, UserKey, UserRecord,
    },
};
use std::time::Duration;

/// How long a verification link and its code work.
pub const VERIFICATION_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long the link to a new address works.
pub const EMAIL_CHANGE_LIFETIME: Duration = Duration::from_secs(24 * 3600);
/// How long the old address can undo a change: long enough for an owner back from a holiday.
pub const UNDO_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);
/// Verification mails one account may be sent per hour on request (registration's is not
/// counted). Each one spends the account's earlier link and code.
pub const VERIFICATION_MAILS_PER_HOUR: u32 = 3;
/// Wrong codes one account may be sent in a day, the lifetime of a code. Only the newest code
/// works, a guess in a million each: at most five in a million a day that it is found.
pub const WRONG_CODES_PER_DAY: u32 = 5;
/// Address changes one account may ask for per hour (each sends two mails).
pub const EMAIL_CHANGES_PER_HOUR: u32 = 5;

const HOUR: Duration = Duration::from_secs(3600);

/// Reserves one use of the cap named `name` (`max` per `window`), shared by every instance;
/// when it is spent, how long until it has room again.
pub(super) async fn cap_wait(
    state: &AppState,
    name: &str,
    max: u32,
    window: Duration,
) -> Result<Option<Duration>, StoreError> {
    let key = state.limits.budget_key(name);
    let cap = Budget { max, window };
    let now = now().unix_timestamp();
    Ok(match state.store.reserve_attempt(&key, now, cap).await? {
        Reservation::Granted { .. } => None,
        Reservation::Exhausted { until } => Some(Duration::from_secs(
            u64::try_from(until.saturating_sub(now)).unwrap_or(0),
        )),
    })
}

/// A verification token (with its code) for `user`'s address now, and the mail carrying both.
pub(super) fn verification(
    state: &AppState,
    user: &UserRecord,
    about: &Circumstances,
) -> (AccountToken, OutgoingMail) {
    let token = MailToken::generate();
    let code = MailCode::generate();
    let link = state
        .mailer
        .link(&link_path(TokenPurpose::VerifyEmail, &token));
    let letter = Letter::VerifyEmail {
        link,
        code: code.expose().to_owned(),
        valid_for: VERIFICATION_LIFETIME,
    };
    let mut mail = letter.to(&user.email, about, new_id());
    mail.discard_after = Some(about.when + VERIFICATION_LIFETIME);
    let record = AccountToken {
        token_hash: token.hash(),
        user_id: user.id.clone(),
        purpose: TokenPurpose::VerifyEmail,
        credential_version: user.credential_version,
        created_at: about.when,
        expires_at: about.when + VERIFICATION_LIFETIME,
        email_was: user.email.clone(),
        email_to: None,
        code_hash: Some(state.limits.code_digest(&user.id, code.expose())),
    };
    (record, mail)
}

/// `POST verify_email` with the token of a verification link: needs no session (the link may be
/// opened on a phone that never logged in).
pub async fn verify_by_link(token: String) -> Result<(), AppError> {
    let request = CurrentRequest::current()?;
    let refused = |state: &TokenState| links::refused(TokenPurpose::VerifyEmail, state);
    let token = MailToken::parse(&token).ok_or_else(|| refused(&TokenState::Invalid))?;
    let state = &request.state;
    match state.store.verify_email(&token.hash(), now()).await? {
        TokenState::Usable { user_id, .. } => {
            state.users.forget(&user_id);
            tracing::info!(user_id = %user_id, "address verified by link");
            request.redirect_plain_form("/verify?done=1");
            Ok(())
        }
        other => Err(refused(&other)),
    }
}

/// `POST verify_email` with a code: for the signed-in account, or (signed out) the account
/// `login` names. Wrong codes draw on the account's daily budget, reserved before the code is
/// looked up, so however many are sent at once, on however many instances, no more than the
/// budget are ever checked; a right one gives its reservation back.
pub async fn verify_by_code(code: String, login: Option<LoginName>) -> Result<(), AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let code = MailCode::parse(&code)
        .ok_or_else(|| AppError::invalid_input("code", CODE_SHAPE))?;
    let at = now();
    let wrong = || {
        AppError::invalid_input(
            "code",
            CODE_WRONG,
        )
    };
    // Budgets reserved before the code is looked up, and given back only for a right code.
    let mut reserved = Vec::new();
    let user = match (request.authenticated(), login) {
        (Ok(claims), _) => {
            let user = account(state, &claims.sub).await?;
            match reserve_code(state, &format!("verify-code:{}", user.id), at).await? {
                Ok(held) => reserved.push(held),
                Err(wait) => return Err(too_many_codes(&request, wait)),
            }
            user
        }
        (Err(_), Some(login)) => {
            // Signed out, the name typed has a budget of its own, whether or not it names an
            // account, so a refusal says nothing about which names do. Then the account's,
            // shared by all its names and the signed-in form: once it is spent, every code is
            // answered "not right" unchecked, alike for an email and a username of one account.
            let (LoginName::Email(name) | LoginName::Username(name)) = &login;
            match reserve_code(state, &format!("verify-code:name:{name}"), at).await? {
                Ok(held) => reserved.push(held),
                Err(wait) => return Err(too_many_codes(&request, wait)),
            }
            let Some(user) = find_by_login(state, &login).await? else {
                return Err(wrong());
            };
            match reserve_code(state, &format!("verify-code:{}", user.id), at).await? {
                Ok(held) => reserved.push(held),
                Err(_) => return Err(wrong()),
            }
            user
        }
        (Err(refusal), None) => return Err(refusal),
    };
    let Some(token_hash) = state
        .store
        .verification_by_code(&user.id, &state.limits.code_digest(&user.id, code.expose()))
        .await?
    else {
        return Err(wrong());
    };
    match state.store.verify_email(&token_hash, at).await? {
        TokenState::Usable { .. } => {
            for (key, generation) in &reserved {
                state.store.refund_attempt(key, *generation).await?;
            }
            state.users.forget(&user.id);
            tracing::info!(user_id = %user.id, "address verified by code");
            let back = if request.authenticated().is_ok() {
                "/profile?verified=1"
            } else {
                "/verify?done=1"
            };
            request.redirect_plain_form(back);
            Ok(())
        }
        TokenState::Expired => Err(AppError::invalid_input(
            "code",
            CODE_EXPIRED,
        )),
        TokenState::Invalid => Err(wrong()),
    }
}

/// One wrong code's place in the daily budget named `name`: the budget's key and window, or
/// how long until it has room again.
async fn reserve_code(
    state: &AppState,
    name: &str,
    at: time::OffsetDateTime,
) -> Result<Result<(String, i64), Duration>, StoreError> {
    let key = state.limits.budget_key(name);
    let budget = Budget {
        max: WRONG_CODES_PER_DAY,
        window: VERIFICATION_LIFETIME,
    };
    let now = at.unix_timestamp();
    Ok(match state.store.reserve_attempt(&key, now, budget).await? {
        Reservation::Granted { generation, .. } => Ok((key, generation)),
        Reservation::Exhausted { until } => Err(Duration::from_secs(
            u64::try_from(until.saturating_sub(now)).unwrap_or(0),
        )),
    })
}

fn too_many_codes(request: &CurrentRequest, wait: Duration) -> AppError {
    request.set_retry_after(wait);
    AppError {
        field: Some("code".to_owned()),
        ..AppError::rate_limited_for("with codes: use the link in the mail", wait)
    }
}

/// `POST resend_verification`: a new link and code for the signed-in account, or (signed out)
/// for the account `login` names, answered alike whether or not it exists and after the answer.
/// Nothing is sent to an address that is verified already.
pub async fn resend_verification(login: Option<LoginName>) -> Result<(), AppError> {
    let request = CurrentRequest::current()?;
    let about = request.circumstances();
    let state = request.state.clone();
    match (request.authenticated(), login) {
        (Ok(claims), _) => {
            let user = account(&state, &claims.sub).await?;
            if let Some(wait) = send_verification(&state, &user, &about).await? {
                request.set_retry_after(wait);
                return Err(AppError::rate_limited_for("for mails to this address", wait));
            }
            request.redirect_plain_form("/verify?sent=1");
        }
        (Err(_), Some(login)) => {
            let worker = state.clone();
            state.mailer.after_answer("verification", async move {
                if let Some(user) = find_by_login(&worker, &login).await? {
                    send_verification(&worker, &user, &about).await?;
                }
                Ok(())
            });
            request.redirect_plain_form("/verify?sent=1");
        }
        (Err(refusal), None) => return Err(refusal),
    }
    Ok(())
}

async fn find_by_login(
    state: &AppState,
    login: &LoginName,
) -> Result<Option<UserRecord>, StoreError> {
    let key = match login {
        LoginName::Email(key) => UserKey::Email(key),
        LoginName::Username(name) => UserKey::Username(name),
    };
    state.store.find_user_by(key).await
}

/// Queues a verification for `user` unless the address is verified already; when the
/// account's hourly cap is spent, how long until it has room again.
async fn send_verification(
    state: &AppState,
    user: &UserRecord,
    about: &Circumstances,
) -> Result<Option<Duration>, StoreError> {
    if user.email_verified_at.is_some() {
        return Ok(None);
    }
    let cap = format!("verify-mail:{}", user.id);
    if let Some(wait) = cap_wait(state, &cap, VERIFICATION_MAILS_PER_HOUR, HOUR).await? {
        tracing::info!(user_id = %user.id, "verification mail not sent: the hourly cap is reached");
        return Ok(Some(wait));
    }
    let (token, mail) = verification(state, user, about);
    state
        .store
        .issue_account_tokens(std::slice::from_ref(&token), std::slice::from_ref(&mail))
        .await?;
    state.mailer.queued();
    tracing::info!(user_id = %user.id, mail_id = %mail.id, "verification mail queued");
    Ok(None)
}

/// Asks to move `user` to `email`: a link to the new address, and a notice with a cancel link
/// to the current one. Nothing changes until the link is opened.
pub(super) async fn request_email_change(
    request: &CurrentRequest,
    user: &UserRecord,
    email: &Email,
) -> Result<(), AppError> {
    let state = &request.state;
    // The cap first: answered "taken" or not, a request spends it, so the form is no faster a
    // way to learn which addresses have accounts than registering is.
    let cap = format!("email-change:{}", user.id);
    if let Some(wait) = cap_wait(state, &cap, EMAIL_CHANGES_PER_HOUR, HOUR).await? {
        request.set_retry_after(wait);
        return Err(AppError {
            field: Some("email".to_owned()),
            ..AppError::rate_limited_for("for address changes", wait)
        });
    }
    let key = email.key();
    let holder = state.store.find_user_by(UserKey::Email(&key)).await?;
    if holder.is_some_and(|holder| holder.id != user.id)
        || state.store.address_held(&key, &user.id, now()).await?
    {
        return Err(AppError::conflict("email", EMAIL_TAKEN_BY_ANOTHER));
    }
    // Back to an address this account left within the week: only the undo link mailed to it
    // may do that. Confirmed from that mailbox instead, the move back would keep whoever moved
    // the account away signed in, and mail them a fresh undo link to their own address.
    if state.store.address_held(&key, "", now()).await? {
        return Err(AppError::conflict("email", MOVE_BACK_BY_UNDO));
    }
    let about = request.circumstances();
    let at = about.when;
    let (confirm, undo) = (MailToken::generate(), MailToken::generate());
    let token = |purpose, hash, lifetime| AccountToken {
        token_hash: hash,
        user_id: user.id.clone(),
        purpose,
        credential_version: user.credential_version,
        created_at: at,
        expires_at: at + lifetime,
        email_was: user.email.clone(),
        email_to: Some(email.as_str().to_owned()),
        code_hash: None,
    };
    let tokens = [
        token(TokenPurpose::ChangeEmail, confirm.hash(), EMAIL_CHANGE_LIFETIME),
        // Cancels the pending change only, and dies once the address moves: the link that can
        // undo a made move is mailed when it is made, from inside that transaction.
        token(TokenPurpose::CancelEmailChange, undo.hash(), EMAIL_CHANGE_LIFETIME),
    ];
    let mut to_new = Letter::ConfirmNewEmail {
        link: state.mailer.link(&link_path(TokenPurpose::ChangeEmail, &confirm)),
        valid_for: EMAIL_CHANGE_LIFETIME,
    }
    .to(email.as_str(), &about, new_id());
    to_new.discard_after = Some(at + EMAIL_CHANGE_LIFETIME);
    let mut to_old = Letter::EmailChangeRequested {
        new: email.as_str().to_owned(),
        undo: state.mailer.link(&link_path(TokenPurpose::CancelEmailChange, &undo)),
    }
    .to(&user.email, &about, new_id());
    to_old.discard_after = Some(at + EMAIL_CHANGE_LIFETIME);
    state.store.issue_account_tokens(&tokens, &[to_new, to_old]).await?;
    state.mailer.queued();
    tracing::info!(user_id = %user.id, "address change asked for");
    Ok(())
}

/// `POST confirm_email_change`: the link mailed to the new address moves the account to it. No
/// session needed: the link proves the new address, and the change was asked for by a session.
pub async fn confirm_email_change(token: String) -> Result<(), AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let purpose = TokenPurpose::ChangeEmail;
    let token = MailToken::parse(&token)
        .ok_or_else(|| links::refused(purpose, &TokenState::Invalid))?;
    let (user_id, email_was, email_to) = match link_state(state, token.expose(), purpose).await? {
        TokenState::Usable {
            user_id,
            email_was,
            email_to: Some(email_to),
        } => (user_id, email_was, email_to),
        other => return Err(links::refused(purpose, &other)),
    };
    let new = Email::parse(&email_to)?;
    let about = request.circumstances();
    let at = about.when;
    let undo = MailToken::generate();
    let undo_record = AccountToken {
        token_hash: undo.hash(),
        user_id: user_id.clone(),
        purpose: TokenPurpose::UndoEmailChange,
        // Not judged: undoing holds through a password change (see `judge_token`).
        credential_version: 0,
        created_at: at,
        expires_at: at + UNDO_LIFETIME,
        email_was: email_was.clone(),
        email_to: Some(email_to.clone()),
        code_hash: None,
    };
    let mut notice = Letter::EmailChanged {
        new: email_to.clone(),
        undo: state.mailer.link(&link_path(TokenPurpose::UndoEmailChange, &undo)),
        valid_for: UNDO_LIFETIME,
    }
    .to(&email_was, &about, new_id());
    notice.discard_after = Some(at + UNDO_LIFETIME);
    let change = EmailChange {
        token_hash: &token.hash(),
        email_was_key: &Email::key_of(&email_was),
        email_to: &email_to,
        email_to_key: &new.key(),
        undo: &undo_record,
        notice: &notice,
        event: &request.event(EventKind::EmailChanged, &user_id, at),
        at,
    };
    match state.store.change_email(&change).await {
        Ok(TokenState::Usable { .. }) => {}
        Ok(other) => return Err(links::refused(purpose, &other)),
        Err(StoreError::Taken(_)) => {
            return Err(AppError::conflict("email", EMAIL_TAKEN_BY_ANOTHER))
        }
        Err(other) => return Err(other.into()),
    }
    state.users.forget(&user_id);
    state.mailer.queued();
    tracing::info!(user_id = %user_id, "address changed");
    request.redirect_plain_form("/confirm-email?done=1");
    Ok(())
}

/// `POST cancel_email_change`: the link mailed to the old address cancels a pending change, or
/// puts the old address back and logs every device out. Whether the address was put back.
pub async fn cancel_email_change(token: String) -> Result<bool, AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let token = MailToken::parse(&token)
        .ok_or_else(|| links::refused(TokenPurpose::UndoEmailChange, &TokenState::Invalid))?;
    let purposes = [TokenPurpose::UndoEmailChange, TokenPurpose::CancelEmailChange];
    let (purpose, email_was) = match link_state_of(state, token.expose(), &purposes).await? {
        (purpose, TokenState::Usable { email_was, .. }) => (purpose, email_was),
        (purpose, other) => return Err(links::refused(purpose, &other)),
    };
    let notice = Letter::EmailRestored {
        restored: email_was.clone(),
    }
    .to("", &request.circumstances(), new_id());
    let at = now();
    let undo = EmailChangeUndo {
        token_hash: &token.hash(),
        purpose,
        email_was_key: &Email::key_of(&email_was),
        unusable_hash: state.passwords.unusable_hash(),
        notice: &notice,
        // The account is the token's: the store names it.
        event: &request.event(EventKind::EmailRestored, "", at),
        at,
    };
    // This browser's own session, if any: only its cookies go if the account's sessions end.
    let caller = request.authenticated().ok().map(|claims| claims.sub);
    let restored = match state.endings().undo_email_change(&undo).await {
        Ok(UndoOutcome::Cancelled { user_id }) => {
            tracing::info!(user_id = %user_id, "address change cancelled");
            false
        }
        Ok(UndoOutcome::Restored { user_id, ended }) => {
            if caller.as_deref() == Some(user_id.as_str()) {
                request.clear_cookies();
            }
            state.mailer.queued();
            tracing::info!(user_id = %user_id, sessions_ended = ended.len(), "address change undone");
            true
        }
        Ok(UndoOutcome::Refused(other)) => return Err(links::refused(purpose, &other)),
        Err(StoreError::Taken(_)) => {
            return Err(AppError::conflict("email", EMAIL_TAKEN_BY_ANOTHER))
        }
        Err(other) => return Err(other.into()),
    };
    let done = if restored { "restored" } else { "cancelled" };
    request.redirect_plain_form(&format!("/undo-email?done={done}"));
    Ok(restored)
}
