//! The pages the links of an address change open: `/confirm-email` (mailed to the new address)
//! and `/undo-email` (mailed to the old one). Opening either spends nothing: each shows what it
//! will do and one button, a plain form (see [`PlainForm`]) that the server answers with a
//! redirect to `?done=…`. A link that cannot be used arrives as `?link=expired` or `invalid`.

use super::{plain_form_error, PlainForm};
use crate::{
    auth::{CancelEmailChange, ConfirmEmailChange},
    components::FormError,
    error::{CHANGE_LINK_EXPIRED, CHANGE_LINK_INVALID, UNDO_LINK_EXPIRED, UNDO_LINK_INVALID},
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

/// What a link page shows before its button is pressed: the dead-link message of `?link=`, or
/// the question and the button.
#[component]
fn LinkForm(
    action: &'static str,
    question: &'static str,
    button: &'static str,
    expired: &'static str,
    invalid: &'static str,
) -> impl IntoView {
    let query = use_query_map();
    let error = plain_form_error(&[action]);
    move || match query.read().get("link").as_deref() {
        Some(dead) => {
            let message = if dead == "expired" { expired } else { invalid };
            view! { <p class="form-error" role="alert">{message}</p> }.into_any()
        }
        None => {
            let token = query.read().get("token").unwrap_or_default();
            view! {
                <p>{question}</p>
                <PlainForm action>
                    <FormError error/>
                    <input type="hidden" name="token" value=token/>
                    <button type="submit">{button}</button>
                </PlainForm>
            }
            .into_any()
        }
    }
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    let done = move || query.read().get("done").is_some();
    view! {
        <Title text="Confirm your new address · Gatehouse"/>
        <section class="card">
            <h1>"Confirm your new address"</h1>
            <Show
                when=done
                fallback=|| view! {
                    <LinkForm
                        action=ConfirmEmailChange::PATH
                        question="Use this address for your account? The old one stops working for logging in."
                        button="Use this address"
                        expired=CHANGE_LINK_EXPIRED
                        invalid=CHANGE_LINK_INVALID
                    />
                }
            >
                <p class="notice" role="status">
                    "Your account uses this address now. Log in with it from now on."
                </p>
                <p><A href="/profile">"Go to your profile"</A></p>
            </Show>
        </section>
    }
}

#[component]
pub fn UndoEmailPage() -> impl IntoView {
    let query = use_query_map();
    let done = move || query.read().get("done");
    view! {
        <Title text="Keep your address · Gatehouse"/>
        <section class="card">
            <h1>"Keep your address"</h1>
            {move || match done().as_deref() {
                Some("restored") => view! {
                    <p class="notice" role="status">
                        "Your address is back, and every device has been logged out. The password \
                         was cleared too, in case someone else knew it: choose a new one to log in."
                    </p>
                    <p><A href="/forgot">"Choose a new password"</A></p>
                }.into_any(),
                Some(_) => view! {
                    <p class="notice" role="status">
                        "The change is cancelled: your account keeps this address. If you did not \
                         ask for it, someone else is logged in: change your password and look at your devices."
                    </p>
                    <p><A href="/login">"Log in"</A></p>
                }.into_any(),
                None => view! {
                    <LinkForm
                        action=CancelEmailChange::PATH
                        question="Keep this address for your account? If its address was changed already, \
                                  it comes back, and every device is logged out."
                        button="Keep my address"
                        expired=UNDO_LINK_EXPIRED
                        invalid=UNDO_LINK_INVALID
                    />
                }.into_any(),
            }}
        </section>
    }
}
