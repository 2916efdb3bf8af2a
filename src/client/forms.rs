//! Forms for protected server functions: a plain HTML form posting to the server function (so
//! it works without JavaScript, the server redirecting back), which with JavaScript is sent
//! through [`authed`](super::authed) instead, so that an expired access token is refreshed and
//! the submission retried without the person noticing.

use super::{authed, unsent};
use crate::error::AppError;
use leptos::{
    ev::SubmitEvent,
    form::FromFormData,
    html::Form,
    prelude::*,
    server::ServerActionError,
    server_fn::{error::ServerFnUrlError, ServerFn},
};
use serde::{de::DeserializeOwned, Serialize};

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

/// The action's last error, for the form's fields and message.
pub fn last_error<S>(action: AuthedAction<S>) -> Signal<Option<AppError>>
where
    S: ServerFn<Error = AppError> + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}

/// A form for `S`: posts to its URL without JavaScript, dispatches `action` with it.
#[component]
pub fn AuthedForm<S>(
    action: AuthedAction<S>,
    /// Empty the fields after a successful submission, so that no password stays in them.
    #[prop(optional)]
    clear_on_success: bool,
    /// The id of the account whose form this is, for a form without passwords: what it sends
    /// is kept while the session may be lost on the way, and filled in again after the login
    /// that follows (see [`super::unsent`]).
    #[prop(optional, into)]
    keep_unsent_for: Option<String>,
    children: Children,
) -> impl IntoView
where
    S: ServerFn<Error = AppError> + DeserializeOwned + Serialize + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let form = NodeRef::<Form>::new();
    let owner = StoredValue::new(keep_unsent_for);
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        match S::from_event(&ev) {
            Ok(input) => {
                if let (Some(owner), Ok(fields)) = (owner.get_value(), serde_json::to_value(&input))
                {
                    unsent::keep(S::PATH, &owner, fields);
                }
                action.dispatch(input);
            }
            Err(err) => action.value().set(Some(Err(AppError::invalid_input(
                crate::error::WHOLE_BODY,
                format!("The form could not be read: {err}"),
            )))),
        }
    };
    Effect::new(move |_| {
        let outcome = action.value().get();
        // A lost session sends the page to login: only then is what was sent kept.
        let reached = match &outcome {
            Some(Ok(_)) => true,
            Some(Err(error)) => !error.code.is_session_failure(),
            None => false,
        };
        if reached {
            unsent::forget(S::PATH);
        }
        if let (true, Some(Ok(_)), Some(form)) = (clear_on_success, outcome, form.get_untracked()) {
            form.reset();
        }
    });
    // Back from that login: the kept fields go back in, and the form says why.
    let restored = RwSignal::new(false);
    Effect::new(move |_| {
        let (Some(owner), Some(form)) = (owner.get_value(), form.get()) else {
            return;
        };
        for (name, value) in unsent::take(S::PATH, &owner).into_iter().flatten() {
            let field = form
                .query_selector(&format!("[name=\"{name}\"]"))
                .ok()
                .flatten();
            if let (Some(field), Some(value)) = (field, value.as_str()) {
                let _ = field.set_attribute("value", value);
                restored.set(true);
            }
        }
    });
    view! {
        <form method="post" action=S::url() node_ref=form on:submit=on_submit>
            {move || restored.get().then(|| view! {
                <p class="notice" role="status">
                    "You were logged out before your changes were saved. They are filled in \
                     again below: check them and save."
                </p>
            })}
            {children()}
        </form>
    }
}
