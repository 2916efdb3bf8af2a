//! `/profile`: who you are, and the way out. Loaded through the client wrapper, so an expired
//! access token is refreshed without the person noticing.

use crate::{
    auth::{me, Logout},
    client::protected_resource,
    domain::User,
    error::AppError,
};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

#[component]
pub fn ProfilePage() -> impl IntoView {
    let user = protected_resource(me);
    view! {
        <Title text="Your profile · Gatehouse"/>
        <section class="card">
            <Transition fallback=|| view! { <p>"Loading your profile…"</p> }>
                {move || user.get().map(|loaded| match loaded {
                    Ok(user) => view! { <Profile user/> }.into_any(),
                    Err(error) => view! { <NotLoaded error/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn Profile(user: User) -> impl IntoView {
    let logout = ServerAction::<Logout>::new();
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = logout.value().get() {
            navigate("/login", Default::default());
        }
    });
    let since = user
        .created_at
        .get(..10)
        .unwrap_or(&user.created_at)
        .to_owned();
    view! {
        <h1>"Hello, " {user.full_name.clone()}</h1>
        <dl class="profile">
            <dt>"Username"</dt>
            <dd data-testid="username">{user.username}</dd>
            <dt>"Email"</dt>
            <dd data-testid="email">{user.email}</dd>
            <dt>"Full name"</dt>
            <dd data-testid="full-name">{user.full_name}</dd>
            <dt>"Member since"</dt>
            <dd>{since}</dd>
        </dl>
        <ActionForm action=logout>
            <button type="submit" class="secondary">"Log out"</button>
        </ActionForm>
    }
}

/// Shown when the server could not load the profile. A missing or expired access token is
/// cured in the browser (see `protected_resource`); without JavaScript, the button below asks
/// for a refresh with a plain form post, which comes back here.
#[component]
fn NotLoaded(error: AppError) -> impl IntoView {
    if !error.code.is_session_failure() {
        return view! { <p class="form-error" role="alert">{error.message}</p> }.into_any();
    }
    view! {
        <h1>"Checking your session…"</h1>
        <form method="post" action="/api/auth/refresh">
            <button type="submit">"Continue"</button>
        </form>
        <p>"Not logged in? " <a href="/login?next=/profile">"Log in"</a></p>
    }
    .into_any()
}
