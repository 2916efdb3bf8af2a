//! [ssr] What the auth endpoints do, step by step. Everything here runs inside a server
//! function, where leptos_axum provides the request parts, a `ResponseOptions` and `AppState`.

use super::{
    exchange::{authenticate, new_id, verified_token, Exchange},
    Refreshed,
};
use crate::credentials::{
    cookies::Kind,
    password_policy,
    tokens::{refresh_token_hash, AccessClaims, TokenError, TokenKeys},
};
use crate::security::limits;
use crate::{
    domain::{Email, FullName, LoginName, Password, SessionInfo, TypedPassword, User, Username},
    error::{AppError, ErrorCode},
    state::AppState,
    store::{EndReason, Reservation, Rotation, UserKey, UserRecord},
};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

/// Now, to the whole second: what the database keeps, so answers match later reads.
fn now() -> OffsetDateTime {
    crate::store::clock()
}

pub async fn register(
    email: Email,
    username: Username,
    full_name: FullName,
    password: Password,
) -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    let now = now();
    // Cheap refusals before any work on the password: a taken name is answered 409 from one
    // indexed read, without a place in the hashing queue. (The unique constraints still decide
    // a race between two registrations of one name.) The 409 says no more than it did after
    // the hash.
    let email_key = email.key();
    if state
        .store
        .find_user_by(UserKey::Email(&email_key))
        .await?
        .is_some()
    {
        return Err(crate::store::StoreError::Taken("email").into());
    }
    if state
        .store
        .find_user_by(UserKey::Username(username.as_str()))
        .await?
        .is_some()
    {
        return Err(crate::store::StoreError::Taken("username").into());
    }
    // One place in the hashing queue for the strength check and the hash: both run on its
    // worker threads, so both count towards this client's share.
    let place = admit_hashing(&exchange, None)?;
    let (password, _, email) = password_policy::check_off_thread(
        state.passwords.workers(),
        password,
        username.clone(),
        email,
    )
    .await?;
    let password_hash = state.passwords.hash(password.expose()).await?;
    drop(place);
    let user = UserRecord {
        id: new_id(),
        email: email.as_str().to_owned(),
        username: username.as_str().to_owned(),
        full_name: full_name.as_str().to_owned(),
        password_hash,
        created_at: now,
        credential_version: 1,
    };
    let store = &state.store;
    let account = &user;
    exchange
        .start_session(account, now, |session, first| async move {
            store
                .create_user(account, &email_key, &session, &first)
                .await
        })
        .await?;
    // The browser that created the account is its owner's.
    exchange.trust_device(&user.id, user.credential_version);
    tracing::info!(user_id = %user.id, "account created");
    exchange.redirect_plain_form(exchange.next_from_referer().as_str());
    Ok(user.to_public())
}

/// The failure-count key of an account: an email and a username of one account are one
/// account, and names of no account count alike, so the limit says nothing about which exist.
fn failure_key(found: Option<&UserRecord>, login: &LoginName) -> String {
    match (found, login) {
        (Some(user), _) => account_key(user),
        (None, LoginName::Email(key) | LoginName::Username(key)) => format!("name:{key}"),
    }
}

fn account_key(user: &UserRecord) -> String {
    format!("user:{}", user.id)
}

/// A place in the hashing queue for this client (and `account`, if known), or 429 at once when
/// either already holds its share (see `credentials::passwords`).
fn admit_hashing(
    exchange: &Exchange,
    account: Option<&str>,
) -> Result<crate::credentials::passwords::Share, AppError> {
    let address = limits::hashing_claimant(exchange.client_ip());
    let claimants: Vec<&str> = std::iter::once(address.as_str()).chain(account).collect();
    exchange.state.passwords.admit(&claimants).map_err(|e| {
        exchange.set_retry_after(std::time::Duration::from_secs(1));
        e.into()
    })
}

/// Checks a password of `user` (or of no account, taking the same time) against a hard cap on
/// wrong passwords: an attempt is reserved in the database before Argon2 runs and refunded only
/// when the password was right, so concurrent guesses, on any endpoint and any instance, can
/// never verify more than the budget holds. The budget is the account's (`account`), shared by
/// all untrusted browsers, or for a browser that logged in to this account before, that
/// device's own: strangers can lock the account for strangers only.
///
/// The budget comes first and the place in the hashing queue second, held for the Argon2 work
/// alone: attempts on a spent budget cost no place, so strangers hammering a locked account
/// cannot crowd the owner's browser out of the queue. `claimant` is whose share of the queue the
/// work counts against besides the address: the name typed at login (never the account it
/// belongs to, which would let two concurrent requests tell whether an email and a username
/// are one account's), the account when its owner is logged in, or the trusted device.
async fn check_password(
    exchange: &Exchange,
    user: Option<&UserRecord>,
    account: &str,
    claimant: &str,
    password: &str,
) -> Result<bool, AppError> {
    let state = &exchange.state;
    let device = user.and_then(|user| exchange.trusted_device(user));
    let budget = device
        .as_ref()
        .map_or_else(|| account.to_owned(), |device| device.budget());
    let key = state.limits.budget_key(&budget);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let generation = match state
        .store
        .reserve_attempt(&key, now, state.limits.failures)
        .await?
    {
        Reservation::Granted { generation } => generation,
        Reservation::Exhausted { until } => {
            let wait = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
            exchange.set_retry_after(std::time::Duration::from_secs(wait));
            return Err(AppError::rate_limited());
        }
    };
    let claimant = device.as_ref().map_or(claimant, |_| budget.as_str());
    let _place = match admit_hashing(exchange, Some(claimant)) {
        Ok(place) => place,
        Err(busy) => {
            // Nothing was checked: the attempt goes back.
            state.store.refund_attempt(&key, generation).await?;
            return Err(busy);
        }
    };
    let matches = state
        .passwords
        .verify(password, user.map(|u| u.password_hash.as_str()))
        .await?;
    let right = matches && user.is_some();
    if right {
        state.store.refund_attempt(&key, generation).await?;
    }
    Ok(right)
}

pub async fn login(login: LoginName, password: TypedPassword) -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    let key = match &login {
        LoginName::Email(key) => UserKey::Email(key),
        LoginName::Username(name) => UserKey::Username(name),
    };
    let found = state.store.find_user_by(key).await?;
    let account = failure_key(found.as_ref(), &login);
    let typed = failure_key(None, &login);
    // Verify even when there is no such account, so both failures take the same time.
    if !check_password(
        &exchange,
        found.as_ref(),
        &account,
        &typed,
        password.expose(),
    )
    .await?
    {
        return Err(AppError::invalid_credentials());
    }
    let user = found.ok_or_else(AppError::invalid_credentials)?;
    let version = user.credential_version;
    exchange
        .start_session(&user, now(), |session, first| async move {
            state.store.start_session(&session, &first, version).await
        })
        .await?;
    // This browser has proved it knows the password (still the account's: the session is
    // stored): from now on it has a budget of its own.
    exchange.trust_device(&user.id, version);
    tracing::info!(user_id = %user.id, "logged in");
    exchange.redirect_plain_form(exchange.next_from_referer().as_str());
    Ok(user.to_public())
}

pub async fn refresh() -> Result<Refreshed, AppError> {
    let exchange = Exchange::current()?;
    let outcome = rotate(&exchange).await;
    // Without JavaScript, the refresh is a "Continue" button on a page that needs a login:
    // back to that page when it worked, to the login page (and back after it) when not.
    let page = exchange.referring_page();
    match &outcome {
        Ok(_) => exchange.redirect_plain_form(page.as_str()),
        // Whatever the cookies held is dead now; do not let the browser keep sending it. Not
        // so for a refusal that passes (the database busy or away, a full hashing queue): the
        // session is alive, and clearing its cookie on a 503 would log the person out.
        Err(error) if error.code.is_session_failure() => {
            exchange.clear_cookies();
            exchange.redirect_plain_form(&page.login_url());
        }
        Err(_) => {}
    }
    outcome
}

async fn rotate(exchange: &Exchange) -> Result<Refreshed, AppError> {
    let state = &exchange.state;
    let (token, claims) = verified_token(
        state,
        exchange.headers(),
        Kind::Refresh,
        TokenKeys::verify_refresh,
    )?;
    let now = now();
    if state.revoked.contains(&claims.sid) {
        return Err(AppError::session_ended());
    }
    let ends_by = state
        .store
        .session_ends_by(&claims.sid)
        .await?
        .ok_or(TokenError::Invalid)?;
    if ends_by <= now {
        return Err(TokenError::Expired.into());
    }
    // The account is read before the rotation, not after: once the rotation has committed,
    // nothing may fail on the database, or the client would get a 503 for a refresh that took
    // its token, and its retry after the grace window would look like theft and end the session
    // (the PostgreSQL outage test caught that). An account deleted in between takes its rows
    // with it (ON DELETE CASCADE), so the rotation then finds no token.
    let user = account(state, &claims.sub).await?;
    // The successor is fully determined by the old token and the rotation time: see
    // `TokenKeys::successor`. The database row, not the signature, decides whether it is due,
    // and the store picks the rotation time once it holds the lock.
    let successor_at = |at: OffsetDateTime| {
        state
            .tokens
            .successor(token, &claims, at, ends_by)
            .map(|successor| Exchange::record_of(&successor, &claims.sub, &claims.sid, at))
            .map_err(|e| crate::store::StoreError::Successor(Box::new(e)))
    };
    let rotation = state
        .store
        .rotate_refresh(
            &refresh_token_hash(token),
            &successor_at,
            state.config.refresh_reuse_grace,
        )
        .await?;
    let now = match rotation {
        Rotation::Rotated { at } => at,
        _ => self::now(),
    };
    let refresh = match rotation {
        Rotation::Rotated { at } => state.tokens.successor(token, &claims, at, ends_by)?,
        Rotation::Recent {
            rotated_at,
            successor_hash,
        } => {
            // Another request rotated this token moments ago (a second tab, a retry): answer
            // with the same successor, so the session stays one chain.
            let again = state
                .tokens
                .successor(token, &claims, rotated_at, ends_by)?;
            if refresh_token_hash(&again.token) != successor_hash {
                // Only if the refresh key or lifetime changed in between.
                tracing::warn!(session_id = %claims.sid, "grace-window successor mismatch");
                return Err(AppError::session_ended());
            }
            again
        }
        Rotation::Reused => {
            state.endings().ended_by_rotation(&claims.sid, now);
            tracing::warn!(session_id = %claims.sid, "refresh token reused: session ended");
            return Err(AppError::new(
                ErrorCode::TokenReused,
                "This session was refreshed elsewhere, so it has been ended to keep your \
                 account safe. Please log in again.",
            ));
        }
        Rotation::Revoked => return Err(AppError::session_ended()),
        Rotation::Expired => return Err(TokenError::Expired.into()),
        Rotation::Unknown => return Err(TokenError::Invalid.into()),
    };
    let access = state
        .tokens
        .issue_access(&user, &claims.sid, now, ends_by)?;
    let access_expires_at = exchange.set_pair(access, refresh, now);
    Ok(Refreshed {
        access_expires_at: access_expires_at.format(&Rfc3339).unwrap_or_default(),
    })
}

pub async fn logout() -> Result<(), AppError> {
    let exchange = Exchange::current()?;
    let state = &exchange.state;
    // Whichever cookie still names the session: the refresh token outlives the access token.
    let claims = exchange
        .token_cookie(Kind::Refresh)
        .and_then(|(token, _)| state.tokens.refresh_claims_of(token))
        .or_else(|| {
            let (token, _) = exchange.token_cookie(Kind::Access)?;
            let claims = state.tokens.verify_access(token).ok()?;
            Some((claims.sub, claims.sid))
        });
    if let Some((user_id, session_id)) = claims {
        let now = now();
        state.endings().logout(&user_id, &session_id, now).await?;
        tracing::info!(session_id = %session_id, "logged out");
    }
    exchange.clear_cookies();
    exchange.redirect_plain_form("/login");
    Ok(())
}

pub async fn me() -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    me_of(&exchange.state, exchange.headers()).await
}

/// The user of the request's access token: no query once the account is in the cache. Shared by
/// the server function (page renders) and the plain route that answers `GET /api/auth/me`.
pub async fn me_of(state: &AppState, headers: &http::HeaderMap) -> Result<User, AppError> {
    let claims = authenticate(state, headers)?;
    if let Some(user) = state.users.get(&claims.sub) {
        return Ok(user);
    }
    let seen = state.users.generation();
    let user = account(state, &claims.sub).await?.to_public();
    state.users.fill(seen, &user);
    Ok(user)
}

/// The account a valid token names. It can be gone only if it was deleted, which ended all its
/// sessions: the token is refused as such.
async fn account(state: &AppState, user_id: &str) -> Result<UserRecord, AppError> {
    state
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(AppError::session_ended)
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

pub async fn sessions() -> Result<Vec<SessionInfo>, AppError> {
    let exchange = Exchange::current()?;
    let claims = exchange.authenticated()?;
    let live = exchange
        .state
        .store
        .list_sessions(&claims.sub, now())
        .await?;
    // A valid access token of a session that is not live (its account deleted before a
    // restart emptied the revocation set) is refused like any ended session.
    if !live.iter().any(|session| session.id == claims.sid) {
        return Err(AppError::session_ended());
    }
    Ok(live
        .into_iter()
        .map(|session| SessionInfo {
            current: session.id == claims.sid,
            created_at: rfc3339(session.created_at),
            last_used_at: rfc3339(session.last_used_at),
            expires_at: rfc3339(session.expires_at),
            id: session.id,
            user_agent: session.user_agent,
            ip: session.ip,
        })
        .collect())
}

pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    let exchange = Exchange::current()?;
    let claims = exchange.authenticated()?;
    let state = &exchange.state;
    let now = now();
    let found = state
        .endings()
        .end_one(&claims.sub, &session_id, EndReason::Revoked, now)
        .await?;
    if !found {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "There is no such session on your account.",
        ));
    }
    tracing::info!(session_id = %session_id, "session revoked");
    if session_id == claims.sid {
        exchange.clear_cookies();
        exchange.redirect_plain_form("/login");
    } else {
        exchange.redirect_plain_form(exchange.referring_page().as_str());
    }
    Ok(())
}

pub async fn logout_all() -> Result<(), AppError> {
    let exchange = Exchange::current()?;
    let claims = exchange.authenticated()?;
    let state = &exchange.state;
    let now = now();
    // `ended` holds this session too: it was live, or `authenticated` would have refused it.
    let ended = state
        .endings()
        .end_all(&claims.sub, EndReason::LogoutAll, now)
        .await?;
    tracing::info!(user_id = %claims.sub, sessions = ended.len(), "logged out everywhere");
    exchange.clear_cookies();
    exchange.redirect_plain_form("/login");
    Ok(())
}

pub async fn update_profile(username: Username, full_name: FullName) -> Result<User, AppError> {
    let exchange = Exchange::current()?;
    let claims = exchange.authenticated()?;
    let user = exchange
        .state
        .store
        .update_profile(&claims.sub, username.as_str(), full_name.as_str())
        .await?
        .ok_or_else(AppError::session_ended)?;
    tracing::info!(user_id = %user.id, "profile updated");
    let user = user.to_public();
    exchange.state.users.put(&user);
    exchange.redirect_plain_form(exchange.referring_page().as_str());
    Ok(user)
}

/// The logged-in account, once `password` proves it is its owner asking: a stolen access
/// token alone cannot change the password or delete the account. Wrong passwords count towards
/// the account's login failure limit, as at login.
async fn confirm_owner(
    exchange: &Exchange,
    claims: &AccessClaims,
    password: &TypedPassword,
    wrong: &str,
) -> Result<UserRecord, AppError> {
    let user = account(&exchange.state, &claims.sub).await?;
    let key = account_key(&user);
    if !check_password(exchange, Some(&user), &key, &key, password.expose()).await? {
        return Err(AppError::new(ErrorCode::InvalidCredentials, wrong));
    }
    Ok(user)
}

pub async fn change_password(current: TypedPassword, new: Password) -> Result<(), AppError> {
    let exchange = Exchange::current()?;
    let claims = exchange.authenticated()?;
    let state = &exchange.state;
    let user = confirm_owner(
        &exchange,
        &claims,
        &current,
        "That is not your current password.",
    )
    .await?;
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
        let _place = admit_hashing(&exchange, Some(&account_key(&user)))?;
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
    let (access, refresh, record) = exchange.new_pair(&user, &claims.sid, now, ends_by)?;
    // Refused if another change committed since `user` was read: the password this request
    // verified is no longer the account's.
    let ended = state
        .endings()
        .change_password(&user.id, user.credential_version, &hash, &record, now)
        .await?;
    exchange.set_pair(access, refresh, now);
    // Every device cookie of the account was signed over the old version; this browser's is
    // renewed under the new one.
    exchange.trust_device(&user.id, user.credential_version + 1);
    tracing::info!(user_id = %user.id, other_sessions_ended = ended.len(), "password changed");
    exchange.redirect_plain_form(exchange.referring_page().as_str());
    Ok(())
}

pub async fn delete_account(password: TypedPassword) -> Result<(), AppError> {
    let exchange = Exchange::current()?;
    let claims = exchange.authenticated()?;
    let state = &exchange.state;
    let user = confirm_owner(&exchange, &claims, &password, "That is not your password.").await?;
    let now = now();
    // The sessions ended hold this one too, as in `logout_all`.
    state.endings().delete_account(&user.id, now).await?;
    tracing::info!(user_id = %user.id, "account deleted");
    exchange.clear_cookies();
    exchange.redirect_plain_form("/");
    Ok(())
}
