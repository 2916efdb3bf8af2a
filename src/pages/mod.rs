//! One file per route.

mod home;
mod login;
mod not_found;
mod profile;
mod register;

pub use home::HomePage;
pub use login::LoginPage;
pub use not_found::NotFound;
pub use profile::ProfilePage;
pub use register::RegisterPage;

use crate::domain::NextPath;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// Where to go once logged in: the page named by `?next=`, if it is one of ours.
fn next_page() -> Signal<String> {
    let query = use_query_map();
    Signal::derive(move || {
        NextPath::or_default(query.read().get("next").as_deref())
            .as_str()
            .to_owned()
    })
}
