//! `/sessions`: every device logged in to this account, with a way to log each one out, or all
//! of them. Loaded and submitted through the client wrapper; every button also works as a
//! plain HTML form post, the server redirecting back here (or to the login page when this
//! device was logged out).

use crate::{
    auth::{sessions, LogoutAll, RevokeSession},
    client::{
        authed_action, last_error, leave_on_logout_elsewhere, protected_resource, use_sign_out,
        AuthedAction, AuthedForm,
    },
    components::{FormError, NotLoaded, SubmitButton, When},
    domain::{SessionInfo, SignedOut},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn SessionsPage() -> impl IntoView {
    leave_on_logout_elsewhere();
    let list = protected_resource(sessions);
    let revoke = authed_action::<RevokeSession>();
    let logout_all = authed_action::<LogoutAll>();
    let sign_out = use_sign_out();
    // Which device the last revoke was for, by name; empty for this one (a logout). (Types the
    // client already has: each new signal type costs the WASM client about a kilobyte.)
    let revoking = StoredValue::new(String::new());
    // Another device logged out: said, and the keyboard back at the top of the page (its
    // button is gone), not on the next device's button, where Enter would end that one too.
    let logged_out = RwSignal::new(false);
    Effect::new(move |_| {
        let revoked = matches!(revoke.value().get(), Some(Ok(())));
        let this_device_out = match (revoked, logout_all.value().get()) {
            (_, Some(Ok(()))) => Some(SignedOut::Everywhere),
            (true, _) if revoking.with_value(String::is_empty) => Some(SignedOut::Here),
            _ => None,
        };
        if let Some(why) = this_device_out {
            sign_out(why, "/login");
        } else if revoked {
            logged_out.set(true);
            list.refetch();
            crate::app::focus_main();
        }
    });
    let error = Signal::derive(move || last_error(revoke).get().or(last_error(logout_all).get()));
    view! {
        <Title text="Your devices · Gatehouse"/>
        {move || logged_out.get().then(|| view! {
            <p class="notice" role="status">"That device has been logged out."</p>
        })}
        <Transition fallback=|| view! { <section class="card"><p>"Loading your devices…"</p></section> }>
            {move || list.get().map(|loaded| match loaded {
                Ok(sessions) => view! {
                    <section class="card wide">
                        <h1>"Your devices"</h1>
                        <p class="hint">
                            "Every device where you are logged in. Log out any you do not recognise. "
                            <A href="/activity">"Recent activity"</A>
                            " shows logins, failed ones too, and changes to your account."
                        </p>
                        <FormError error/>
                        <ul class="sessions">
                            {sessions.into_iter().map(|session| {
                                let device = if session.current { String::new() } else { session.device.clone() };
                                view! {
                                    <Session session revoke on_revoke=move || revoking.set_value(device.clone())/>
                                }
                            }).collect_view()}
                        </ul>
                        <AuthedForm action=logout_all>
                            <SubmitButton label="Log out everywhere" busy="Logging out everywhere…" class="danger" pending=logout_all.pending()/>
                        </AuthedForm>
                    </section>
                }.into_any(),
                Err(error) => view! { <NotLoaded error page="/sessions"/> }.into_any(),
            })}
        </Transition>
    }
}

#[component]
fn Session(
    session: SessionInfo,
    revoke: AuthedAction<RevokeSession>,
    on_revoke: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let device = session.device.clone();
    let ip = if session.ip.is_empty() {
        "Address unknown".to_owned()
    } else {
        format!("IP address {}", session.ip)
    };
    // Every button says "Log out"; its name for screen readers says which device, since a
    // list of "Log out" buttons alone tells them apart by nothing.
    let button_name = if session.current {
        "Log out this device".to_owned()
    } else {
        format!("Log out {device}")
    };
    view! {
        <li class="session" data-testid="session" data-current=session.current.to_string()>
            <div>
                <strong>{device}</strong>
                {session.current.then(|| view! { <span class="badge">"This device"</span> })}
                <p class="hint">
                    {ip} " · last used " <When at=session.last_used_at/>
                    " · logged in " <When at=session.created_at/>
                    " · " <span data-testid="method">{session.signed_in_with}</span>
                </p>
            </div>
            <AuthedForm action=revoke>
                <input type="hidden" name="session_id" value=session.id/>
                <button type="submit" class="secondary" aria-label=button_name on:click=move |_| on_revoke()>"Log out"</button>
            </AuthedForm>
        </li>
    }
}
