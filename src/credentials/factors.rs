//! [ssr] Second factors' secrets: authenticator-app (TOTP) secrets, sealed before they are
//! stored, and recovery codes, kept as keyed hashes. Both keys derive from `FACTOR_SECRET`, so a
//! copy of the database can neither make codes nor test recovery codes offline.

use super::kdf::derive_key;
use base64::{engine::general_purpose::STANDARD, Engine};
use chacha20poly1305::{
    aead::{Aead, KeyInit, Payload},
    ChaCha20Poly1305, Nonce,
};
use hmac::{Hmac, Mac};
use rand::{Rng, RngCore};
use sha2::Sha256;
use totp_rs::{Algorithm, Secret, Totp};

/// The name authenticator apps show above the codes.
pub const ISSUER: &str = "Gatehouse";

/// How many recovery codes an account gets at a time.
pub const RECOVERY_CODES: usize = 10;

/// RFC 6238's defaults, which every authenticator app reads: SHA-1, six digits, 30 seconds; a
/// code of the step before or after is accepted too (a phone's clock a little off, or a code
/// typed as it turned).
const DIGITS: u8 = 6;
const STEP_SECS: u64 = 30;
const SKEW_STEPS: u16 = 1;

/// Letters and digits that cannot be mistaken for one another (no 0/o, 1/l/i).
const CODE_ALPHABET: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";

/// The keys second factors are kept under.
pub struct FactorKeys {
    seal: ChaCha20Poly1305,
    codes: Vec<u8>,
}

impl FactorKeys {
    pub fn new(factor_secret: &[u8]) -> Self {
        let seal = derive_key(factor_secret, "gatehouse totp secret seal v1");
        Self {
            seal: ChaCha20Poly1305::new_from_slice(&seal).expect("a 32-byte key"),
            codes: derive_key(factor_secret, "gatehouse recovery code v1"),
        }
    }

    /// A new authenticator secret: 160 random bits, as RFC 4226 recommends.
    pub fn new_secret() -> Vec<u8> {
        let mut secret = vec![0u8; 20];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        secret
    }

    /// `secret` of the account `user_id`, sealed for the database: base64 of a random nonce and
    /// the ciphertext. The account is the associated data: a sealed secret copied into another
    /// account's row opens there to nothing.
    pub fn seal(&self, user_id: &str, secret: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let message = Payload {
            msg: secret,
            aad: user_id.as_bytes(),
        };
        let sealed = self
            .seal
            .encrypt(&Nonce::from(nonce), message)
            .expect("ChaCha20-Poly1305 seals any short message");
        STANDARD.encode([nonce.as_slice(), &sealed].concat())
    }

    /// The secret a [`Self::seal`] made for `user_id`; `None` when it was sealed for another
    /// account, under another key (the `FACTOR_SECRET` was changed), or damaged.
    pub fn open(&self, user_id: &str, sealed: &str) -> Option<Vec<u8>> {
        let bytes = STANDARD.decode(sealed).ok()?;
        let (nonce, sealed) = bytes.split_at_checked(12)?;
        let nonce: [u8; 12] = nonce.try_into().ok()?;
        let message = Payload {
            msg: sealed,
            aad: user_id.as_bytes(),
        };
        self.seal.decrypt(&Nonce::from(nonce), message).ok()
    }

    /// Ten new recovery codes, as shown to their owner (`xxxxx-xxxxx`, 50 random bits each).
    pub fn new_recovery_codes() -> Vec<String> {
        let mut rng = rand::rngs::OsRng;
        (0..RECOVERY_CODES)
            .map(|_| {
                let mut pick = || CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())] as char;
                let half = |pick: &mut dyn FnMut() -> char| (0..5).map(|_| pick()).collect::<String>();
                format!("{}-{}", half(&mut pick), half(&mut pick))
            })
            .collect()
    }

    /// The stored form of a recovery code as typed: spaces, dashes and case do not matter.
    pub fn recovery_code_hash(&self, typed: &str) -> String {
        let normal: String = typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect();
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(&self.codes).expect("HMAC takes any key");
        mac.update(normal.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// An account's authenticator: what its app computes, checked here.
pub struct Authenticator(Totp);

impl Authenticator {
    /// The authenticator of `secret`, labelled with the account's name in the app.
    pub fn new(secret: Vec<u8>, account: &str) -> Self {
        // The builder refuses a `:` in the label (it separates issuer and account).
        let account: String = account.chars().filter(|c| *c != ':').collect();
        Self(
            totp_rs::Builder::new()
                .with_algorithm(Algorithm::SHA1)
                .with_digits(DIGITS)
                .with_skew(SKEW_STEPS)
                .with_step_duration(STEP_SECS)
                .with_secret(Secret::new(secret.into_boxed_slice()))
                .with_issuer(Some(ISSUER))
                .with_account_name(account)
                .build_noncompliant(),
        )
    }

    /// The authenticator of a secret as [`Self::secret_text`] shows it (a person's app, in
    /// tests); `None` if it is not base32.
    pub fn from_text(secret: &str, account: &str) -> Option<Self> {
        let bytes = Secret::try_from_base32(secret).ok()?.as_bytes().to_vec();
        Some(Self::new(bytes, account))
    }

    /// The time step whose code `typed` is, at `now` (unix seconds); `None` for a wrong code.
    /// The caller accepts a step once (see `Store::spend_totp_step`).
    pub fn check(&self, typed: &str, now: i64) -> Option<i64> {
        let digits: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != usize::from(DIGITS) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let now = u64::try_from(now).ok()?;
        self.0
            .check(&digits, now)
            .and_then(|step| i64::try_from(step).ok())
    }

    /// The code at `now`: for tests, which play the person's app.
    pub fn code_at(&self, now: i64) -> String {
        self.0.generate(u64::try_from(now).unwrap_or(0)).to_string()
    }

    /// The secret in base32, as a person types it into an app without a camera.
    pub fn secret_text(&self) -> String {
        self.0.secret().to_base32()
    }

    /// The `otpauth://` address the QR code carries.
    pub fn url(&self) -> String {
        self.0.to_url().unwrap_or_default()
    }

    /// The QR code of [`Self::url`], as an SVG element to put inline in the page.
    pub fn qr_svg(&self) -> String {
        qrcode::QrCode::new(self.url().as_bytes())
            .map(|code| {
                code.render::<qrcode::render::svg::Color<'_>>()
                    .min_dimensions(200, 200)
                    .quiet_zone(true)
                    .dark_color(qrcode::render::svg::Color("#000000"))
                    .light_color(qrcode::render::svg::Color("#ffffff"))
                    .build()
            })
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_with_its_key_for_its_account_only() {
        let keys = FactorKeys::new(b"factor-secret-for-tests-0123456789abcdef");
        let secret = FactorKeys::new_secret();
        let sealed = keys.seal("ada", &secret);
        assert!(!sealed.contains(&STANDARD.encode(&secret)));
        assert_eq!(keys.open("ada", &sealed), Some(secret.clone()));
        assert_ne!(keys.seal("ada", &secret), sealed, "a fresh nonce each time");
        assert_eq!(keys.open("bob", &sealed), None, "copied into another account's row");
        let other = FactorKeys::new(b"another-factor-secret-0123456789abcdefgh");
        assert_eq!(other.open("ada", &sealed), None);
        assert_eq!(keys.open("ada", "not base64!"), None);
        assert_eq!(keys.open("ada", "c2hvcnQ="), None);
    }

    #[test]
    fn a_code_is_accepted_in_its_step_and_the_next_only() {
        let app = Authenticator::new(FactorKeys::new_secret(), "someone@example.org");
        let now = 1_800_000_015;
        let code = app.code_at(now);
        assert_eq!(app.check(&code, now), Some(now / 30));
        assert_eq!(app.check(&format!(" {} ", &code), now), Some(now / 30));
        assert_eq!(app.check(&code, now + 30), Some(now / 30), "typed as it turned");
        assert_eq!(app.check(&code, now + 60), None, "two steps late");
        assert_eq!(app.check("12345", now), None);
        assert_eq!(app.check("abcdef", now), None);
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert_eq!(app.check(&wrong, now), None);
    }

    #[test]
    fn the_qr_code_carries_the_otpauth_address_with_issuer_and_account() {
        let app = Authenticator::new(vec![7; 20], "some:one@example.org");
        let url = app.url();
        assert!(url.starts_with("otpauth://totp/Gatehouse:someone%40example.org?"), "{url}");
        assert!(url.contains(&format!("secret={}", app.secret_text())), "{url}");
        assert!(app.qr_svg().starts_with("<?xml") || app.qr_svg().contains("<svg"));
    }

    #[test]
    fn recovery_codes_are_ten_distinct_and_match_however_typed() {
        let keys = FactorKeys::new(b"factor-secret-for-tests-0123456789abcdef");
        let codes = FactorKeys::new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let distinct: std::collections::HashSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), RECOVERY_CODES);
        let code = &codes[0];
        assert_eq!(code.len(), 11);
        let hash = keys.recovery_code_hash(code);
        assert_eq!(keys.recovery_code_hash(&code.to_uppercase().replace('-', " ")), hash);
        assert_ne!(keys.recovery_code_hash(&codes[1]), hash);
    }
}
