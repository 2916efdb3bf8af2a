//! One file per route.

mod activity;
mod home;
mod links;
mod login;
mod not_found;
mod profile;
mod register;
mod security;
mod sessions;
mod verify;

pub use activity::ActivityPage;
pub use home::HomePage;
pub use links::{ConfirmEmailPage, ForgotPage, ResetPage, UndoEmailPage};
pub use login::LoginPage;
pub use not_found::NotFound;
pub use profile::ProfilePage;
pub use register::RegisterPage;
pub use security::SecurityPage;
pub use sessions::SessionsPage;
pub use verify::VerifyPage;

use crate::{
    client::{page_handles_session, Auth, AuthStatus},
    domain::{NextPath, User},
    error::AppError,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_router::hooks::{use_navigate, use_query_map};

/// What the login and register forms share: where to go once in, and the last error to show.
struct EntryForm {
    /// The page named by `?next=`, if it is one of ours; else the profile.
    next: Signal<NextPath>,
    error: Signal<Option<AppError>>,
}

/// Wires a login or register action: on success (with JavaScript) go on to `next`.
fn entry_form<S>(action: ServerAction<S>) -> EntryForm
where
    S: ServerFn<Output = User, Error = AppError> + Clone + Send + Sync + 'static,
{
    page_handles_session();
    let query = use_query_map();
    let next = Signal::derive(move || NextPath::or_default(query.read().get("next").as_deref()));
    let navigate = use_navigate();
    let auth = Auth::get();
    Effect::new(move |_| {
        if let Some(Ok(user)) = action.value().get() {
            auth.logged_in(Some(user));
            navigate(next.get_untracked().as_str(), Default::default());
        }
    });
    EntryForm {
        next,
        error: form_error(action),
    }
}

/// The last error of a form's action. Until the form is sent from this page, an error can only
/// have come from the URL (a post without JavaScript): our words for its code are shown, never
/// the URL's text. None while the form is sent again: the last answer is out of date.
fn form_error<S>(action: ServerAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || {
        if action.pending().get() {
            return None;
        }
        let error = action.value().get().and_then(Result::err)?;
        Some(if action.version().get() == 0 {
            error.from_url()
        } else {
            error
        })
    })
}

/// Under a login or registration refused until the address is confirmed: the way to do it.
#[component]
fn ConfirmFirst(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        let unverified = error
            .get()
            .is_some_and(|e| e.code == crate::error::ErrorCode::EmailUnverified);
        unverified.then(|| {
            view! {
                <p><leptos_router::components::A href="/verify">
                    "Confirm your address, or get a new link"
                </leptos_router::components::A></p>
            }
        })
    }
}

/// A form that posts as the browser does, with or without JavaScript, for the one-button pages
/// that mailed links open: the server answers with a redirect to the page saying what happened,
/// or back here with the error in the URL. Not generic over the server function (as
/// `ActionForm` is), so each such form costs the client almost nothing.
#[component]
fn PlainForm(
    /// The server function's path (`S::PATH`).
    action: &'static str,
    children: Children,
) -> impl IntoView {
    view! { <form method="post" action=action>{children()}</form> }
}

/// The error a plain post to one of `paths` came back with, in our words for its code.
fn plain_form_error(paths: &[&str]) -> Signal<Option<AppError>> {
    let error = use_context::<leptos::server::ServerActionError>().and_then(|error| {
        paths.contains(&error.path()).then(|| {
            leptos::server_fn::error::ServerFnUrlError::<AppError>::decode_err(error.err())
                .from_url()
        })
    });
    Signal::stored(error)
}

/// A login's second step (after `mfa_required`): the code from the authenticator app, a
/// recovery code, or a passkey of the account (which signs in on its own). A plain post, with or without JavaScript: the server answers with a redirect
/// to where the person was going, signed in, or back here with the error
/// ([`second_step_error`]). `note` says what happened first (a reset's new password is set).
#[component]
fn SecondStepForm(#[prop(optional)] note: Option<&'static str>) -> impl IntoView {
    let error = second_step_error();
    view! {
        <PlainForm action=crate::auth::CompleteLogin::PATH>
            {note.map(|note| view! { <p class="notice" role="status">{note}</p> })}
            <h2>"Two-step verification"</h2>
            <p>"Enter the six-digit code from your authenticator app. Lost your phone? Enter one of your recovery codes instead."</p>
            <crate::components::FormError error/>
            <crate::components::Field label="Code" name="code" autocomplete="one-time-code"
                inputmode="numeric" error/>
            <button type="submit">"Continue"</button>
        </PlainForm>
    }
}

/// The error a second step's plain post came back with, if it did.
fn second_step_error() -> Signal<Option<AppError>> {
    plain_form_error(&[crate::auth::CompleteLogin::PATH])
}

/// Under a change refused for want of a recent proof of who is asking (`step_up_required`):
/// the password (and the authenticator's code, if the account has one), or one of the account's
/// passkeys, give it, and the page comes back to try the change again. A plain post, with or without JavaScript: no client
/// code for it. Shown too when the confirmation itself came back refused.
#[component]
fn ConfirmStepUp(
    error: Signal<Option<AppError>>,
    /// The session's proof is known to be out of date already: ask before any change is tried.
    #[prop(optional)]
    stale: bool,
) -> impl IntoView {
    let refused = plain_form_error(&[crate::auth::ConfirmIdentity::PATH]);
    let asked = move || {
        stale
            || refused.get().is_some()
            || error
                .get()
                .is_some_and(|e| e.code == crate::error::ErrorCode::StepUpRequired)
    };
    view! {
        <Show when=asked>
            <PlainForm action=crate::auth::ConfirmIdentity::PATH>
                <h2>"Confirm it's you"</h2>
                <p class="hint">"For changes like this we need your password again, as you logged in a while ago."</p>
                <crate::components::FormError error=refused/>
                <crate::components::Field label="Your password" name="password" kind="password" autocomplete="current-password" error=refused/>
                <crate::components::Field label="Code from your authenticator app, if you use one" name="code" autocomplete="one-time-code" inputmode="numeric" optional=true error=refused/>
                <button type="submit">"Confirm"</button>
            </PlainForm>
        </Show>
    }
}

/// Someone logged in has nothing to do on the login and register pages: they go on to `next`.
/// A full page load is sent on by the server before it renders (`auth::resume::detour`); in
/// the browser (the back button after logging in, say), the router navigates. Only what is
/// known as the page opens counts: a login made on this page navigates by itself.
#[component]
fn SendOnWhenLoggedIn(next: Signal<NextPath>) -> impl IntoView {
    let auth = Auth::get();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if matches!(auth.status_untracked(), Some(AuthStatus::LoggedIn(_))) {
            // In place of this page in the history, so that "back" is not a loop.
            let options = leptos_router::NavigateOptions {
                replace: true,
                ..Default::default()
            };
            navigate(next.get_untracked().as_str(), options);
        }
    });
}
