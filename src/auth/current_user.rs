//! [ssr] Who is logged in: the account behind a request's access token, for `/me` and for
//! pages as they render.

use super::request::{authenticate, CurrentRequest};
use crate::{domain::User, error::AppError, state::AppState, store::UserRecord};

pub async fn me() -> Result<User, AppError> {
    let request = CurrentRequest::current()?;
    current_user(&request.state, request.headers()).await
}

/// The user of the request's access token: no query once the account is in the cache. Shared by
/// the server function (page renders) and the plain route that answers `GET /api/auth/me`.
pub async fn current_user(state: &AppState, headers: &http::HeaderMap) -> Result<User, AppError> {
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
pub(super) async fn account(state: &AppState, user_id: &str) -> Result<UserRecord, AppError> {
    // A disabled account's sessions ended when it was disabled: a token still in flight from
    // one does nothing (no refresh, no change).
    state
        .store
        .find_user(user_id)
        .await?
        .filter(|user| user.disabled_at.is_none())
        .ok_or_else(AppError::session_ended)
}

/// The path of [`me_route`], taken from the server-function router (`server.rs`).
pub const ME_PATH: &str = "/api/auth/me";

/// `GET /api/auth/me` as a plain axum handler: the hottest endpoint, called on every protected
/// page load, skips the server-function dispatch (a reactive owner, contexts, response
/// options) that it does not need. Same answers as [`me`]: the user JSON, or the error JSON
/// under its code's status.
pub async fn me_route(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    headers: http::HeaderMap,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    match current_user(&state, &headers).await {
        Ok(user) => axum::Json(user).into_response(),
        Err(error) => error.into_response(),
    }
}
