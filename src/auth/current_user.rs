//! [ssr] Who is logged in: the account behind a request's access token, for `/me` and for
//! pages as they render.

use super::request::{authenticate, CurrentRequest};
use crate::{domain::User, error::AppError, state::AppState, store::UserRecord};

pub async fn me() -> Result<User, AppError> {
    let request = CurrentRequest::current()?;
    me_of(&request.state, request.headers()).await
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
pub(super) async fn account(state: &AppState, user_id: &str) -> Result<UserRecord, AppError> {
    state
        .store
        .find_user(user_id)
        .await?
        .ok_or_else(AppError::session_ended)
}
