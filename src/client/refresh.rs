//! [hydrate] Refreshing inside one tab: concurrent callers that hit a 401 share a single
//! in-flight `POST /api/auth/refresh`, because with rotation a second, parallel refresh would
//! present an already-used token.

use crate::{auth::refresh, error::AppError};
use futures::future::{FutureExt, LocalBoxFuture, Shared};
use std::{
    cell::{Cell, RefCell},
    future::Future,
};

type InFlight = Shared<LocalBoxFuture<'static, Result<(), AppError>>>;

thread_local! {
    static IN_FLIGHT: RefCell<Option<InFlight>> = const { RefCell::new(None) };
    /// Successful refreshes so far: a caller whose 401 predates one just retries.
    static REFRESHED: Cell<u64> = const { Cell::new(0) };
}

pub async fn call_with_refresh<T, F, Fut>(call: F) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    let refreshes_before = REFRESHED.with(Cell::get);
    match call().await {
        Err(e) if e.code.is_session_failure() => {
            if REFRESHED.with(Cell::get) == refreshes_before {
                if let Err(failed) = shared_refresh().await {
                    if failed.code.is_session_failure() {
                        send_to_login();
                    }
                    return Err(failed);
                }
            }
            let retried = call().await;
            if matches!(&retried, Err(e) if e.code.is_session_failure()) {
                send_to_login();
            }
            retried
        }
        other => other,
    }
}

/// Joins the refresh in flight, or starts one.
fn shared_refresh() -> InFlight {
    IN_FLIGHT.with(|slot| {
        slot.borrow_mut()
            .get_or_insert_with(|| {
                async {
                    let outcome = refresh().await.map(drop);
                    if outcome.is_ok() {
                        REFRESHED.with(|n| n.set(n.get() + 1));
                    }
                    IN_FLIGHT.with(|slot| slot.borrow_mut().take());
                    outcome
                }
                .boxed_local()
                .shared()
            })
            .clone()
    })
}

/// A full page load of the login page, remembering where the person was.
fn send_to_login() {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let path = location.pathname().unwrap_or_default();
    if path == "/login" {
        return;
    }
    let here = format!("{path}{}", location.search().unwrap_or_default());
    let next = String::from(js_sys::encode_uri_component(&here));
    let _ = location.assign(&format!("/login?next={next}"));
}
