//! `/register`: email, username, full name, password. A new account is logged in at once.

use super::{entry_form, ConfirmFirst, EntryForm, SendOnWhenLoggedIn};
use crate::{
    auth::Register,
    components::{Field, FormError, SubmitButton},
    domain::{Password, Username},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let EntryForm { next, error } = entry_form(action);
    let login_href = move || next.get().login_url();
    view! {
        <Title text="Register · Gatehouse"/>
        <SendOnWhenLoggedIn next/>
        <section class="card">
            <h1>"Create an account"</h1>
            <ActionForm action>
                <FormError error/>
                <Field label="Email" name="email" kind="email" autocomplete="email" error/>
                <Field label="Username" name="username" autocomplete="username" error
                    hint=Username::RULE/>
                <Field label="Full name" name="full_name" autocomplete="name" error/>
                <Field label="Password" name="password" kind="password" autocomplete="new-password" error
                    hint=Password::RULE/>
                <SubmitButton label="Create account" busy="Creating your account…" pending=action.pending()/>
            </ActionForm>
            <ConfirmFirst error/>
            <p>"Already have an account? " <A href=login_href>"Log in"</A></p>
        </section>
    }
}
