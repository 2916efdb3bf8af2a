//! `/login`: email or username, and password. With JavaScript the form posts through the
//! server-function client and then goes to `?next=`; without it, the browser posts the form and
//! the server redirects to the same place.

use super::next_page;
use crate::{
    auth::Login,
    components::{Field, FormError},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_navigate};

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let next = next_page();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(_)) = action.value().get() {
            navigate(&next.get_untracked(), Default::default());
        }
    });
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let register_href = move || format!("/register?next={}", urlencode(&next.get()));
    view! {
        <Title text="Log in · Gatehouse"/>
        <section class="card">
            <h1>"Log in"</h1>
            <ActionForm action>
                <FormError error/>
                <Field label="Email or username" name="login" autocomplete="username" error/>
                <Field label="Password" name="password" kind="password" autocomplete="current-password" error/>
                <button type="submit" disabled=move || action.pending().get()>"Log in"</button>
            </ActionForm>
            <p>"New here? " <A href=register_href>"Create an account"</A></p>
        </section>
    }
}

/// Percent-encodes a path for use as a query value.
pub(super) fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
