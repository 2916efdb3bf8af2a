//! [ssr] What every request handler and server function shares, built once in `main`.

use crate::{
    caches::{revoked::RevokedSessions, user_cache::UserCache},
    config::Config,
    credentials::{
        devices::DeviceKeys, factors::FactorKeys, passwords::Passwords, tokens::TokenKeys,
    },
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
    /// Seals authenticator secrets and hashes recovery codes.
    pub factors: Arc<FactorKeys>,
    /// This site as a WebAuthn relying party.
    pub passkeys: Arc<crate::credentials::passkeys::RelyingParty>,
    /// Sessions ended within one access-token lifetime: refused without a query.
    pub revoked: Arc<RevokedSessions>,
    /// What `/me` answers with, without a query.
    pub users: Arc<UserCache>,
    /// When the cookie prefixes took effect (unix seconds): a token under an unprefixed name is
    /// honoured only if issued before (see `credentials::cookies`).
    pub cookie_prefixes_since: i64,
    /// Where mail links lead, and the outbox worker to wake.
    pub mailer: Arc<crate::mail::Mailer>,
    /// On PostgreSQL, the task applying other instances' changes to the two caches above; it
    /// stops when the last clone of the state is dropped.
    pub follower: Option<Arc<AbortOnDrop>>,
    /// On PostgreSQL, whether other instances' announcements are being heard (`/readyz`).
    pub listening: Option<Arc<std::sync::atomic::AtomicBool>>,
}

impl AppState {
    /// Ends sessions in the database and this instance's caches together (see
    /// `auth::endings`): the only way flows end sessions.
    pub fn endings(&self) -> crate::auth::endings::Endings<'_> {
        crate::auth::endings::Endings {
            store: self.store.as_ref(),
            revoked: &self.revoked,
            users: &self.users,
        }
    }

    /// Whether a token issued at `iat` and sent under its unprefixed name is one a browser had
    /// from before the cookie prefixes (honoured), rather than one planted since (refused).
    pub fn legacy_cookie_honoured(&self, iat: i64) -> bool {
        iat < self.cookie_prefixes_since
    }
}

/// A background task that lives as long as the state holding it.
pub struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
