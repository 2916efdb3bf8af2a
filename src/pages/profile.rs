//! `/profile`: who you are, and what you can change: the profile, the password, the account
//! itself. Loaded and submitted through the client wrapper, so an expired access token is
//! refreshed without the person noticing; every form also works as a plain HTML post.

use super::ConfirmStepUp;
use crate::{
    auth::{me, ChangePassword, DeleteAccount, ResendVerification, UpdateProfile},
    client::{
        authed_action, last_error, leave_on_logout_elsewhere, logout_action, protected_resource,
        use_sign_out, Auth, AuthedForm, Unsent,
    },
    components::{Field, FormError, NotLoaded, SubmitButton},
    domain::{calendar_date, Password, SignedOut, User, Username},
    error::AppError,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;
use leptos_router::components::A;

/// Said once a new address is asked for, with or without JavaScript.
const CHANGE_ASKED: &str =
    "We sent a link to your new address. Your address changes when you open it; until then it stays as it is.";

#[component]
pub fn ProfilePage() -> impl IntoView {
    leave_on_logout_elsewhere();
    let user = protected_resource(me);
    let auth = Auth::get();
    Effect::new(move |_| {
        if let Some(Ok(loaded)) = user.get() {
            auth.logged_in(Some(loaded));
        }
    });
    view! {
        <Title text="Your profile · Gatehouse"/>
        <Transition fallback=|| view! { <section class="card"><p>"Loading your profile…"</p></section> }>
            {move || user.get().map(|loaded| match loaded {
                Ok(loaded) => {
                    // Edits update this copy, so the forms (and their messages) stay put.
                    let shown = RwSignal::new(loaded);
                    view! {
                        <Profile user=shown/>
                        <EditProfile user=shown/>
                        <ChangePasswordForm user=shown/>
                        <DeleteAccountForm user=shown/>
                    }.into_any()
                }
                Err(error) => view! { <NotLoaded error page="/profile"/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Profile(user: RwSignal<User>) -> impl IntoView {
    let logout = logout_action();
    let field = move |pick: fn(&User) -> &str| move || user.with(|u| pick(u).to_owned());
    let since = move || user.with(|u| calendar_date(&u.created_at));
    // Arrived from a reset link's form (`/reset`), with or without JavaScript.
    let query = leptos_router::hooks::use_query_map();
    let after_reset = move || query.read().get("reset").is_some();
    // Back from a code typed on `/verify`, or from a change of address asked without JavaScript.
    let verified = move || query.read().get("verified").is_some();
    let change_asked = move || query.read().get("email_change").is_some();
    view! {
        <section class="card">
            <Show when=after_reset>
                <p class="notice" role="status">
                    "Your new password is set. Every other device has been logged out."
                </p>
            </Show>
            <Show when=verified>
                <p class="notice" role="status">"Your address is confirmed. Thank you."</p>
            </Show>
            <Show when=change_asked>
                <p class="notice" role="status">{CHANGE_ASKED}</p>
            </Show>
            <h1>"Hello, " {field(|u| &u.full_name)}</h1>
            <dl class="profile">
                <dt>"Username"</dt>
                <dd data-testid="username">{field(|u| &u.username)}</dd>
                <dt>"Email"</dt>
                <dd>
                    <span data-testid="email">{field(|u| &u.email)}</span>
                    " "
                    <span class="badge" class:unconfirmed=move || !user.with(|u| u.email_verified)
                        data-testid="email-state">
                        {move || if user.with(|u| u.email_verified) { "confirmed" } else { "not confirmed" }}
                    </span>
                    // Not confirmed: the link and code went to it; the page takes the code and
                    // sends a new link.
                    <span hidden=move || user.with(|u| u.email_verified)>" " <A href="/verify">"Confirm it"</A></span>
                </dd>
                <dt>"Full name"</dt>
                <dd data-testid="full-name">{field(|u| &u.full_name)}</dd>
                <dt>"Member since"</dt>
                <dd>{since}</dd>
            </dl>
            <div class="actions">
                <ActionForm action=logout>
                    <button type="submit" class="secondary">"Log out"</button>
                </ActionForm>
                <A href="/sessions" attr:class="button secondary">"Your devices"</A>
                <A href="/activity" attr:class="button secondary">"Recent activity"</A>
                <A href="/security" attr:class="button secondary">"Two-step verification"</A>
                // A plain form (see `pages::PlainForm`): the server answers with `/verify?sent=1`,
                // where the new code can be typed. The account is named too, so that the post
                // still works after the access token expired (a plain post refreshes nothing).
                <form method="post" action=ResendVerification::PATH hidden=move || user.with(|u| u.email_verified)>
                    <input type="hidden" name="login" value=move || user.with(|u| u.username.clone())/>
                    <button type="submit" class="secondary">"Send the link again"</button>
                </form>
            </div>
        </section>
    }
}

/// A short confirmation after a successful submission with JavaScript (without it, the page
/// itself shows the new state). It goes once the person edits the form again (`edited`, set by
/// the form's section) or sends it again: it was about what was sent before.
fn saved<S>(
    action: crate::client::AuthedAction<S>,
    text: &'static str,
    edited: RwSignal<bool>,
) -> impl IntoView
where
    S: leptos::server_fn::ServerFn<Error = AppError> + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    Effect::new(move |_| {
        action.version().track();
        edited.set(false);
    });
    move || {
        let fresh = !action.pending().get() && !edited.get();
        (fresh && matches!(action.value().get(), Some(Ok(_))))
            .then(|| view! { <p class="notice" role="status">{text}</p> })
    }
}

#[component]
fn EditProfile(user: RwSignal<User>) -> impl IntoView {
    let action = authed_action::<UpdateProfile>();
    let error = last_error(action);
    let auth = Auth::get();
    Effect::new(move |_| {
        if let Some(Ok(saved)) = action.value().get() {
            auth.logged_in(Some(saved.clone()));
            user.set(saved);
        }
    });
    let (username, full_name, email) =
        user.with_untracked(|u| (u.username.clone(), u.full_name.clone(), u.email.clone()));
    let edited = RwSignal::new(false);
    // The address typed: a new one is only asked for, and the answer keeps the old.
    let typed = RwSignal::new(None::<String>);
    let change_sent = move || {
        let fresh = !action.pending().get() && !edited.get();
        let answered = matches!(action.value().get(), Some(Ok(_)));
        let moved = typed.with(|t| {
            t.as_deref()
                .is_some_and(|t| !user.with(|u| t.trim().eq_ignore_ascii_case(&u.email)))
        });
        (fresh && answered && moved).then_some(CHANGE_ASKED)
    };
    // What is sent here survives a lost session, through the login page and back.
    let section = NodeRef::new();
    let unsent = Unsent::new(
        UpdateProfile::PATH,
        user.with_untracked(|u| u.id.clone()),
        section,
    );
    Effect::new(move |_| {
        if let Some(outcome) = action.value().get() {
            unsent.answered(outcome.err().as_ref());
        }
    });
    view! {
        <section
            class="card"
            node_ref=section
            on:input=move |ev| {
                edited.set(true);
                let field = event_target::<leptos::web_sys::HtmlInputElement>(&ev);
                if field.name() == "email" {
                    typed.set(Some(field.value()));
                }
            }
            on:submit=move |ev| unsent.sending(&ev)
        >
            <h2>"Edit your profile"</h2>
            {unsent.notice()}
            <AuthedForm action>
                <FormError error/>
                <Field label="Username" name="username" autocomplete="username" value=username error
                    hint=Username::RULE/>
                <Field label="Full name" name="full_name" autocomplete="name" value=full_name error/>
                <Field label="Email" name="email" kind="email" autocomplete="email" value=email error
                    hint="A new address changes once you open the link we send to it."/>
                <SubmitButton label="Save changes" busy="Saving…" pending=action.pending()/>
            </AuthedForm>
            <ConfirmStepUp error/>
            {saved(action, "Your profile is saved.", edited)}
            <Show when=move || change_sent().is_some()>
                <p class="notice" role="status">{CHANGE_ASKED}</p>
            </Show>
        </section>
    }
}

#[component]
fn ChangePasswordForm(user: RwSignal<User>) -> impl IntoView {
    let action = authed_action::<ChangePassword>();
    let error = last_error(action);
    let edited = RwSignal::new(false);
    view! {
        <section class="card" on:input=move |_| edited.set(true)>
            <h2>"Change your password"</h2>
            <p class="hint">"Your other devices are logged out; this one stays logged in."</p>
            <AuthedForm action clear_on_success=true>
                <AccountName user/>
                <FormError error/>
                <Field label="Current password" name="current_password" kind="password" autocomplete="current-password" error/>
                <Field label="New password" name="new_password" kind="password" autocomplete="new-password" error
                    hint=Password::RULE/>
                <SubmitButton label="Change password" busy="Changing your password…" pending=action.pending()/>
            </AuthedForm>
            {saved(action, "Your password is changed. Your other devices have been logged out.", edited)}
        </section>
    }
}

/// Deleting is two deliberate steps, with or without JavaScript: open the section, then confirm
/// with the password and a checkbox (which has no name: the browser requires it, the server
/// never sees it).
#[component]
fn DeleteAccountForm(user: RwSignal<User>) -> impl IntoView {
    let action = authed_action::<DeleteAccount>();
    let error = last_error(action);
    let sign_out = use_sign_out();
    Effect::new(move |_| {
        if let Some(Ok(())) = action.value().get() {
            sign_out(SignedOut::Deleted, "/");
        }
    });
    view! {
        <section class="card danger-zone">
            <details open=move || error.get().is_some()>
                <summary>"Delete your account…"</summary>
                <p>"This deletes your account, logs out every device and cannot be undone."</p>
                <AuthedForm action>
                    <AccountName user/>
                    <FormError error/>
                    <Field label="Your password" name="password" kind="password" autocomplete="current-password" error/>
                    <label class="confirm">
                        <input type="checkbox" required/>
                        " I understand that my account will be gone for good."
                    </label>
                    <SubmitButton label="Delete my account" busy="Deleting your account…" class="danger" pending=action.pending()/>
                </AuthedForm>
            </details>
        </section>
    }
}

/// The account's username in a password form, for password managers only: they file the
/// password under it. Hidden, read-only, and without a name, so it is never sent.
#[component]
fn AccountName(user: RwSignal<User>) -> impl IntoView {
    view! {
        <input
            type="text"
            class="visually-hidden"
            autocomplete="username"
            aria-hidden="true"
            tabindex="-1"
            readonly
            value=move || user.with(|u| u.username.clone())
        />
    }
}
