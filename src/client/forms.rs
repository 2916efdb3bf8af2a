//! Forms for protected server functions: a plain HTML form posting to the server function (so
//! it works without JavaScript, the server redirecting back), which with JavaScript is sent
//! through [`authed`](super::authed) instead, so that an expired access token is refreshed and
//! the submission retried without the person noticing.

use super::authed;
use crate::error::AppError;
use leptos::{
    ev::SubmitEvent,
    form::FromFormData,
    html::Form,
    prelude::*,
    server::ServerActionError,
    server_fn::{error::ServerFnUrlError, ServerFn},
};
use serde::de::DeserializeOwned;

/// What a protected form's submission gave: the server function's output, or its error.
pub type AuthedAction<S> = Action<S, Result<<S as ServerFn>::Output, AppError>>;

/// An action calling server function `S` through [`authed`]. After a no-JavaScript post that
/// failed, the page is rendered with the error (carried back in the URL), just as
/// `ServerAction` does.
pub fn authed_action<S>() -> AuthedAction<S>
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
{
    let after_plain_post = use_context::<ServerActionError>().and_then(|error| {
        (error.path() == S::PATH)
            .then(|| ServerFnUrlError::<AppError>::decode_err(error.err()).from_url())
            .map(Err)
    });
    let run = |input: &S| {
        let input = input.clone();
        authed(move || S::run_on_client(input.clone()))
    };
    // In the browser the call's future is not `Send` (it holds JS values): an unsync action.
    // On the server that kind keeps its value in a thread-bound wrapper, and a page's reactive
    // owner can be dropped on another of tokio's threads than the one that rendered it: that
    // panicked ("Dropped SendWrapper<T> variable from a thread different…") after a response.
    #[cfg(feature = "ssr")]
    return Action::new_with_value(after_plain_post, run);
    #[cfg(not(feature = "ssr"))]
    Action::new_unsync_with_value(after_plain_post, run)
}

/// The action's last error, for the form's fields and message; none while it is sent again.
pub fn last_error<S>(action: AuthedAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    // While the next submission is in flight, the last one's error is out of date.
    Signal::derive(move || {
        if action.pending().get() {
            return None;
        }
        action.value().get().and_then(Result::err)
    })
}

/// A form for `S`: posts to its URL without JavaScript, dispatches `action` with it.
#[component]
pub fn AuthedForm<S>(
    action: AuthedAction<S>,
    /// Empty the fields after a successful submission, so that no password stays in them.
    #[prop(optional)]
    clear_on_success: bool,
    children: Children,
) -> impl IntoView
where
    S: ServerFn<Error = AppError> + DeserializeOwned + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let form = NodeRef::<Form>::new();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        match S::from_event(&ev) {
            Ok(input) => {
                action.dispatch(input);
            }
            Err(err) => action.value().set(Some(Err(AppError::invalid_input(
                crate::error::WHOLE_BODY,
                format!("The form could not be read: {err}"),
            )))),
        }
    };
    Effect::new(move |_| {
        if let (true, Some(Ok(_)), Some(form)) =
            (clear_on_success, action.value().get(), form.get_untracked())
        {
            form.reset();
        }
    });
    view! {
        <form method="post" action=S::url() node_ref=form on:submit=on_submit>
            {children()}
        </form>
    }
}
