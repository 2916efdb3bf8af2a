//! [ssr] What every request handler and server function shares, built once in `main`.

use crate::{
    auth::{
        devices::DeviceKeys, passwords::Passwords, revoked::RevokedSessions, tokens::TokenKeys,
        user_cache::UserCache,
    },
    config::Config,
    security::limits::AttemptLimits,
    store::Store,
};
use axum::extract::FromRef;
use leptos::prelude::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub tokens: Arc<TokenKeys>,
    pub passwords: Arc<Passwords>,
    pub limits: Arc<AttemptLimits>,
    /// Signs and checks the trusted-device cookies.
    pub devices: Arc<DeviceKeys>,
    /// Sessions ended within one access-token lifetime: refused without a query.
    pub revoked: Arc<RevokedSessions>,
    /// What `/me` answers with, without a query.
    pub users: Arc<UserCache>,
    /// On PostgreSQL, the task applying other instances' changes to the two caches above; it
    /// stops when the last clone of the state is dropped.
    pub follower: Option<Arc<crate::server::AbortOnDrop>>,
}
