//! `/reset?token=…`: the page a reset link opens. Opening it spends nothing; the form's POST
//! does. A link that cannot be used never gets here with its token: the server sends it on to
//! `/reset?link=expired` or `invalid` first (`auth::reset_link_detour`), and this page says so.

use super::form_error;
use crate::{
    auth::ResetPassword,
    client::Auth,
    components::{Field, FormError, SubmitButton},
    domain::Password,
    error::{RESET_LINK_EXPIRED, RESET_LINK_INVALID},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{
    components::A,
    hooks::{use_navigate, use_query_map},
};

#[component]
pub fn ResetPage() -> impl IntoView {
    let action = ServerAction::<ResetPassword>::new();
    let error = form_error(action);
    let query = use_query_map();
    let token = move || query.read().get("token").unwrap_or_default();
    let dead = move || match query.read().get("link").as_deref() {
        Some("expired") => Some(RESET_LINK_EXPIRED),
        Some(_) => Some(RESET_LINK_INVALID),
        None => None,
    };
    let auth = Auth::get();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(user)) = action.value().get() {
            auth.logged_in(Some(user));
            navigate("/profile?reset=1", Default::default());
        }
    });
    view! {
        <Title text="Choose a new password · Gatehouse"/>
        <section class="card">
            <h1>"Choose a new password"</h1>
            <Show
                when=move || dead().is_none()
                fallback=move || view! { <p class="form-error" role="alert">{dead}</p> }
            >
                <ActionForm action>
                    <FormError error/>
                    <input type="hidden" name="token" value=token/>
                    <Field label="New password" name="new_password" kind="password"
                        autocomplete="new-password" error hint=Password::RULE/>
                    <SubmitButton label="Set the new password" busy="Setting it…" pending=action.pending()/>
                </ActionForm>
                <p>"Every device logged in to the account will be logged out, and this one logged in."</p>
            </Show>
            <p><A href="/forgot">"Ask for a new link"</A></p>
        </section>
    }
}
