//! [ssr] Registration, login, and every check of a password (at login, and to confirm a
//! password change or an account deletion): the failure budget in the database, the share of
//! the hashing queue, and the trusted device.

use super::{
    addresses,
    current_user::account,
    admission::Admitted,
    second_factor::{self, Gate},
    sign_in::start_login_session,
    request::{new_id, now, CurrentRequest},
};
use crate::{
    credentials::{password_policy, tokens::AccessClaims},
    domain::{Email, FullName, LoginName, Password, TypedPassword, User, Username},
    error::{AppError, ErrorCode, ACCOUNT_DISABLED, CONFIRM_TO_LOG_IN, EMAIL_UNVERIFIED},
    mail::letters::Letter,
    security::limits,
    store::{EventKind, Registration, Reservation, UserKey, UserRecord},
};
use time::OffsetDateTime;

pub async fn register(
    email: Email,
    username: Username,
    full_name: FullName,
    password: Password,
) -> Result<User, AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let now = now();
    // Cheap refusals before any work on the password: a taken name is answered 409 from one
    // indexed read, without a place in the hashing queue. (The unique constraints still decide
    // a race between two registrations of one name.) The 409 says no more than it did after
    // the hash.
    let email_key = email.key();
    // An address held for an account that moved away from it is answered alike, and as fast.
    if state
        .store
        .find_user_by(UserKey::Email(&email_key))
        .await?
        .is_some()
        || state.store.address_held(&email_key, "", now).await?
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
    let place = admit_hashing(&request, None)?;
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
        email_verified_at: None,
        disabled_at: None,
    };
    let (verification, mail) = addresses::verification(state, &user, &request.circumstances());
    let registration = Registration {
        user: &user,
        email_key: &email_key,
        verification: &verification,
        mail: &mail,
        session: None,
        event: &request.event(EventKind::Registered, &user.id, now),
    };
    if state.config.mail.require_verified_email {
        // No session until the address is proved: the account exists, and waits for its link.
        state.store.create_user(&registration).await?;
        state.mailer.queued();
        tracing::info!(user_id = %user.id, "account created; it logs in once its address is verified");
        return Err(AppError::new(ErrorCode::EmailUnverified, CONFIRM_TO_LOG_IN));
    }
    let store = &state.store;
    request
        .start_session(&user, &Admitted::new_account(), now, move |session| async move {
            let registration = Registration {
                session: Some(&session),
                ..registration
            };
            store.create_user(&registration).await
        })
        .await?;
    state.mailer.queued();
    // The browser that created the account is its owner's.
    request.trust_device(&user.id, user.credential_version);
    tracing::info!(user_id = %user.id, "account created");
    request.redirect_plain_form(request.next_from_referer().as_str());
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

pub(super) fn account_key(user: &UserRecord) -> String {
    format!("user:{}", user.id)
}

/// A place in the hashing queue for this client (and `account`, if known), or 429 at once when
/// either already holds its share (see `credentials::passwords`).
pub(super) fn admit_hashing(
    request: &CurrentRequest,
    account: Option<&str>,
) -> Result<crate::credentials::passwords::Share, AppError> {
    let address = limits::hashing_claimant(request.client_ip());
    let claimants: Vec<&str> = std::iter::once(address.as_str()).chain(account).collect();
    request.state.passwords.admit(&claimants).map_err(|e| {
        request.set_retry_after(std::time::Duration::from_secs(1));
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
    request: &CurrentRequest,
    user: Option<&UserRecord>,
    account: &str,
    claimant: &str,
    password: &str,
) -> Result<bool, AppError> {
    let state = &request.state;
    let device = user.and_then(|user| request.trusted_device(user));
    let budget = device
        .as_ref()
        .map_or_else(|| account.to_owned(), |device| device.budget());
    let key = state.limits.budget_key(&budget);
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let (generation, last) = match state
        .store
        .reserve_attempt(&key, now, state.limits.failures)
        .await?
    {
        Reservation::Granted { generation, last } => (generation, last),
        Reservation::Exhausted { until } => {
            let wait = u64::try_from(until.saturating_sub(now)).unwrap_or(0);
            let wait = std::time::Duration::from_secs(wait);
            request.set_retry_after(wait);
            return Err(AppError::rate_limited_for("on this account", wait));
        }
    };
    let claimant = device.as_ref().map_or(claimant, |_| budget.as_str());
    let _place = match admit_hashing(request, Some(claimant)) {
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
    // The wrong password that spent the account's budget has locked it for strangers: its
    // owner hears of it, with the way out (a reset lifts the lock), once per window.
    if let (Some(user), true, false, None) = (user, last, right, &device) {
        notify_locked(request, user);
    }
    Ok(right)
}

/// Writes the failed login to the account's trail after the answer: written before it, the extra
/// write would make a wrong password slower for an account that exists than for a name of none.
fn record_failed_login(request: &CurrentRequest, user: &UserRecord) {
    let event = request.event(EventKind::LoginFailed, &user.id, now());
    let state = request.state.clone();
    request.state.mailer.after_answer("failed login event", async move {
        state.store.record_event(&event).await
    });
}

/// Queues the "account locked" notice after the answer: queued before it, the extra write
/// would make a wrong password slower for an account that exists than for a name of none.
fn notify_locked(request: &CurrentRequest, user: &UserRecord) {
    let state = request.state.clone();
    let notice = Letter::AccountLocked {
        forgot: state.mailer.link("/forgot"),
        for_how_long: state.limits.failures.window,
    }
    .to(&user.email, &request.circumstances(), new_id());
    let user_id = user.id.clone();
    let event = request.event(EventKind::Locked, &user.id, now());
    request.state.mailer.after_answer("lockout notice", async move {
        // One per window, counted by the store: a wrong password refunded after the lock (its
        // place in the hashing queue was taken) lets a later one reach the budget's end again.
        let once = format!("lock-notice:{user_id}");
        let window = state.limits.failures.window;
        if addresses::cap_wait(&state, &once, 1, window).await?.is_some() {
            return Ok(());
        }
        state.store.queue_mail(&notice).await?;
        state.mailer.queued();
        state.store.record_event(&event).await?;
        tracing::info!(user_id = %user_id, "account locked by wrong passwords; its owner is told");
        Ok(())
    });
}

pub async fn login(login: LoginName, password: TypedPassword) -> Result<User, AppError> {
    use crate::telemetry::metrics::{self, Login};
    let outcome = attempt_login(login, password).await;
    match &outcome {
        Ok(_) => metrics::login(Login::Ok),
        Err(e) if e.code == ErrorCode::RateLimited => metrics::login(Login::Limited),
        Err(e)
            if matches!(
                e.code,
                ErrorCode::InvalidCredentials
                    | ErrorCode::EmailUnverified
                    | ErrorCode::AccountDisabled
            ) =>
        {
            metrics::login(Login::Failed)
        }
        // The database or the hashing queue away: no verdict on the attempt.
        Err(_) => {}
    }
    outcome
}

async fn attempt_login(login: LoginName, password: TypedPassword) -> Result<User, AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    let key = match &login {
        LoginName::Email(key) => UserKey::Email(key),
        LoginName::Username(name) => UserKey::Username(name),
    };
    let found = state.store.find_user_by(key).await?;
    let account = failure_key(found.as_ref(), &login);
    let typed = failure_key(None, &login);
    // Verify even when there is no such account, so both failures take the same time.
    if !check_password(
        &request,
        found.as_ref(),
        &account,
        &typed,
        password.expose(),
    )
    .await?
    {
        if let Some(user) = &found {
            record_failed_login(&request, user);
        }
        return Err(AppError::invalid_credentials());
    }
    let user = found.ok_or_else(AppError::invalid_credentials)?;
    // Only once the password is right: the refusal tells nobody else that the account exists.
    if state.config.mail.require_verified_email && user.email_verified_at.is_none() {
        return Err(AppError::new(ErrorCode::EmailUnverified, EMAIL_UNVERIFIED));
    }
    if user.disabled_at.is_some() {
        return Err(AppError::new(ErrorCode::AccountDisabled, ACCOUNT_DISABLED));
    }
    let version = user.credential_version;
    match second_factor::after_password(&request, &user).await? {
        Gate::Open(admitted) => start_login_session(&request, &user, version, admitted).await?,
        Gate::SecondStep => {
            return Err(second_factor::start_second_step(&request, &user, version).await?)
        }
    }
    Ok(user.to_public())
}

/// The logged-in account, once `password` proves it is its owner asking: a stolen access
/// token alone cannot change the password or delete the account. Wrong passwords count towards
/// the account's login failure limit, as at login.
pub(super) async fn confirm_owner(
    request: &CurrentRequest,
    claims: &AccessClaims,
    password: &TypedPassword,
    (field, wrong): (&str, &str),
) -> Result<UserRecord, AppError> {
    let user = account(&request.state, &claims.sub).await?;
    let key = account_key(&user);
    if !check_password(request, Some(&user), &key, &key, password.expose()).await? {
        // On the field it was typed in (the account is the caller's: nothing to hide).
        return Err(AppError {
            field: Some(field.to_owned()),
            ..AppError::new(ErrorCode::InvalidCredentials, wrong)
        });
    }
    Ok(user)
}
