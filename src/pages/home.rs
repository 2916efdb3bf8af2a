//! `/`: what an account here gives a person, and the ways in; for someone logged in, the way to
//! their account instead.

use crate::{
    client::{Auth, AuthStatus},
    components::SignedOutNotice,
};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    let auth = Auth::get();
    view! {
        <section class="card">
            <SignedOutNotice/>
            <h1>"One account, safe on every device"</h1>
            <p class="lead">
                "Log in once and stay logged in. See every device you use, and log out any \
                 you do not recognise with one click."
            </p>
            <ul class="points">
                <li>"Your password itself is never stored, so it cannot leak from here."</li>
                <li>"A stolen login stops working once it is used twice."</li>
                <li>"Change your password and every other device is logged out."</li>
            </ul>
            // Read inside the transition, so that the server waits for its answer.
            <Transition fallback=|| ()>
                {move || match auth.status() {
                    Some(AuthStatus::LoggedIn(_)) => view! {
                        <p class="actions">
                            <A href="/profile" attr:class="button">"Go to your profile"</A>
                            <A href="/sessions" attr:class="button secondary">"Your devices"</A>
                        </p>
                    }.into_any(),
                    _ => view! {
                        <p class="actions">
                            <A href="/register" attr:class="button">"Create an account"</A>
                            <A href="/login" attr:class="button secondary">"Log in"</A>
                        </p>
                    }.into_any(),
                }}
            </Transition>
        </section>
    }
}
