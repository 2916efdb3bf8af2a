//! [ssr] Passkeys (WebAuthn) as this site's relying party: its id and origin come from
//! `PUBLIC_URL`. Browsers refuse an IP address as a relying-party id, so without `PUBLIC_URL` the
//! site is `localhost` on the port it listens on: passkeys then work when the app is opened at
//! `http://localhost:<port>` (as `cargo leptos watch` serves it), and any port of localhost is
//! accepted, for tests.

use webauthn_rs::{prelude::Url, Webauthn, WebauthnBuilder};

/// The relying party, built once.
pub struct RelyingParty(pub Webauthn);

impl RelyingParty {
    /// For `public_url` (an origin, as the settings check it), or localhost.
    pub fn new(public_url: Option<&str>) -> Result<Self, String> {
        let origin = public_url.unwrap_or("http://localhost");
        let origin = Url::parse(origin).map_err(|e| format!("PUBLIC_URL: {e}"))?;
        let id = origin
            .host_str()
            .ok_or("PUBLIC_URL has no host")?
            .to_owned();
        let builder = WebauthnBuilder::new(&id, &origin)
            .map_err(|e| format!("PUBLIC_URL cannot name passkeys: {e}"))?
            .rp_name("Gatehouse")
            .allow_any_port(public_url.is_none());
        builder
            .build()
            .map(Self)
            .map_err(|e| format!("PUBLIC_URL cannot name passkeys: {e}"))
    }
}
