//! A time as a person says it.

use crate::domain::{ago, unix_seconds};
use leptos::prelude::*;

/// A time as a person says it ("5 minutes ago"), the exact time in UTC in its tooltip and in
/// its `datetime` for machines.
#[component]
pub fn When(at: String) -> impl IntoView {
    let words = unix_seconds(&at).map_or_else(
        || at.clone(),
        |then| ago(then, crate::client::now_unix(), &at),
    );
    let exact = match (at.get(..10), at.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => at.clone(),
    };
    view! { <time datetime=at title=exact>{words}</time> }
}
