//! The one place protected server functions are called from. In the browser, a call that
//! answers 401 (missing, expired or invalid access token) is followed by at most one refresh
//! and one retry; when refreshing fails, the person is sent to `/login?next=<this page>`.
//! On the server there is nothing to refresh with (the refresh cookie is scoped to
//! `/api/auth`), so calls go straight through and the browser finishes the job after hydration.

mod auth_context;
mod forms;
#[cfg(feature = "hydrate")]
pub mod passkeys;
#[cfg(feature = "hydrate")]
mod refresh;
#[cfg(any(feature = "hydrate", test))]
mod single_flight;
#[cfg(feature = "hydrate")]
mod tabs;
mod unsent;

pub use auth_context::{logout_action, page_handles_session, use_sign_out, Auth, AuthStatus};
pub use forms::{authed_action, last_error, AuthedAction, AuthedForm};
pub use unsent::Unsent;

use crate::error::AppError;
use leptos::prelude::*;
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// Runs a protected server-function call, refreshing the session once if it has to.
pub async fn authed<T, F, Fut>(call: F) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    #[cfg(feature = "hydrate")]
    {
        refresh::call_with_refresh(call).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        call().await
    }
}

/// A resource loaded through [`authed`], for pages that need a login. The server renders
/// such a page only with a live access token (see `auth::resume`); in the browser, a call
/// refused for an expired one is refreshed and retried.
pub fn protected_resource<T, F, Fut>(call: F) -> Resource<Result<T, AppError>>
where
    T: Serialize + DeserializeOwned + Clone + Send + Sync + 'static,
    F: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<T, AppError>> + Send + 'static,
{
    let resource = Resource::new(
        || (),
        move |_| {
            let call = call.clone();
            let load = async move { authed(call).await };
            // In the browser the refresh state is per tab (not `Send`); it never leaves its thread.
            #[cfg(feature = "hydrate")]
            let load = send_wrapper::SendWrapper::new(load);
            load
        },
    );
    let auth = use_context::<Auth>();
    Effect::new(move |_| {
        // A protected call that answered proves a login, whatever the page showed before.
        if let (Some(Ok(_)), Some(auth)) = (resource.get(), auth) {
            auth.logged_in(None);
        }
    });
    resource
}

/// Now, in seconds since the Unix epoch: the browser's clock, or the server's.
pub fn now_unix() -> i64 {
    #[cfg(feature = "hydrate")]
    {
        (js_sys::Date::now() / 1000.0) as i64
    }
    #[cfg(not(feature = "hydrate"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| since.as_secs() as i64)
    }
}

/// Tells this browser's other tabs that it has logged out (they go to the login page). Pages
/// call it through [`use_sign_out`].
fn announce_logout() {
    #[cfg(feature = "hydrate")]
    tabs::announce_logout();
}

/// For pages that need a login: while the page is shown, a logout in another tab of this
/// browser sends this tab to the login page too (and back here after logging in).
pub fn leave_on_logout_elsewhere() {
    page_handles_session();
    #[cfg(feature = "hydrate")]
    {
        let leave = || refresh::send_to_login(Some(crate::domain::SignedOut::OtherTab));
        let watch = send_wrapper::SendWrapper::new(tabs::watch_logout(leave));
        on_cleanup(move || drop(watch));
    }
}
