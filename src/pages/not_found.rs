//! Any path without a page.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Page not found · Gatehouse"/>
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing here. " <A href="/">"Go to the home page"</A></p>
        </section>
    }
}
