//! The pages the links of an address change open: `/confirm-email` (mailed to the new address)
//! and `/undo-email` (mailed to the old one). Opening either spends nothing: each shows what it
//! will do and one button. A link that cannot be used arrives as `?link=expired` or `invalid`.

use super::form_error;
use crate::{
    auth::{CancelEmailChange, ConfirmEmailChange},
    components::{FormError, SubmitButton},
    error::{CHANGE_LINK_EXPIRED, CHANGE_LINK_INVALID, UNDO_LINK_EXPIRED, UNDO_LINK_INVALID},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

/// The dead-link message of `?link=`, if any.
fn dead_link(
    expired: &'static str,
    invalid: &'static str,
) -> impl Fn() -> Option<&'static str> + Copy {
    let query = use_query_map();
    move || match query.read().get("link").as_deref() {
        Some("expired") => Some(expired),
        Some(_) => Some(invalid),
        None => None,
    }
}

fn token() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || query.read().get("token").unwrap_or_default())
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let action = ServerAction::<ConfirmEmailChange>::new();
    let error = form_error(action);
    let dead = dead_link(CHANGE_LINK_EXPIRED, CHANGE_LINK_INVALID);
    let query = use_query_map();
    let done =
        move || matches!(action.value().get(), Some(Ok(()))) || query.read().get("done").is_some();
    let token = token();
    view! {
        <Title text="Confirm your new address · Gatehouse"/>
        <section class="card">
            <h1>"Confirm your new address"</h1>
            {move || if done() {
                view! {
                    <p class="notice" role="status">
                        "Your account uses this address now. Log in with it from now on."
                    </p>
                    <p><A href="/profile">"Go to your profile"</A></p>
                }.into_any()
            } else if let Some(dead) = dead() {
                view! { <p class="form-error" role="alert">{dead}</p> }.into_any()
            } else {
                view! {
                    <p>"Use this address for your account? The old one stops working for logging in."</p>
                    <ActionForm action>
                        <FormError error/>
                        <input type="hidden" name="token" value=token/>
                        <SubmitButton label="Use this address" busy="Changing it…" pending=action.pending()/>
                    </ActionForm>
                }.into_any()
            }}
        </section>
    }
}

#[component]
pub fn UndoEmailPage() -> impl IntoView {
    let action = ServerAction::<CancelEmailChange>::new();
    let error = form_error(action);
    let dead = dead_link(UNDO_LINK_EXPIRED, UNDO_LINK_INVALID);
    let query = use_query_map();
    // Some(true): the old address is back; Some(false): a pending change was cancelled.
    let outcome = move || match action.value().get() {
        Some(Ok(restored)) => Some(restored),
        _ => match query.read().get("done").as_deref() {
            Some("restored") => Some(true),
            Some(_) => Some(false),
            None => None,
        },
    };
    let token = token();
    view! {
        <Title text="Keep your address · Gatehouse"/>
        <section class="card">
            <h1>"Keep your address"</h1>
            {move || match (outcome(), dead()) {
                (Some(true), _) => view! {
                    <p class="notice" role="status">
                        "Your address is back, and every device has been logged out. If someone \
                         else may know your password, choose a new one now."
                    </p>
                    <p><A href="/forgot">"Choose a new password"</A></p>
                }.into_any(),
                (Some(false), _) => view! {
                    <p class="notice" role="status">
                        "The change is cancelled: your account keeps this address. If you did not \
                         ask for it, someone else is logged in: change your password and look at your devices."
                    </p>
                    <p><A href="/login">"Log in"</A></p>
                }.into_any(),
                (None, Some(dead)) => view! { <p class="form-error" role="alert">{dead}</p> }.into_any(),
                (None, None) => view! {
                    <p>"Keep this address for your account? If its address was changed already, \
                        it comes back, and every device is logged out."</p>
                    <ActionForm action>
                        <FormError error/>
                        <input type="hidden" name="token" value=token/>
                        <SubmitButton label="Keep my address" busy="Working…" pending=action.pending()/>
                    </ActionForm>
                }.into_any(),
            }}
        </section>
    }
}
