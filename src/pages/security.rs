//! `/security`: two-step verification and passkeys. An authenticator app is set up in two steps
//! (its secret as a QR code and as text, then a first code from it), and comes with ten
//! recovery codes shown once. Passkeys are listed, added (named) and removed. Every change needs
//! a recent proof of who is asking: when the server asks for one (`step_up_required`), the page
//! asks for the password and code, or a passkey.
//!
//! Starting the app's setup, turning it off and removing a passkey are plain posts (the server
//! answers with a redirect back here, and the page shows the new state from `factors`), so no
//! client code is compiled in for them; only the answers shown once (recovery codes) come
//! through server-function calls. Adding a passkey is `client/passkeys.js`.

use super::{plain_form_error, ConfirmStepUp, PlainForm};
use crate::{
    auth::{factors, PasskeyRemove, RecoveryCodes, TotpBegin, TotpConfirm, TotpDisable},
    client::{
        authed_action, last_error, leave_on_logout_elsewhere, protected_resource, AuthedForm,
    },
    components::{Field, FormError, NotLoaded, SubmitButton},
    domain::{FactorStatus, PasskeyInfo, TotpEnrolment},
    error::AppError,
};
use leptos::{prelude::*, server_fn::ServerFn};
use leptos_meta::Title;

type Status = Resource<Result<FactorStatus, AppError>>;

#[component]
pub fn SecurityPage() -> impl IntoView {
    leave_on_logout_elsewhere();
    let status = protected_resource(factors);
    view! {
        <Title text="Two-step verification · Gatehouse"/>
        <Transition fallback=|| view! { <section class="card"><p>"Loading…"</p></section> }>
            {move || status.get().map(|loaded| match loaded {
                Ok(now) => view! { <Factors now status/> }.into_any(),
                Err(error) => view! { <NotLoaded error page="/security"/> }.into_any(),
            })}
        </Transition>
    }
}

/// The account's factors as they are now, and what can be done with them.
#[component]
fn Factors(now: FactorStatus, status: Status) -> impl IntoView {
    let new_codes = authed_action::<RecoveryCodes>();
    let confirm = authed_action::<TotpConfirm>();
    let (codes_error, confirm_error) = (last_error(new_codes), last_error(confirm));
    let posted = plain_form_error(&[TotpBegin::PATH, TotpDisable::PATH, PasskeyRemove::PATH]);
    let error = Signal::derive(move || {
        codes_error
            .get()
            .or_else(|| confirm_error.get())
            .or_else(|| posted.get())
    });
    // Recovery codes, shown this once: the app's first ones, or new ones.
    let shown = move || {
        confirm
            .value()
            .get()
            .or_else(|| new_codes.value().get())
            .and_then(Result::ok)
    };
    let FactorStatus {
        totp,
        recovery_codes_left,
        pending,
        passkeys,
        recent_proof,
    } = now;
    let app = move || {
        match (shown(), totp, pending.clone()) {
        (Some(codes), _, _) => view! {
            <p class="notice" role="status" data-testid="totp-on">"Two-step verification is on."</p>
            <RecoveryCodeList codes/>
            <button type="button" on:click=move |_| status.refetch()>"Done"</button>
        }
        .into_any(),
        (None, true, _) => view! {
            <p class="notice" role="status" data-testid="totp-on">
                "On: logging in asks for a code from your authenticator app."
            </p>
            <p>{recovery_codes_left} " unused recovery codes left."</p>
            <AuthedForm action=new_codes>
                <SubmitButton label="Make new recovery codes" busy="Making codes…" class="secondary" pending=new_codes.pending()/>
            </AuthedForm>
            <PlainForm action=TotpDisable::PATH>
                <button type="submit" class="danger">"Turn two-step verification off"</button>
            </PlainForm>
        }
        .into_any(),
        (None, false, Some(enrolment)) => view! { <Enrol enrolment confirm/> }.into_any(),
        (None, false, None) => view! {
            <p>
                "Protect your account with a second step at login: a code from an "
                "authenticator app on your phone, so a stolen password alone is not enough."
            </p>
            <PlainForm action=TotpBegin::PATH>
                <button type="submit">"Set up an authenticator app"</button>
            </PlainForm>
        }
        .into_any(),
    }
    };
    view! {
        <section class="card">
            <h1>"Two-step verification"</h1>
            <FormError error/>
            {app}
            <ConfirmStepUp error stale=!recent_proof/>
        </section>
        <Passkeys passkeys/>
    }
}

/// An app being set up: its secret, then its first code.
#[component]
fn Enrol(
    enrolment: TotpEnrolment,
    confirm: crate::client::AuthedAction<TotpConfirm>,
) -> impl IntoView {
    let error = last_error(confirm);
    view! {
        <ol class="steps">
            <li>
                "Scan this code with your authenticator app:"
                <div class="qr" role="img" aria-label="QR code for your authenticator app"
                    inner_html=enrolment.qr_svg></div>
                "or type this key into it: "
                <code class="secret" data-testid="totp-secret">{enrolment.secret}</code>
            </li>
            <li>"Enter the six-digit code the app shows:"</li>
        </ol>
        <AuthedForm action=confirm>
            <Field label="Code from the app" name="code" autocomplete="one-time-code"
                inputmode="numeric" error/>
            <SubmitButton label="Turn on" busy="Checking…" pending=confirm.pending()/>
        </AuthedForm>
    }
}

/// The account's passkeys, and a new one.
#[component]
fn Passkeys(passkeys: Vec<PasskeyInfo>) -> impl IntoView {
    view! {
        <section class="card" aria-labelledby="passkeys-title">
            <h2 id="passkeys-title">"Passkeys"</h2>
            <p>
                "A passkey signs you in with your device's screen lock (a fingerprint, your face "
                "or its PIN) in place of your password and code. It cannot be phished or reused."
            </p>
            <ul class="passkeys" data-testid="passkeys" inner_html=passkey_items(&passkeys)></ul>
            // Shown and run by `client/passkeys.js` where the browser takes passkeys.
            <div class="passkey-offer" data-passkey-offer="add" hidden>
                <div class="field">
                    <label for="passkey-name">"Name it, to tell it from others later"</label>
                    <input id="passkey-name" name="name" maxlength="64" autocomplete="off"
                        placeholder="Work laptop"/>
                </div>
                <button type="button" class="secondary" data-passkey="">"Add a passkey"</button>
            </div>
        </section>
    }
}

/// The passkeys, as list items: each one's name, when it was added and last used, and a plain
/// form that removes it. Written as HTML (names and ids escaped by `html-escape`) rather than as
/// a view per item: the list never changes while shown (a removal reloads the page), and a
/// list of views compiled 4 KB into the client, which its size budget had no room for.
fn passkey_items(passkeys: &[PasskeyInfo]) -> String {
    use html_escape::{encode_double_quoted_attribute as attribute, encode_text as text};
    // Dates as the day they fell on: what tells one passkey from another.
    let day = |at: &str| at.get(..10).unwrap_or_default().to_owned();
    passkeys
        .iter()
        .map(|passkey| {
            let used = passkey.last_used_at.as_deref().map_or_else(
                || "never used".to_owned(),
                |at| format!("last used {}", day(at)),
            );
            format!(
                "<li><strong>{name}</strong><span class=\"hint\">added {added}, {used}</span>\
                 <form method=\"post\" action=\"{action}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">\
                 <button type=\"submit\" class=\"secondary\">Remove</button></form></li>",
                name = text(&passkey.name),
                added = text(&day(&passkey.created_at)),
                used = text(&used),
                action = PasskeyRemove::PATH,
                id = attribute(&passkey.id),
            )
        })
        .collect()
}

/// Recovery codes, shown this once.
#[component]
fn RecoveryCodeList(codes: Vec<String>) -> impl IntoView {
    view! {
        <h2>"Your recovery codes"</h2>
        <p>
            "If you lose your phone, each of these codes logs you in once in place of the app's. "
            "Save them somewhere safe now: they are not shown again."
        </p>
        <ol class="codes" data-testid="recovery-codes">
            {codes.into_iter().map(|code| view! { <li><code>{code}</code></li> }).collect_view()}
        </ol>
    }
}
