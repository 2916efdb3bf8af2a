//! [ssr] The single-use tokens that mail carries (a reset link): 256 random bits, URL-safe,
//! stored only as their SHA-256. The lookup is by that hash, so the database never compares a
//! secret, and no timing of it tells anything about a token: finding a row requires its
//! preimage.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// Characters of a token: 32 bytes in unpadded base64url.
const TOKEN_CHARS: usize = 43;

/// A token as it goes into a link. Its `Debug` shows nothing of it.
pub struct MailToken(String);

impl std::fmt::Debug for MailToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailToken(***)")
    }
}

impl MailToken {
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    /// A presented token, if it has a token's shape (anything else cannot be one).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let shaped = text.len() == TOKEN_CHARS
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        shaped.then(|| Self(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the database keeps.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_token_parses_back_to_the_same_hash_and_differs_each_time() {
        let token = MailToken::generate();
        let parsed = MailToken::parse(token.expose()).unwrap();
        assert_eq!(parsed.hash(), token.hash());
        assert_ne!(MailToken::generate().hash(), token.hash());
        assert!(!format!("{token:?}").contains(token.expose()));
    }

    #[test]
    fn text_without_a_tokens_shape_is_no_token() {
        let token = MailToken::generate();
        for bad in ["", "abc", &format!("{}=", token.expose()), &"a".repeat(44), &"é".repeat(43)] {
            assert!(MailToken::parse(bad).is_none(), "{bad:?}");
        }
    }
}
