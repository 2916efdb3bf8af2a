//! `/verify`: proving the account's address. Opened from the mailed link (`?token=…`) it is a
//! link page (see `links.rs`): one button, since opening a link spends nothing. A link that
//! cannot be used arrives as `?link=expired` or `invalid` (`auth::link_detour`), and is answered
//! here, with the code form and a new link. Without a token it takes the six-digit
//! code from the mail, or sends a new link (the same form's second button). Signed out, the form
//! also asks whose account. It posts as a plain form (see [`PlainForm`]): the server redirects
//! to `?done=1` or `?sent=1`, or back with the error.

use super::{
    links::{LinkPageView, VERIFY_LINK},
    plain_form_error, PlainForm,
};
use crate::{
    auth::{ResendVerification, VerifyEmail},
    client::{Auth, AuthStatus},
    components::{Field, FormError},
    error::{VERIFY_LINK_EXPIRED, VERIFY_LINK_INVALID},
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn VerifyPage() -> impl IntoView {
    let query = use_query_map();
    let has = move |key: &str| query.read().get(key).is_some_and(|v| !v.is_empty());
    let dead = move || match query.read().get("link").as_deref() {
        Some("expired") => Some(VERIFY_LINK_EXPIRED),
        Some(_) => Some(VERIFY_LINK_INVALID),
        None => None,
    };
    let error = plain_form_error(&[VerifyEmail::PATH, ResendVerification::PATH]);
    let auth = Auth::get();
    let signed_in = move || matches!(auth.status(), Some(AuthStatus::LoggedIn(_)));
    // Whose account, when the page knows: a form posted after the access token expired (a plain
    // post refreshes nothing) still names it, so the code or the new link still works.
    let known = move || match auth.status() {
        Some(AuthStatus::LoggedIn(Some(user))) => Some(user.username),
        _ => None,
    };
    view! {
        {move || if has("token") || has("done") {
            view! { <LinkPageView page=&VERIFY_LINK/> }.into_any()
        } else {
            view! {
                <Title text="Confirm your address · Gatehouse"/>
                <section class="card">
                    <h1>"Confirm your address"</h1>
                    {dead().map(|dead| view! { <p class="form-error" role="alert">{dead}</p> })}
                    {has("sent").then(|| view! {
                        <p class="notice" role="status">
                            "If the account's address is not confirmed yet, a new link and code are on their way."
                        </p>
                    })}
                    <p>"Enter the six-digit code from the mail we sent to your address."</p>
                    <PlainForm action=VerifyEmail::PATH>
                        <FormError error/>
                        <WhoseAccount signed_in=signed_in() known=known() error/>
                        <Field label="Code" name="code" autocomplete="one-time-code" inputmode="numeric" error/>
                        <div class="actions">
                            <button type="submit">"Confirm"</button>
                            // The same form, sent elsewhere: the code is not needed for that.
                            <button type="submit" class="secondary" formaction=ResendVerification::PATH
                                formnovalidate=true>"Send a new link"</button>
                        </div>
                    </PlainForm>
                    <p class="hint">"No mail? Check your spam folder first. A new link replaces the last one."</p>
                </section>
            }.into_any()
        }}
    }
}

/// The account a form is about: the one signed in (by name, hidden), or a field to name it.
#[component]
fn WhoseAccount(
    signed_in: bool,
    known: Option<String>,
    error: Signal<Option<crate::error::AppError>>,
) -> impl IntoView {
    match (signed_in, known) {
        (true, Some(name)) => view! { <input type="hidden" name="login" value=name/> }.into_any(),
        (true, None) => ().into_any(),
        (false, _) => view! {
            <Field label="Email or username" name="login" autocomplete="username" error/>
        }
        .into_any(),
    }
}
