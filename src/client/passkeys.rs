//! Passkeys in the browser. The WebAuthn ceremonies live in `passkeys.js`, a wasm-bindgen
//! snippet shipped with the client (its header says why there); the pages only mark up their
//! passkey buttons (`components::PasskeyOffer`), and the client starts the script once.

use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/client/passkeys.js")]
extern "C" {
    /// Starts handling the passkey buttons and the login page's autofill, on every page.
    pub fn listen();
}
