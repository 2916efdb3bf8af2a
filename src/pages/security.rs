//! `/security`: two-step verification. An authenticator app is set up in two steps (its secret
//! as a QR code and as text, then a first code from it), and comes with ten recovery codes shown
//! once. Turning it off and making new codes need a recent proof of who is asking: when the
//! server asks for one (`step_up_required`), the page asks for the password and code.

use super::ConfirmStepUp;
use crate::{
    auth::{factors, RecoveryCodes, TotpBegin, TotpConfirm, TotpDisable},
    client::{
        authed_action, last_error, leave_on_logout_elsewhere, protected_resource, AuthedForm,
    },
    components::{Field, FormError, NotLoaded, SubmitButton},
    domain::FactorStatus,
    error::AppError,
};
use leptos::prelude::*;
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
                Ok(now) if now.totp => view! { <AppOn codes_left=now.recovery_codes_left status/> }.into_any(),
                Ok(_) => view! { <SetUpApp status/> }.into_any(),
                Err(error) => view! { <NotLoaded error page="/security"/> }.into_any(),
            })}
        </Transition>
    }
}

/// The app is on: new recovery codes, or off again.
#[component]
fn AppOn(codes_left: i64, status: Status) -> impl IntoView {
    let new_codes = authed_action::<RecoveryCodes>();
    let disable = authed_action::<TotpDisable>();
    let (codes_error, disable_error) = (last_error(new_codes), last_error(disable));
    let error = Signal::derive(move || codes_error.get().or_else(|| disable_error.get()));
    Effect::new(move |_| {
        if let Some(Ok(())) = disable.value().get() {
            status.refetch();
        }
    });
    let fresh = move || new_codes.value().get().and_then(Result::ok);
    view! {
        <section class="card">
            <h1>"Two-step verification"</h1>
            <p class="notice" role="status" data-testid="totp-on">
                "On: logging in asks for a code from your authenticator app."
            </p>
            {move || match fresh() {
                Some(codes) => view! { <RecoveryCodeList codes/> }.into_any(),
                None => view! { <p>{codes_left} " unused recovery codes left."</p> }.into_any(),
            }}
            <FormError error/>
            <AuthedForm action=new_codes>
                <SubmitButton label="Make new recovery codes" busy="Making codes…" class="secondary" pending=new_codes.pending()/>
            </AuthedForm>
            <AuthedForm action=disable>
                <SubmitButton label="Turn two-step verification off" busy="Turning off…" class="danger" pending=disable.pending()/>
            </AuthedForm>
            <ConfirmStepUp error/>
        </section>
    }
}

/// The app is off: its secret, then its first code, then the recovery codes.
#[component]
fn SetUpApp(status: Status) -> impl IntoView {
    let begin = authed_action::<TotpBegin>();
    let confirm = authed_action::<TotpConfirm>();
    let (begin_error, confirm_error) = (last_error(begin), last_error(confirm));
    view! {
        <section class="card">
            <h1>"Two-step verification"</h1>
            {move || match (confirm.value().get(), begin.value().get()) {
                (Some(Ok(codes)), _) => view! {
                    <p class="notice" role="status">"Two-step verification is on."</p>
                    <RecoveryCodeList codes/>
                    <button type="button" on:click=move |_| status.refetch()>"Done"</button>
                }.into_any(),
                (_, Some(Ok(enrolment))) => view! {
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
                        <FormError error=confirm_error/>
                        <Field label="Code from the app" name="code" autocomplete="one-time-code"
                            inputmode="numeric" error=confirm_error/>
                        <SubmitButton label="Turn on" busy="Checking…" pending=confirm.pending()/>
                    </AuthedForm>
                    <ConfirmStepUp error=confirm_error/>
                }.into_any(),
                _ => view! {
                    <p>
                        "Protect your account with a second step at login: a code from an "
                        "authenticator app on your phone, so a stolen password alone is not enough."
                    </p>
                    <FormError error=begin_error/>
                    <AuthedForm action=begin>
                        <SubmitButton label="Set up an authenticator app" busy="Preparing…" pending=begin.pending()/>
                    </AuthedForm>
                    <ConfirmStepUp error=begin_error/>
                }.into_any(),
            }}
        </section>
    }
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
