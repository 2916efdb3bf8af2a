//! [ssr] Trusted devices (OWASP's "device cookies"): a browser that logged in to an account
//! successfully gets a signed cookie naming that account, and from then on its password
//! checks for that account draw on a failure budget of its own. Strangers failing on purpose
//! spend the account's shared budget and lock it for untrusted browsers only; the owner's
//! browser still gets in. A thief with the cookie gets one more budget, no more.
//!
//! The cookie is signed over the account's credential version, so a password change makes
//! every device cookie of the account worthless: cookies gathered while someone knew the old
//! password buy no guesses at the new one. A browser that already holds a valid cookie keeps
//! its device id when it logs in again, so logging in repeatedly does not mint budgets.

use super::tokens::{derive_key, keyed_digest};
use crate::config::Config;

/// Signs and checks device cookies; the key is derived from the refresh secret, so every
/// instance of one deployment accepts the cookies of the others.
pub struct DeviceKeys {
    key: Vec<u8>,
}

/// A device this account logged in from before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice(String);

impl TrustedDevice {
    /// The name of this device's failure budget.
    pub fn budget(&self) -> String {
        format!("device:{}", self.0)
    }
}

impl DeviceKeys {
    pub fn new(config: &Config) -> Self {
        Self {
            key: derive_key(config.refresh_secret.expose(), "gatehouse device cookie v1"),
        }
    }

    fn mac(&self, user_id: &str, credential_version: i64, device_id: &str) -> String {
        let signed = format!("{user_id}\n{credential_version}\n{device_id}");
        keyed_digest(&self.key, signed.as_bytes())
    }

    /// The cookie value for a browser that just proved it knows the password of `user_id` at
    /// `credential_version`: for `device` if it is already trusted, else for a new device.
    pub fn issue(
        &self,
        user_id: &str,
        credential_version: i64,
        device: Option<&TrustedDevice>,
    ) -> String {
        let device_id = device.map_or_else(
            || uuid::Uuid::new_v4().simple().to_string(),
            |device| device.0.clone(),
        );
        let mac = self.mac(user_id, credential_version, &device_id);
        format!("{device_id}.{mac}")
    }

    /// The device a cookie names, if it was issued by us to a browser of `user_id` while the
    /// account's credentials were at `credential_version`.
    pub fn verify(
        &self,
        value: &str,
        user_id: &str,
        credential_version: i64,
    ) -> Option<TrustedDevice> {
        let (device_id, mac) = value.split_once('.')?;
        let valid = device_id.len() == 32
            && device_id.bytes().all(|b| b.is_ascii_hexdigit())
            && constant_time_eq(
                mac.as_bytes(),
                self.mac(user_id, credential_version, device_id).as_bytes(),
            );
        valid.then(|| TrustedDevice(device_id.to_owned()))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(refresh: &str) -> DeviceKeys {
        let config = Config::from_lookup(|name| match name {
            "ACCESS_TOKEN_SECRET" => Some("device-test-access-secret-0123456789abc".into()),
            "REFRESH_TOKEN_SECRET" => Some(refresh.into()),
            _ => None,
        })
        .unwrap();
        DeviceKeys::new(&config)
    }

    #[test]
    fn a_device_cookie_is_trusted_for_its_own_account_only() {
        let keys = keys("device-test-refresh-secret-0123456789ab");
        let cookie = keys.issue("ada", 1, None);
        let device = keys.verify(&cookie, "ada", 1).expect("trusted for ada");
        assert!(device.budget().starts_with("device:"));
        assert_eq!(keys.verify(&cookie, "grace", 1), None);
    }

    #[test]
    fn a_password_change_makes_every_device_cookie_worthless() {
        let keys = keys("device-test-refresh-secret-0123456789ab");
        let cookie = keys.issue("ada", 1, None);
        assert_eq!(keys.verify(&cookie, "ada", 2), None);
    }

    #[test]
    fn logging_in_again_from_a_trusted_browser_keeps_its_device() {
        let keys = keys("device-test-refresh-secret-0123456789ab");
        let first = keys.verify(&keys.issue("ada", 1, None), "ada", 1).unwrap();
        let again = keys.issue("ada", 1, Some(&first));
        assert_eq!(keys.verify(&again, "ada", 1), Some(first.clone()));
        let after_change = keys.issue("ada", 2, Some(&first));
        assert_eq!(
            keys.verify(&after_change, "ada", 2),
            Some(first),
            "same device, new version"
        );
    }

    #[test]
    fn a_forged_or_foreign_device_cookie_is_not_trusted() {
        let ours = keys("device-test-refresh-secret-0123456789ab");
        let theirs = keys("another-refresh-secret-0123456789abcdef");
        assert_eq!(ours.verify(&theirs.issue("ada", 1, None), "ada", 1), None);
        let cookie = ours.issue("ada", 1, None);
        let (id, mac) = cookie.split_once('.').unwrap();
        let mut flipped = mac.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let tampered = format!("{id}.{}", String::from_utf8(flipped).unwrap());
        for bad in ["", "x", "abc.def", &tampered, id] {
            assert_eq!(ours.verify(bad, "ada", 1), None, "{bad:?}");
        }
    }
}
