//! [ssr] Keys derived from a configured secret, one per purpose: how one secret serves several
//! uses (signing keys by id, successor ids, device cookies) without any two sharing a key.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A key for one `purpose`, derived from a secret (HMAC-SHA256 of the purpose's label), so that
/// one configured secret serves several uses without any two sharing a key.
pub fn derive_key(secret: &[u8], purpose: &str) -> Vec<u8> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

