//! `/forgot`: the address of the account, for a link to choose a new password. The page says
//! the same thing whether or not an account uses the address.

use super::form_error;
use crate::{
    auth::RequestPasswordReset,
    components::{Field, FormError, SubmitButton},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn ForgotPage() -> impl IntoView {
    let action = ServerAction::<RequestPasswordReset>::new();
    let error = form_error(action);
    let query = use_query_map();
    // With JavaScript, the answer; without, the server's redirect to `?sent=1`.
    let sent =
        move || matches!(action.value().get(), Some(Ok(()))) || query.read().get("sent").is_some();
    view! {
        <Title text="Forgot your password · Gatehouse"/>
        <section class="card">
            <h1>"Forgot your password?"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <p>"Type the email address of your account. We will send it a link to choose a new password."</p>
                    <ActionForm action>
                        <FormError error/>
                        <Field label="Email" name="email" kind="email" autocomplete="email" error/>
                        <SubmitButton label="Send the link" busy="Sending…" pending=action.pending()/>
                    </ActionForm>
                }
            >
                <p class="notice" role="status">
                    "If an account uses that address, a link to choose a new password is on its way. \
                     It works once, and only for a short while. If nothing arrives, check your spam folder."
                </p>
            </Show>
            <p><A href="/login">"Back to log in"</A></p>
        </section>
    }
}
