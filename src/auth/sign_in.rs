//! [ssr] A sign-in's last step, whichever way it came (a password alone, or a password and a
//! second factor): the session, the new-device notice, the trusted-device cookie.

use super::{
    admission::Admitted,
    request::{new_id, now, CurrentRequest},
};
use crate::{error::AppError, mail::letters::Letter, store::{EventKind, UserRecord}};

/// Starts the session of a login that passed every factor `user`'s account asks for, under
/// the credential version its password was proved at (refused if it changed since).
pub(super) async fn start_login_session(
    request: &CurrentRequest,
    user: &UserRecord,
    version: i64,
    admitted: Admitted,
) -> Result<(), AppError> {
    let state = &request.state;
    // A browser without this account's device cookie has not logged in to it before (or not
    // since the password changed): the owner hears of it.
    let notice = request.trusted_device(user).is_none().then(|| {
        Letter::NewSignIn {
            devices: state.mailer.link("/sessions"),
        }
        .to(&user.email, &request.circumstances(), new_id())
    });
    request
        .start_session(user, &admitted, now(), |session| {
            let notice = notice.as_ref();
            let event = request.event(EventKind::LoggedIn, &user.id, session.created_at);
            async move {
                let event = event.about(&session.id);
                state.store.start_session(&session, version, notice, &event).await
            }
        })
        .await?;
    if notice.is_some() {
        state.mailer.queued();
    }
    // This browser has proved it knows the password (still the account's: the session is
    // stored): from now on it has a budget of its own.
    request.trust_device(&user.id, version);
    tracing::info!(user_id = %user.id, method = admitted.method().as_str(), "logged in");
    request.redirect_plain_form(request.next_from_referer().as_str());
    Ok(())
}
