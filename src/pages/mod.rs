//! One file per route.

mod activity;
mod home;
mod links;
mod login;
mod not_found;
mod profile;
mod register;
mod sessions;
mod verify;

pub use activity::ActivityPage;
pub use home::HomePage;
pub use links::{ConfirmEmailPage, ForgotPage, ResetPage, UndoEmailPage};
pub use login::LoginPage;
pub use not_found::NotFound;
pub use profile::ProfilePage;
pub use register::RegisterPage;
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
