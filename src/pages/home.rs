//! `/`: what this is, and the ways in.

use crate::components::SignedOutNotice;
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <section class="card">
            <SignedOutNotice/>
            <h1>"Welcome to Gatehouse"</h1>
            <p>
                "Log in once; stay logged in safely. Your session lives in two httpOnly cookies: a \
                 short-lived access token and a refresh token that is replaced every time it is used."
            </p>
            <p class="actions">
                <A href="/register" attr:class="button">"Create an account"</A>
                <A href="/login" attr:class="button secondary">"Log in"</A>
            </p>
        </section>
    }
}
