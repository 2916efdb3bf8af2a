//! `/login`: email or username, and password. With JavaScript the form posts through the
//! server-function client and then goes to `?next=`; without it, the browser posts the form and
//! the server redirects to the same place.

use super::{
    entry_form, second_step_error, ConfirmFirst, EntryForm, SecondStepForm, SendOnWhenLoggedIn,
};
use crate::{
    auth::Login,
    components::{Field, FormError, SignedOutNotice, SubmitButton},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn LoginPage() -> impl IntoView {
    let action = ServerAction::<Login>::new();
    let EntryForm { next, error } = entry_form(action);
    let register_href = move || next.get().via("/register");
    // The password was right and the account has a second factor, or a code came back wrong.
    let step_error = second_step_error();
    let second_step = move || {
        step_error.get().is_some()
            || error
                .get()
                .is_some_and(|e| e.code == crate::error::ErrorCode::MfaRequired)
    };
    view! {
        <Title text="Log in · Gatehouse"/>
        <SendOnWhenLoggedIn next/>
        <section class="card">
            <h1>"Log in"</h1>
            <SignedOutNotice for_next=true/>
            <Show
                when=second_step
                fallback=move || view! {
                    <ActionForm action>
                        <FormError error/>
                        // `webauthn`: the browser lists this site's passkeys in the field's autofill.
                        <Field label="Email or username" name="login" autocomplete="username webauthn" error/>
                        <Field label="Password" name="password" kind="password" autocomplete="current-password" error/>
                        <SubmitButton label="Log in" busy="Logging in…" pending=action.pending()/>
                    </ActionForm>
                }
            >
                <SecondStepForm/>
            </Show>
            <ConfirmFirst error/>
            <p><A href="/forgot">"Forgot your password?"</A></p>
            <p>"New here? " <A href=register_href>"Create an account"</A></p>
        </section>
    }
}
