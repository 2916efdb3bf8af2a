//! [hydrate] This tab's [`TabSession`]: a refresh is `POST /api/auth/refresh`, taken under a
//! Web Lock that all tabs of the site share, so that however many tabs find their access token
//! expired, one refresh happens (see [`super::tabs`]); a lost session is a full page load of
//! the login page, remembering where the person was.

use super::{
    single_flight::{refresh_unless_done, RefreshFuture, TabSession},
    tabs,
};
use crate::{
    auth::refresh,
    domain::{NextPath, SignedOut},
    error::AppError,
};
use futures::future::FutureExt;
use std::{future::Future, rc::Rc};

type Tab = TabSession<fn(u64) -> RefreshFuture, fn(&AppError), fn() -> u64>;

thread_local! {
    static TAB: Rc<Tab> = TabSession::new(refresh_session, session_lost, tabs::generation);
}

pub async fn call_with_refresh<T, F, Fut>(call: F) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    let tab = TAB.with(Rc::clone);
    tab.call(call).await
}

/// Refreshes without retrying a call, and without going to the login page when refused.
pub async fn refresh_quietly() -> Result<(), AppError> {
    let tab = TAB.with(Rc::clone);
    tab.refresh().await
}

fn refresh_session(seen: u64) -> RefreshFuture {
    tabs::with_refresh_lock(async move {
        refresh_unless_done(seen, tabs::generation, tabs::bump_generation, || {
            refresh().map(|outcome| outcome.map(drop))
        })
        .await
    })
    .boxed_local()
}

/// The session was refused: to the login page, saying why when something ended it.
fn session_lost(error: &AppError) {
    send_to_login(SignedOut::of_refusal(error.code));
}

/// To the login page, which brings the person back here afterwards, saying why when `reason`
/// is known.
pub fn send_to_login(reason: Option<SignedOut>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let path = location.pathname().unwrap_or_default();
    if path == "/login" {
        return;
    }
    let here = format!("{path}{}", location.search().unwrap_or_default());
    // The same address the server's detour gives (`auth::resume`).
    let next = NextPath::or_default(Some(&here));
    let _ = location.assign(&SignedOut::login_url(&next, reason));
}
