//! [ssr] Changes to the account: its profile, its password, its deletion.

use super::{
    addresses,
    current_user::account,
    login::{account_key, admit_hashing, confirm_owner},
    request::{new_id, now, CurrentRequest},
    second_factor::require_recent_proof,
};
use crate::{
    credentials::password_policy,
    domain::{Email, FullName, Password, SignedOut, TypedPassword, User, Username},
    error::AppError,
    error::TAKEN_BY_ANOTHER,
    mail::letters::Letter,
    store::{EventKind, PasswordChange, StoreError, UserKey},
};

pub async fn update_profile(
    username: Username,
    full_name: FullName,
    email: Option<Email>,
) -> Result<User, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let mut back = request.referring_page().as_str().to_owned();
    // A new address is asked for first, so that a refusal (taken, too many changes) leaves the
    // rest unchanged too; it changes only when the link sent to it is opened.
    if let Some(email) = email {
        let user = account(&request.state, &claims.sub).await?;
        if email.key() != Email::key_of(&user.email) {
            // Moving the account to another mailbox is how a thief keeps it: a recent proof of
            // who is asking, not just a live session.
            require_recent_proof(&request, &user, &claims.sid, false).await?;
            // A taken username is refused before any mail goes out for the address.
            let holder = request
                .state
                .store
                .find_user_by(UserKey::Username(username.as_str()))
                .await?;
            if holder.is_some_and(|holder| holder.id != user.id) {
                return Err(AppError::conflict("username", TAKEN_BY_ANOTHER));
            }
            addresses::request_email_change(&request, &user, &email).await?;
            back = "/profile?email_change=1".to_owned();
        }
    }
    let user = request
        .state
        .store
        .update_profile(&claims.sub, username.as_str(), full_name.as_str())
        .await
        .map_err(|e| match e {
            // The person is logged in: "log in instead" is no advice here.
            StoreError::Taken(field) => AppError::conflict(field, TAKEN_BY_ANOTHER),
            other => other.into(),
        })?
        .ok_or_else(AppError::session_ended)?;
    tracing::info!(user_id = %user.id, "profile updated");
    let user = user.to_public();
    request.state.users.put(&user);
    request.redirect_plain_form(&back);
    Ok(user)
}

pub async fn change_password(current: TypedPassword, new: Password) -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let wrong = ("current_password", "That is not your current password.");
    // First, before the password's hashing: an account with a second factor needs more than it.
    let owner = account(state, &claims.sub).await?;
    require_recent_proof(&request, &owner, &claims.sid, true).await?;
    let user = confirm_owner(&request, &claims, &current, wrong).await?;
    if new.expose() == current.expose() {
        return Err(AppError::invalid_input(
            "new_password",
            "Choose a new password, different from the current one.",
        ));
    }
    // Stored names were valid when stored; the policy needs them as validated types.
    let username = Username::parse(&user.username)?;
    let email = Email::parse(&user.email)?;
    let hash = {
        let _place = admit_hashing(&request, Some(&account_key(&user)))?;
        let (new, _, _) =
            password_policy::check_off_thread(state.passwords.workers(), new, username, email)
                .await
                .map_err(|e| e.for_field("new_password"))?;
        state.passwords.hash(new.expose()).await?
    };
    let now = now();
    let ends_by = state
        .store
        .session_ends_by(&claims.sid)
        .await?
        .ok_or_else(AppError::session_ended)?;
    let pair = request.new_pair(&user, &claims.sid, now, ends_by)?;
    // Refused if another change committed since `user` was read: the password this request
    // verified is no longer the account's.
    let notice = Letter::PasswordChanged {
        forgot: state.mailer.link("/forgot"),
    }
    .to(&user.email, &request.circumstances(), new_id());
    let change = PasswordChange {
        user_id: &user.id,
        verified_version: user.credential_version,
        password_hash: &hash,
        fresh: &pair.record,
        notice: &notice,
        event: &request
            .event(EventKind::PasswordChanged, &user.id, now)
            .about(&claims.sid),
        at: now,
    };
    let ended = state.endings().change_password(&change).await?;
    state.mailer.queued();
    request.set_pair(pair.access, pair.refresh, now);
    // Every device cookie of the account was signed over the old version; this browser's is
    // renewed under the new one.
    request.trust_device(&user.id, user.credential_version + 1);
    tracing::info!(user_id = %user.id, other_sessions_ended = ended.len(), "password changed");
    request.redirect_plain_form(request.referring_page().as_str());
    Ok(())
}

pub async fn delete_account(password: TypedPassword) -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let wrong = ("password", "That is not your password.");
    let owner = account(state, &claims.sub).await?;
    require_recent_proof(&request, &owner, &claims.sid, true).await?;
    let user = confirm_owner(&request, &claims, &password, wrong).await?;
    let event = request.event(EventKind::AccountDeleted, &user.id, now());
    // The sessions ended hold this one too, as in `logout_all`.
    state.endings().delete_account(&event).await?;
    tracing::info!(user_id = %user.id, "account deleted");
    request.clear_cookies();
    request.redirect_plain_form(&SignedOut::Deleted.on("/"));
    Ok(())
}
