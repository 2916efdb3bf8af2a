//! Gatehouse: register, log in, see your profile, log out, with short-lived access tokens and
//! rotated refresh tokens in httpOnly cookies. One crate, two builds: `ssr` (the server) and
//! `hydrate` (the WASM client).

/// Compiles what it wraps into the server build only: one `cfg` for a group of server-only
/// items instead of one on each.
macro_rules! server_only {
    ($($item:item)*) => { $( #[cfg(feature = "ssr")] $item )* };
}

pub mod app;
pub mod auth;
pub mod client;
pub mod components;
pub mod domain;
pub mod error;
pub mod pages;

server_only! {
    pub mod admin;
    pub mod caches;
    pub mod config;
    pub mod connections;
    pub mod credentials;
    pub mod health;
    pub mod mail;
    pub mod security;
    pub mod server;
    pub mod state;
    pub mod store;
    pub mod telemetry;
}

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // Panic messages in the console while developing; the release client leaves the hook out
    // (about 400 bytes of its brotli size budget): a panic there still stops with a trap.
    #[cfg(debug_assertions)]
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(app::App);
    client::passkeys::listen();
    // From here on the page is interactive. Saying so in the DOM lets people's tools (and the
    // browser tests) tell a server-rendered page from a live one.
    if let Some(root) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.document_element())
    {
        let _ = root.set_attribute("data-hydrated", "");
    }
}
