//! Second factors as the contract shows them: what protects an account, an authenticator app
//! being set up, and the second step of a login.

use serde::{Deserialize, Serialize};

/// `GET /api/auth/factors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FactorStatus {
    /// An authenticator app is on.
    pub totp: bool,
    /// Recovery codes not used yet (they come with the app).
    pub recovery_codes_left: i64,
    /// An app being set up (`totp_begin`), waiting for its first code: shown again to a session
    /// that proved who is behind it recently, so the page can be reloaded meanwhile.
    pub pending: Option<TotpEnrolment>,
    /// The account's passkeys, oldest first.
    pub passkeys: Vec<PasskeyInfo>,
    /// This session proved who is behind it within `STEP_UP_WINDOW`, so changes here need no
    /// confirmation first.
    pub recent_proof: bool,
}

/// `POST /api/auth/totp_begin`: what a person puts into their authenticator app. The secret
/// goes to its owner this once, to be scanned or typed; it is never shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TotpEnrolment {
    /// Base32, as apps take it typed.
    pub secret: String,
    /// The `otpauth://` address the QR code carries.
    pub url: String,
    /// The QR code, an SVG element for the page.
    pub qr_svg: String,
}

/// `GET /api/auth/second_step`: what this browser's pending login can be completed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondStepOptions {
    pub totp: bool,
    pub passkey: bool,
}

/// One of the account's passkeys (`GET /api/auth/passkeys`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PasskeyInfo {
    /// The credential id, base64url: what `passkey_remove` takes.
    pub id: String,
    pub name: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; `None` until it signs in.
    pub last_used_at: Option<String>,
}
