//! The pages that links in mail open: `/reset` (a new password), `/confirm-email` (move the
//! account to the address the link was sent to) and `/undo-email` (keep the old address); and
//! `/forgot`, which asks for a reset link, drawn alike.
//! Opening one spends nothing (mail scanners fetch links): each shows what it will do and one
//! button. A link that cannot be used never gets here with its token: the server sends it on to
//! the same page with `?link=expired` or `invalid` first (`auth::link_detour`), and the page
//! says so. The forms post as plain forms (see [`PlainForm`]); the server answers with a
//! redirect to `?done=…` (or, for a reset, to the profile, logged in), or back with the error.
//!
//! One component draws all three from a description each: one view shape in the client
//! instead of three (each shape costs kilobytes of WASM).

use super::{plain_form_error, second_step_error, PlainForm, SecondStepForm};
use crate::{
    auth::{
        CancelEmailChange, ConfirmEmailChange, RequestPasswordReset, ResetPassword, VerifyEmail,
    },
    components::{Field, FormError},
    domain::Password,
    error::{
        CHANGE_LINK_EXPIRED, CHANGE_LINK_INVALID, RESET_LINK_EXPIRED, RESET_LINK_INVALID,
        UNDO_LINK_EXPIRED, UNDO_LINK_INVALID, VERIFY_LINK_EXPIRED, VERIFY_LINK_INVALID,
    },
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::{components::A, hooks::use_query_map};

/// A link of a page: where to, and its words.
type Link = (&'static str, &'static str);

/// What happened, as the server's redirect named it (`?done=restored`, say), and where to go
/// next, if anywhere but the page's `always` link.
pub(super) struct Done {
    word: &'static str,
    said: &'static str,
    next: Option<Link>,
}

/// What a page opened from a mailed link says and does.
pub(super) struct LinkPage {
    title: &'static str,
    question: &'static str,
    /// The server function the button posts to.
    action: &'static str,
    button: &'static str,
    /// The one field the form asks for besides the token, if any: label, name, type,
    /// autocomplete, and the hint said under its label.
    field: Option<(
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    )>,
    /// The query key that says the form was sent, with its word (`done`, or `sent` for
    /// `/forgot`).
    done_key: &'static str,
    expired: &'static str,
    invalid: &'static str,
    /// What each word of the `done_key` query says happened.
    done: &'static [Done],
    /// A way out shown whatever the state (path, words).
    always: Option<Link>,
}

const RESET: LinkPage = LinkPage {
    title: "Choose a new password",
    question: "Every device logged in to the account will be logged out, and this one logged in.",
    action: ResetPassword::PATH,
    button: "Set the new password",
    field: Some((
        "New password",
        "new_password",
        "password",
        "new-password",
        Password::RULE,
    )),
    done_key: "done",
    expired: RESET_LINK_EXPIRED,
    invalid: RESET_LINK_INVALID,
    done: &[],
    always: Some(("/forgot", "Ask for a new link")),
};

const CONFIRM_EMAIL: LinkPage = LinkPage {
    title: "Confirm your new address",
    question: "Use this address for your account? The old one stops working for logging in.",
    action: ConfirmEmailChange::PATH,
    button: "Use this address",
    field: None,
    done_key: "done",
    expired: CHANGE_LINK_EXPIRED,
    invalid: CHANGE_LINK_INVALID,
    done: &[Done {
        word: "1",
        said: "Your account uses this address now. Log in with it from now on.",
        next: Some(("/profile", "Go to your profile")),
    }],
    always: None,
};

const UNDO_EMAIL: LinkPage = LinkPage {
    title: "Keep your address",
    question: "Keep this address for your account? If its address was changed already, it comes \
               back, and every device is logged out.",
    action: CancelEmailChange::PATH,
    button: "Keep my address",
    field: None,
    done_key: "done",
    expired: UNDO_LINK_EXPIRED,
    invalid: UNDO_LINK_INVALID,
    done: &[
        Done {
            word: "restored",
            said: "Your address is back, and every device has been logged out. The password was \
                   cleared too, in case someone else knew it: choose a new one to log in.",
            next: Some(("/forgot", "Choose a new password")),
        },
        Done {
            word: "cancelled",
            said: "The change is cancelled: your account keeps this address. If you did not ask \
                   for it, someone else is logged in: change your password and look at your \
                   devices.",
            next: Some(("/login", "Log in")),
        },
    ],
    always: None,
};

/// `/verify?token=…` (and `?done=1`, after the link or the code); `verify.rs` draws the rest.
pub(super) const VERIFY_LINK: LinkPage = LinkPage {
    title: "Confirm your address",
    question: "One step left: confirm that this address is yours.",
    action: VerifyEmail::PATH,
    button: "Confirm my address",
    field: None,
    done_key: "done",
    expired: VERIFY_LINK_EXPIRED,
    invalid: VERIFY_LINK_INVALID,
    done: &[Done {
        word: "1",
        said: "Your address is confirmed. Thank you.",
        // Signed out, the profile asks for a login first and comes back.
        next: Some(("/profile", "Go to your profile")),
    }],
    always: None,
};

const FORGOT: LinkPage = LinkPage {
    title: "Forgot your password?",
    question: "Type the email address of your account. We will send it a link to choose a new \
               password.",
    action: RequestPasswordReset::PATH,
    button: "Send the link",
    field: Some((
        "Email",
        "email",
        "email",
        "email",
        "The address you registered with, or last moved the account to.",
    )),
    done_key: "sent",
    expired: "",
    invalid: "",
    done: &[Done {
        word: "1",
        said: "If an account uses that address, a link to choose a new password is on its way. \
               It works once, and only for a short while. If nothing arrives, check your spam \
               folder.",
        next: None,
    }],
    always: Some(("/login", "Back to log in")),
};

/// `/forgot`: the address of the account, for a reset link. The page says the same thing
/// whether or not an account uses the address.
#[component]
pub fn ForgotPage() -> impl IntoView {
    view! { <LinkPageView page=&FORGOT/> }
}

#[component]
pub fn ResetPage() -> impl IntoView {
    view! { <LinkPageView page=&RESET/> }
}

#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    view! { <LinkPageView page=&CONFIRM_EMAIL/> }
}

#[component]
pub fn UndoEmailPage() -> impl IntoView {
    view! { <LinkPageView page=&UNDO_EMAIL/> }
}

#[component]
pub(super) fn LinkPageView(page: &'static LinkPage) -> impl IntoView {
    let query = use_query_map();
    let error = plain_form_error(&[page.action]);
    let step_error = second_step_error();
    let needs_code = move || {
        step_error.get().is_some()
            || error
                .get()
                .is_some_and(|e| e.code == crate::error::ErrorCode::MfaRequired)
    };
    let state = move || {
        let query = query.read();
        let done = query.get(page.done_key).and_then(|word| {
            page.done
                .iter()
                .find(|done| done.word == word)
                .map(|done| (done.said, done.next))
        });
        let dead = query.get("link").map(|why| match why.as_str() {
            "expired" => page.expired,
            _ => page.invalid,
        });
        (done, dead, query.get("token").unwrap_or_default())
    };
    view! {
        <Title text=format!("{} · Gatehouse", page.title)/>
        <section class="card">
            <h1>{page.title}</h1>
            {move || match state() {
                // A reset of an account with a second factor: set, and a code to go on.
                _ if page.action == ResetPassword::PATH && needs_code() => view! {
                    <SecondStepForm note="Your new password is set. One more step to log in."/>
                }.into_any(),
                (Some((said, next)), _, _) => view! {
                    <p class="notice" role="status">{said}</p>
                    {next.map(|(href, words)| view! { <p><A href=href>{words}</A></p> })}
                }.into_any(),
                (None, Some(dead), _) => view! { <p class="form-error" role="alert">{dead}</p> }.into_any(),
                (None, None, token) => view! {
                    <p>{page.question}</p>
                    <PlainForm action=page.action>
                        <FormError error/>
                        <input type="hidden" name="token" value=token/>
                        {page.field.map(|(label, name, kind, autocomplete, hint)| view! {
                            <Field label name kind autocomplete error hint/>
                        })}
                        <button type="submit">{page.button}</button>
                    </PlainForm>
                }.into_any(),
            }}
            {page.always.map(|(href, words)| view! { <p><A href=href>{words}</A></p> })}
        </section>
    }
}
