//! `/verify`: proving the account's address. Opened from the mailed link (`?token=…`) it shows
//! one button, since opening a link spends nothing; a link that cannot be used arrives as
//! `?link=expired` or `invalid` (`auth::link_detour`). Without a token it takes the six-digit
//! code from the mail, and sends a new link. Signed out, both forms also ask whose account.

use super::form_error;
use crate::{
    auth::{ResendVerification, VerifyEmail},
    client::{Auth, AuthStatus},
    components::{Field, FormError, SubmitButton},
    error::{VERIFY_LINK_EXPIRED, VERIFY_LINK_INVALID},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

#[component]
pub fn VerifyPage() -> impl IntoView {
    let query = use_query_map();
    let token = move || query.read().get("token").filter(|t| !t.is_empty());
    let dead = move || match query.read().get("link").as_deref() {
        Some("expired") => Some(VERIFY_LINK_EXPIRED),
        Some(_) => Some(VERIFY_LINK_INVALID),
        None => None,
    };
    let by_link = ServerAction::<VerifyEmail>::new();
    let by_code = ServerAction::<VerifyEmail>::new();
    let done = move || {
        query.read().get("done").is_some()
            || [by_link, by_code]
                .iter()
                .any(|action| matches!(action.value().get(), Some(Ok(()))))
    };
    let signed_in = move || matches!(Auth::get().status(), Some(AuthStatus::LoggedIn(_)));
    view! {
        <Title text="Confirm your address · Gatehouse"/>
        <section class="card">
            <h1>"Confirm your address"</h1>
            <Show when=move || !done() fallback=move || view! { <Confirmed signed_in/> }>
                {move || dead().map(|dead| view! { <p class="form-error" role="alert">{dead}</p> })}
                <Show when=move || token().is_some() fallback=move || view! { <ByCode action=by_code signed_in/> }>
                    <ByLink action=by_link token=Signal::derive(move || token().unwrap_or_default())/>
                </Show>
            </Show>
        </section>
        <Show when=move || !done() && token().is_none()>
            <SendAgain signed_in/>
        </Show>
    }
}

#[component]
fn ByLink(action: ServerAction<VerifyEmail>, token: Signal<String>) -> impl IntoView {
    let error = form_error(action);
    view! {
        <p>"One step left: confirm that this address is yours."</p>
        <ActionForm action>
            <FormError error/>
            <input type="hidden" name="token" value=token/>
            <SubmitButton label="Confirm my address" busy="Confirming…" pending=action.pending()/>
        </ActionForm>
    }
}

#[component]
fn ByCode(
    action: ServerAction<VerifyEmail>,
    signed_in: impl Fn() -> bool + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let error = form_error(action);
    view! {
        <p>"Enter the six-digit code from the mail we sent to your address."</p>
        <ActionForm action>
            <FormError error/>
            <Show when=move || !signed_in()>
                <Field label="Email or username" name="login" autocomplete="username" error/>
            </Show>
            <Field label="Code" name="code" autocomplete="one-time-code" inputmode="numeric" error/>
            <SubmitButton label="Confirm" busy="Confirming…" pending=action.pending()/>
        </ActionForm>
    }
}

#[component]
fn SendAgain(signed_in: impl Fn() -> bool + Copy + Send + Sync + 'static) -> impl IntoView {
    let action = ServerAction::<ResendVerification>::new();
    let error = form_error(action);
    let query = use_query_map();
    let sent =
        move || matches!(action.value().get(), Some(Ok(()))) || query.read().get("sent").is_some();
    view! {
        <section class="card">
            <h2>"No mail?"</h2>
            <Show
                when=sent
                fallback=move || view! {
                    <p>"We can send a new link and code. Check your spam folder first: the last one may be there."</p>
                    <ActionForm action>
                        <FormError error/>
                        <Show when=move || !signed_in()>
                            <Field label="Email or username" name="login" autocomplete="username" error/>
                        </Show>
                        <SubmitButton label="Send a new link" busy="Sending…" pending=action.pending()/>
                    </ActionForm>
                }
            >
                <p class="notice" role="status">
                    "If the account's address is not confirmed yet, a new link and code are on their way."
                </p>
            </Show>
        </section>
    }
}

#[component]
fn Confirmed(signed_in: impl Fn() -> bool + Copy + Send + Sync + 'static) -> impl IntoView {
    view! {
        <p class="notice" role="status">"Your address is confirmed. Thank you."</p>
        <p>
            {move || if signed_in() {
                view! { <A href="/profile">"Go to your profile"</A> }.into_any()
            } else {
                view! { <A href="/login">"Log in"</A> }.into_any()
            }}
        </p>
    }
}
