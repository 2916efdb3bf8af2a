//! [hydrate] This tab's [`TabSession`]: a refresh is `POST /api/auth/refresh`, and a lost
//! session is a full page load of the login page, remembering where the person was.

use super::single_flight::{RefreshFuture, TabSession};
use crate::{auth::refresh, error::AppError};
use futures::future::FutureExt;
use std::{future::Future, rc::Rc};

type Tab = TabSession<fn() -> RefreshFuture, fn()>;

thread_local! {
    static TAB: Rc<Tab> = TabSession::new(refresh_session, send_to_login);
}

pub async fn call_with_refresh<T, F, Fut>(call: F) -> Result<T, AppError>
where
    F: Fn() -> Fut,
    Fut: Future<Output = Result<T, AppError>>,
{
    let tab = TAB.with(Rc::clone);
    tab.call(call).await
}

fn refresh_session() -> RefreshFuture {
    refresh().map(|outcome| outcome.map(drop)).boxed_local()
}

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
