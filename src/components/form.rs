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
    /// The rule to follow, said under the label and read with the field.
    #[prop(optional)]
    hint: Option<&'static str>,
    /// The keyboard a phone shows (`numeric` for a code).
    #[prop(optional)]
    inputmode: Option<&'static str>,
    /// May be left empty (a code asked for only if the account has an app).
    #[prop(optional)]
    optional: bool,
) -> impl IntoView {
    // Retyping puts the field's error away: it was about what was there before.
    let retyped = RwSignal::new(false);
    let message = move || {
        error
            .get()
            .filter(|e| e.field.as_deref() == Some(name) && !retyped.get())
            .map(|e| e.message)
    };
    let input = NodeRef::<leptos::html::Input>::new();
    // A new answer: its error for this field shows (whatever was typed since), and the
    // keyboard goes to the field, so that the person is where the problem is.
    Effect::new(move |_| {
        let about_this = error
            .get()
            .is_some_and(|e| e.field.as_deref() == Some(name));
        retyped.set(false);
        if about_this {
            if let Some(input) = input.get_untracked() {
                let _ = input.focus();
            }
        }
    });
    let id = format!("field-{name}");
    let message_id = format!("{id}-error");
    let hint_id = format!("{id}-hint");
    let described_by = match hint {
        Some(_) => format!("{hint_id} {message_id}"),
        None => message_id.clone(),
    };
    // A password can be shown as typed. The toggle appears once the page is live (it needs
    // JavaScript), so the server's page and the hydrated one agree.
    let is_password = kind == "password";
    let shown = RwSignal::new(false);
    let live = RwSignal::new(false);
    if is_password {
        Effect::new(move |_| live.set(true));
    }
    let input_type = move || if shown.get() { "text" } else { kind };
    let toggle = {
        let id = id.clone();
        move || {
            (is_password && live.get()).then(|| {
                view! {
                    <button
                        type="button"
                        class="toggle"
                        aria-controls=id.clone()
                        aria-pressed=move || shown.get().to_string()
                        on:click=move |_| shown.update(|shown| *shown = !*shown)
                    >
                        {move || if shown.get() { "Hide" } else { "Show" }}
                        <span class="visually-hidden">" password"</span>
                    </button>
                }
            })
        }
    };
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {hint.map(|hint| view! { <p class="hint" id=hint_id>{hint}</p> })}
            <div class="input-row">
            <input
                id=id.clone()
                name=name
                type=input_type
                autocomplete=autocomplete
                inputmode=inputmode
                value=value
                required=!optional
                node_ref=input
                on:input=move |_| retyped.set(true)
                aria-invalid=move || message().is_some().to_string()
                aria-describedby=described_by
            />
            {toggle}
            </div>
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

/// A form's submit button that says what is happening while its request is in flight
/// (`busy`, "Saving…"), with `aria-busy`. It is never `disabled`: a disabled button loses the
/// keyboard focus (to `<body>`), so a second press while pending is ignored here instead.
#[component]
pub fn SubmitButton(
    label: &'static str,
    busy: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional)] class: &'static str,
) -> impl IntoView {
    view! {
        <button
            type="submit"
            class=class
            aria-busy=move || pending.get().to_string()
            aria-disabled=move || pending.get().to_string()
            on:click=move |ev| {
                if pending.get_untracked() {
                    ev.prevent_default();
                }
            }
        >
            {move || if pending.get() { busy } else { label }}
        </button>
    }
}
