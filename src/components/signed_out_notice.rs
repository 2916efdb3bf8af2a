//! Why the person is looking at a login (or the home) page: they were signed out, and how
//! (`?signed_out=`), or, on the login page, a page they wanted needs a login (`?next=`).

use crate::domain::SignedOut;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The sentence for the page's query, in our words only: a value we do not know says nothing.
/// `for_next`: also name the page in `?next=` that asked for a login.
#[component]
pub fn SignedOutNotice(#[prop(optional)] for_next: bool) -> impl IntoView {
    let query = use_query_map();
    let message = move || {
        let query = query.read();
        if let Some(reason) = query
            .get(SignedOut::PARAM)
            .as_deref()
            .and_then(SignedOut::parse)
        {
            return Some(reason.message());
        }
        if !for_next {
            return None;
        }
        let next = query.get("next")?;
        match next.split(['?', '#']).next()? {
            "/profile" => Some("Log in to see your profile."),
            "/sessions" => Some("Log in to see your devices."),
            _ => None,
        }
    };
    move || message().map(|text| view! { <p class="notice" role="status">{text}</p> })
}
