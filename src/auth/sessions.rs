//! [ssr] A person's sessions: the list with devices, ending one, logging out, logging out
//! everywhere.

use super::request::{now, CurrentRequest};
use crate::{
    credentials::cookies::Kind,
    domain::{SessionInfo, SignedOut},
    error::{AppError, ErrorCode},
    store::{EndReason, EventKind, SignInMethod},
};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub async fn logout() -> Result<(), AppError> {
    let request = CurrentRequest::current()?;
    let state = &request.state;
    // Whichever cookie still names the session: the refresh token outlives the access token.
    let claims = request
        .token_cookie(Kind::Refresh)
        .and_then(|(token, _)| state.tokens.refresh_claims_of(token))
        .or_else(|| {
            let (token, _) = request.token_cookie(Kind::Access)?;
            let claims = state.tokens.verify_access(token).ok()?;
            Some((claims.sub, claims.sid))
        });
    if let Some((user_id, session_id)) = claims {
        let event = request.event(EventKind::LoggedOut, &user_id, now());
        state.endings().logout(&session_id, &event).await?;
        tracing::info!(session_id = %session_id, "logged out");
    }
    request.clear_cookies();
    request.redirect_plain_form(&SignedOut::Here.on("/login"));
    Ok(())
}

pub async fn sessions() -> Result<Vec<SessionInfo>, AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let live = request
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
            device: crate::domain::describe_user_agent(&session.user_agent),
            signed_in_with: signed_in_with(&session.method).to_owned(),
            method: session.method,
            user_agent: session.user_agent,
            ip: session.ip,
        })
        .collect())
}

pub async fn revoke_session(session_id: String) -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let event = request.event(EventKind::SessionRevoked, &claims.sub, now());
    let found = state.endings().revoke(&session_id, &event).await?;
    if !found {
        return Err(AppError::new(
            ErrorCode::NotFound,
            "There is no such session on your account.",
        ));
    }
    tracing::info!(session_id = %session_id, "session revoked");
    if session_id == claims.sid {
        request.clear_cookies();
        request.redirect_plain_form(&SignedOut::Here.on("/login"));
    } else {
        request.redirect_plain_form(request.referring_page().as_str());
    }
    Ok(())
}

pub async fn logout_all() -> Result<(), AppError> {
    let (request, claims) = CurrentRequest::signed_in()?;
    let state = &request.state;
    let event = request.event(EventKind::SessionsEnded, &claims.sub, now());
    // `ended` holds this session too: it was live, or `authenticated` would have refused it.
    let ended = state
        .endings()
        .end_all(EndReason::LogoutAll, &event.about(&claims.sid))
        .await?;
    tracing::info!(user_id = %claims.sub, sessions = ended.len(), "logged out everywhere");
    request.clear_cookies();
    request.redirect_plain_form(&SignedOut::Everywhere.on("/login"));
    Ok(())
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// How a session signed in, in words.
fn signed_in_with(method: &str) -> &'static str {
    match SignInMethod::parse(method) {
        Some(SignInMethod::Password) | None => "Password",
        Some(SignInMethod::PasswordAndCode) => "Password and authenticator code",
        Some(SignInMethod::PasswordAndRecoveryCode) => "Password and recovery code",
        Some(SignInMethod::Passkey) => "Passkey",
    }
}
