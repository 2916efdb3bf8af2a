//! [ssr] Passkeys (WebAuthn) as this site's relying party: its id and origin come from
//! `PUBLIC_URL`. Browsers refuse an IP address as a relying-party id, so when there is no
//! `PUBLIC_URL`, or it names an IP address, the site is `localhost` on any port: passkeys then
//! work where the app is opened at `http://localhost:<port>` (as `cargo leptos watch` serves it).
//! Passkeys never stop the server from starting.

use webauthn_rs::{prelude::Url, Webauthn, WebauthnBuilder};

/// The relying party, built once.
pub struct RelyingParty(pub Webauthn);

impl RelyingParty {
    /// For `public_url` (an origin, as the settings check it), or localhost.
    pub fn new(public_url: Option<&str>) -> Self {
        if let Some(url) = public_url {
            match Self::of(url, false) {
                Ok(named) => return named,
                Err(e) => tracing::warn!(public_url = url, error = %e,
                    "passkeys cannot be named after PUBLIC_URL (an IP address is no relying-party \
                     id): they work where the app is opened at http://localhost"),
            }
        }
        Self::of("http://localhost", true).expect("localhost is a relying party")
    }

    fn of(origin: &str, any_port: bool) -> Result<Self, String> {
        let origin = Url::parse(origin).map_err(|e| e.to_string())?;
        let id = origin.host_str().ok_or("no host")?.to_owned();
        WebauthnBuilder::new(&id, &origin)
            .map_err(|e| e.to_string())?
            .rp_name("Gatehouse")
            .allow_any_port(any_port)
            .build()
            .map(Self)
            .map_err(|e| e.to_string())
    }

    /// The origins passkeys are accepted from (one, or localhost on any port).
    pub fn origins(&self) -> Vec<String> {
        self.0
            .get_allowed_origins()
            .iter()
            .map(|origin| origin.as_str().trim_end_matches('/').to_owned())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_url_names_the_relying_party_and_an_ip_address_falls_back_to_localhost() {
        let named = RelyingParty::new(Some("https://login.example.com"));
        assert_eq!(named.origins(), ["https://login.example.com"]);
        for unnamed in [None, Some("http://127.0.0.1:3000"), Some("http://[::1]:3000")] {
            assert_eq!(RelyingParty::new(unnamed).origins(), ["http://localhost"], "{unnamed:?}");
        }
    }
}
