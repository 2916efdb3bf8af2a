//! Form fields that show the server's `invalid_input`/`conflict` message next to the field it
//! names, and the form-wide message otherwise. Both read the action's last error, which is
//! also there after a no-JavaScript post (Leptos carries it back in the URL).

use crate::error::{AppError, WHOLE_BODY};
use leptos::prelude::*;

/// A labelled input named as the contract names the field.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    autocomplete: &'static str,
    #[prop(into)] error: Signal<Option<AppError>>,
    /// What the field holds at first (the current username, say).
    #[prop(optional, into)]
    value: Option<String>,
) -> impl IntoView {
    let message = move || {
        error
            .get()
            .filter(|e| e.field.as_deref() == Some(name))
            .map(|e| e.message)
    };
    let id = format!("field-{name}");
    let message_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            <input
                id=id
                name=name
                type=kind
                autocomplete=autocomplete
                value=value
                required
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=message_id.clone()
            />
            <p class="field-error" id=message_id role="alert">{message}</p>
        </div>
    }
}

/// The message of an error that belongs to no single field (a failed login, a server error).
#[component]
pub fn FormError(#[prop(into)] error: Signal<Option<AppError>>) -> impl IntoView {
    let message = move || {
        error
            .get()
            .filter(|e| e.field.as_deref().is_none_or(|f| f == WHOLE_BODY))
            .map(|e| e.message)
    };
    view! {
        <Show when=move || message().is_some()>
            <p class="form-error" role="alert">{message}</p>
        </Show>
    }
}
