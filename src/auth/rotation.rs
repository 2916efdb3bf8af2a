//! [ssr] Refresh: the refresh token exchanged for a new pair in the same session (rotation), the
//! grace window for a token presented again moments later, and reuse after it ending the
//! session. The rule itself is `store::rotation`; this is the request around it.

use super::{
    current_user::account,
    request::{new_id, now, verified_token, CurrentRequest},
    Refreshed,
};
use crate::{
    credentials::{
        cookies::Kind,
        tokens::{refresh_token_hash, TokenError, TokenKeys},
    },
    error::{AppError, ErrorCode},
    mail::letters::Letter,
    store::{EventKind, Rotation},
};
use time::{format_description::well_known::Rfc3339, OffsetDateTime};

pub async fn refresh() -> Result<Refreshed, AppError> {
    let request = CurrentRequest::current()?;
    let outcome = rotate(&request).await;
    if let Err(e) = &outcome {
        count_refusal(e);
    }
    // Without JavaScript, the refresh is a "Continue" button on a page that needs a login:
    // back to that page when it worked, to the login page (and back after it) when not.
    let page = request.referring_page();
    match &outcome {
        Ok(_) => request.redirect_plain_form(page.as_str()),
        // Whatever the cookies held is dead now; do not let the browser keep sending it. Not
        // so for a refusal that passes (the database busy or away, a full hashing queue): the
        // session is alive, and clearing its cookie on a 503 would log the person out.
        Err(error) if error.code.is_session_failure() => {
            request.clear_cookies();
            request.redirect_plain_form(&page.login_url());
        }
        Err(_) => {}
    }
    outcome
}

/// Successes are counted where their kind is known (`rotate`); refusals by their code.
fn count_refusal(error: &AppError) {
    use crate::telemetry::metrics::{refresh, Refresh};
    match error.code {
        ErrorCode::TokenReused => refresh(Refresh::Reused),
        ErrorCode::TokenExpired => refresh(Refresh::Expired),
        code if code.is_session_failure() => refresh(Refresh::Refused),
        // The database or the hashing queue away: no verdict on the token.
        _ => {}
    }
}

pub(super) async fn rotate(request: &CurrentRequest) -> Result<Refreshed, AppError> {
    let state = &request.state;
    let (token, claims) = verified_token(
        state,
        request.headers(),
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
    // One snapshot of the keys: the successor is signed twice (for its hash in the store, and
    // for the cookie) and both must be the same token even if the keys change in between.
    let ring = state.tokens.ring();
    let signer = ring.signer();
    let successor_at = |at: OffsetDateTime| {
        state
            .tokens
            .successor(signer, token, &claims, at, ends_by)
            .map(|successor| CurrentRequest::record_of(&successor, &claims.sub, &claims.sid, at))
            .map_err(|e| crate::store::StoreError::Successor(Box::new(e)))
    };
    let reuse_notice = || {
        let notice = Letter::SessionEndedForReuse {
            devices: state.mailer.link("/sessions"),
        }
        .to(&user.email, &request.circumstances(), new_id());
        // Whoever presented the old token may be a thief or the owner's stale tab: a stranger
        // until known otherwise (`EventKind::requested_by`), from this request's device.
        let event = request.event(EventKind::ReuseDetected, &user.id, now);
        (notice, event.about(&claims.sid))
    };
    let rotation = state
        .store
        .rotate_refresh(
            &refresh_token_hash(token),
            &successor_at,
            state.config.refresh_reuse_grace,
            &reuse_notice,
        )
        .await?;
    let now = match rotation {
        Rotation::Rotated { at } => at,
        _ => self::now(),
    };
    let fresh = matches!(rotation, Rotation::Rotated { .. });
    let refresh = match rotation {
        Rotation::Rotated { at } => {
            state
                .tokens
                .successor(signer, token, &claims, at, ends_by)?
        }
        Rotation::Recent {
            rotated_at,
            successor_hash,
        } => {
            // Another request rotated this token moments ago (a second tab, a retry): answer
            // with the same successor, so the session stays one chain. It was signed by the
            // signing key then, which a rotation of keys since may have made another live one.
            let again = ring.keys.iter().find_map(|key| {
                let again = state
                    .tokens
                    .successor(key, token, &claims, rotated_at, ends_by)
                    .ok()?;
                (refresh_token_hash(&again.token) == successor_hash).then_some(again)
            });
            let Some(again) = again else {
                // Only if the refresh secret or lifetime changed, or its key was retired.
                tracing::warn!(session_id = %claims.sid, "grace-window successor mismatch");
                return Err(AppError::session_ended());
            };
            again
        }
        Rotation::Reused => {
            state.endings().ended_by_rotation(&claims.sid, now);
            state.mailer.queued();
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
    let access_expires_at = request.set_pair(access, refresh, now);
    crate::telemetry::metrics::refresh(if fresh {
        crate::telemetry::metrics::Refresh::Ok
    } else {
        crate::telemetry::metrics::Refresh::Grace
    });
    Ok(Refreshed {
        access_expires_at: access_expires_at.format(&Rfc3339).unwrap_or_default(),
    })
}
