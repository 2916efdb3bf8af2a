//! `/activity`: what happened to this account lately, from the audit trail: logins and failed
//! ones, logouts, changes, and an administrator's actions, each with its device and address.
//! Read only; worded by the server (`auth::activity`).

use crate::{
    auth::activity,
    client::{leave_on_logout_elsewhere, protected_resource},
    components::{NotLoaded, When},
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn ActivityPage() -> impl IntoView {
    leave_on_logout_elsewhere();
    let list = protected_resource(activity);
    view! {
        <Title text="Recent activity · Gatehouse"/>
        <Transition fallback=|| view! { <section class="card"><p>"Loading your activity…"</p></section> }>
            {move || list.get().map(|loaded| match loaded {
                Ok(entries) => view! {
                    <section class="card wide">
                        <h1>"Recent activity"</h1>
                        <p class="hint">
                            "What happened to your account lately, newest first. If you do not recognise something, "
                            <A href="/sessions">"log out the devices you do not know"</A>
                            " and change your password."
                        </p>
                        <ul class="sessions">
                            {entries.into_iter().map(|entry| {
                                let whence = [entry.device, entry.ip]
                                    .into_iter()
                                    .filter(|part| !part.is_empty())
                                    .collect::<Vec<_>>()
                                    .join(" · ");
                                view! {
                                    <li class="session" data-testid="activity" data-kind=entry.kind>
                                        <div>
                                            <strong>{entry.what}</strong>
                                            {entry.notable.then(|| view! { <span class="badge">"Check"</span> })}
                                            <p class="hint">{whence} " · " <When at=entry.at/></p>
                                        </div>
                                    </li>
                                }
                            }).collect_view()}
                        </ul>
                    </section>
                }.into_any(),
                Err(error) => view! { <NotLoaded error page="/activity"/> }.into_any(),
            })}
        </Transition>
    }
}
