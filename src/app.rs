//! The HTML shell, the layout and the routes.

use crate::{
    client::{logout_action, Auth, AuthStatus},
    pages::{
        ActivityPage, ConfirmEmailPage, ForgotPage, HomePage, LoginPage, NotFound, ProfilePage,
        RegisterPage, ResetPage, SecurityPage, SessionsPage, UndoEmailPage, VerifyPage,
    },
};
use leptos::{prelude::*, wasm_bindgen::JsCast};
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Route, Router, Routes, A},
    path, SsrMode,
};

/// The pages that need a login. A full load of one without a live access token goes through
/// `GET /api/auth/resume` first (see `auth::resume`).
pub const NEEDS_LOGIN: [&str; 4] = ["/profile", "/sessions", "/activity", "/security"];

/// The ways in. Someone logged in who loads one is sent on to its `?next=` instead.
pub const ENTRY_PAGES: [&str; 2] = ["/login", "/register"];

/// The site's stylesheet, as `cargo leptos` builds it (`output-name` in `Cargo.toml`).
pub const STYLESHEET: &str = "/pkg/gatehouse.css";

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
        <Stylesheet id="leptos" href=STYLESHEET/>
        <Title text="Gatehouse"/>
        <Router>
            // The router would take the fragment link for a navigation; the keyboard is moved
            // to the content here instead (without JavaScript the browser does it).
            <a
                class="skip-link"
                href="#main"
                on:click=|ev| {
                    if focus_main() {
                        ev.prevent_default();
                    }
                }
            >
                "Skip to content"
            </a>
            <header class="site-header">
                <A href="/" attr:class="brand">"Gatehouse"</A>
                <Nav/>
            </header>
            <main id="main" tabindex="-1">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=HomePage/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/sessions") view=SessionsPage ssr=SsrMode::Async/>
                    <Route path=path!("/activity") view=ActivityPage ssr=SsrMode::Async/>
                    <Route path=path!("/security") view=SecurityPage ssr=SsrMode::Async/>
                    <Route path=path!("/forgot") view=ForgotPage ssr=SsrMode::Async/>
                    <Route path=path!("/reset") view=ResetPage ssr=SsrMode::Async/>
                    <Route path=path!("/verify") view=VerifyPage ssr=SsrMode::Async/>
                    <Route path=path!("/confirm-email") view=ConfirmEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/undo-email") view=UndoEmailPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}

/// The site's links: for someone logged in, a menu under their name (their profile, their
/// devices, log out); for anyone else, the ways in.
#[component]
fn Nav() -> impl IntoView {
    let auth = Auth::get();
    // A page reached within the app starts where a page loaded in full does: the keyboard at
    // the top of its content (and a screen reader reading from there), not on whatever was
    // focused on the page before, which is gone.
    let path = leptos_router::hooks::use_location().pathname;
    // The account menu closes too: the browser would put the keyboard back on its button.
    Effect::watch(
        move || path.get(),
        |_, _, _| {
            let menu = document().get_element_by_id("account-menu");
            if let Some(menu) = menu.and_then(|m| m.dyn_into::<leptos::web_sys::HtmlElement>().ok())
            {
                let _ = menu.hide_popover();
            }
            focus_main();
        },
        false,
    );
    view! {
        <nav aria-label="Site">
            // Read inside the transition, so that the server waits for its answer.
            <Transition fallback=|| ()>
                {move || match auth.status() {
                    Some(AuthStatus::LoggedIn(user)) => {
                        let name = user.map_or_else(|| "Your account".to_owned(), |u| u.full_name);
                        view! { <AccountMenu name/> }.into_any()
                    }
                    _ => view! {
                        <A href="/login">"Log in"</A>
                        <A href="/register">"Register"</A>
                    }.into_any(),
                }}
            </Transition>
        </nav>
    }
}

/// The account menu: a button and a popover (`popovertarget`), so the browser itself opens it,
/// closes it on Escape (the keyboard back on the button) or a click elsewhere, with or without
/// JavaScript.
#[component]
fn AccountMenu(name: String) -> impl IntoView {
    let logout = logout_action();
    view! {
        <div class="account-menu">
            <button type="button" class="menu-button" popovertarget="account-menu">
                <span class="visually-hidden">"Account menu for "</span>
                <span class="account-name">{name}</span>
            </button>
            // Closed by `Nav` once a page is chosen: a link followed within the app leaves the
            // header, and the open popover, in place.
            <ul id="account-menu" popover="auto">
                <li><A href="/profile">"Profile"</A></li>
                <li><A href="/sessions">"Devices"</A></li>
                <li><A href="/activity">"Activity"</A></li>
                <li>
                    <ActionForm action=logout>
                        <button type="submit" class="link">"Log out"</button>
                    </ActionForm>
                </li>
            </ul>
        </div>
    }
}

/// Moves the keyboard to the start of the page's content (`<main>`, focusable for this);
/// whether it could.
pub fn focus_main() -> bool {
    let main = document().get_element_by_id("main");
    main.and_then(|m| m.dyn_into::<leptos::web_sys::HtmlElement>().ok())
        .is_some_and(|main| main.focus().is_ok())
}
