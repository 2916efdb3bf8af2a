//! What a page that needs a login shows when its data could not be loaded.

use crate::{domain::NextPath, error::AppError};
use leptos::prelude::*;

/// The error in words. A missing or expired access token never gets here on a full page load
/// (the server sends the load through `/api/auth/resume` first), nor in the browser (the
/// client refreshes, or goes to the login page): only a session that ended while this very
/// page was rendering does, and it gets a way to log in again.
#[component]
pub fn NotLoaded(error: AppError, page: &'static str) -> impl IntoView {
    let login = error
        .code
        .is_session_failure()
        .then(|| NextPath::or_default(Some(page)).login_url());
    view! {
        <section class="card">
            <p class="form-error" role="alert">{error.message}</p>
            {login.map(|login| view! { <p><a href=login>"Log in"</a></p> })}
        </section>
    }
}
