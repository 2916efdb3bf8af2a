//! What a page that needs a login shows when its data could not be loaded on the server.

use crate::{domain::NextPath, error::AppError};
use leptos::prelude::*;

/// A missing or expired access token is cured in the browser (see `protected_resource`);
/// without JavaScript, the button asks for a refresh with a plain form post, which comes back
/// to `page`, or goes to the login page and back when the session is gone.
#[component]
pub fn NotLoaded(error: AppError, page: &'static str) -> impl IntoView {
    if !error.code.is_session_failure() {
        return view! {
            <section class="card"><p class="form-error" role="alert">{error.message}</p></section>
        }
        .into_any();
    }
    let login = NextPath::or_default(Some(page)).login_url();
    view! {
        <section class="card">
            <h1>"Checking your session…"</h1>
            <form method="post" action="/api/auth/refresh">
                <button type="submit">"Continue"</button>
            </form>
            <p>"Not logged in? " <a href=login>"Log in"</a></p>
        </section>
    }
    .into_any()
}
