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

/// The six-digit code a verification mail carries beside its link, to be typed where the
/// person is signed in. A million codes are few: it is stored only as a keyed hash, and wrong
/// codes draw on a small budget per account.
pub struct MailCode(String);

impl std::fmt::Debug for MailCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MailCode(***)")
    }
}

impl MailCode {
    pub fn generate() -> Self {
        use rand::Rng;
        Self(format!("{:06}", rand::rngs::OsRng.gen_range(0..1_000_000u32)))
    }

    /// A typed code, if it is six digits once spaces and dashes are left out.
    pub fn parse(text: &str) -> Option<Self> {
        let digits: String = text.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        (digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())).then_some(Self(digits))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_six_digits_and_parses_with_spaces_or_dashes_only() {
        let code = MailCode::generate();
        assert_eq!(code.expose().len(), 6);
        assert!(code.expose().bytes().all(|b| b.is_ascii_digit()));
        assert_eq!(MailCode::parse(" 123 456 ").unwrap().expose(), "123456");
        assert_eq!(MailCode::parse("123-456").unwrap().expose(), "123456");
        assert!(MailCode::parse("12345").is_none());
        assert!(MailCode::parse("1234567").is_none());
        assert!(MailCode::parse("12345a").is_none());
        assert!(MailCode::parse("１２３４５６").is_none());
        assert!(!format!("{code:?}").contains(code.expose()));
    }

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
