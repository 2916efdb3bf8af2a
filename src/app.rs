//! The HTML shell, the layout and the routes.

use crate::{
    client::Auth,
    pages::{HomePage, LoginPage, NotFound, ProfilePage, RegisterPage, SessionsPage},
};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    crate::security::headers::set_page_policy(&options);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <link rel="icon" type="image/svg+xml" href="/favicon.svg"/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    Auth::provide();
    // Pages with forms or a login check render fully before answering (`Async`), so that they
    // work without JavaScript and a redirect can still change the status line.
    view! {
        <Stylesheet id="leptos" href="/pkg/gatehouse.css"/>
        <Title text="Gatehouse"/>
        <Router>
            <header class="site-header">
                <A href="/" attr:class="brand">"Gatehouse"</A>
                <Nav/>
            </header>
            <main>
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// The site's links: to the account's pages for someone logged in, to the ways in otherwise.
#[component]
fn Nav() -> impl IntoView {
    let auth = Auth::get();
    view! {
        <nav>
            // Read inside the transition, so that the server waits for its answer.
            <Transition fallback=|| ()>
                {move || if auth.is_logged_in() {
                    view! {
                        <A href="/profile">"Profile"</A>
                        <A href="/sessions">"Devices"</A>
                    }.into_any()
                } else {
                    view! {
                        <A href="/login">"Log in"</A>
                        <A href="/register">"Register"</A>
                    }.into_any()
                }}
            </Transition>
        </nav>
    }
}
