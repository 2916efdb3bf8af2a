//! [ssr] Trusted devices (OWASP's "device cookies"): a browser that logged in to an account
//! successfully gets a signed cookie naming that account, and from then on its password
//! checks for that account draw on a failure budget of its own. Strangers failing on purpose
//! spend the account's shared budget and lock it for untrusted browsers only; the owner's
//! browser still gets in. A thief with the cookie gets one more budget, no more.

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

    fn mac(&self, user_id: &str, device_id: &str) -> String {
        keyed_digest(&self.key, format!("{user_id}\n{device_id}").as_bytes())
    }

    /// A new cookie value for a browser that just proved it knows `user_id`'s password.
    pub fn issue(&self, user_id: &str) -> String {
        let device_id = uuid::Uuid::new_v4().simple().to_string();
        let mac = self.mac(user_id, &device_id);
        format!("{device_id}.{mac}")
    }

    /// The device a cookie names, if it was issued by us to a browser of `user_id`.
    pub fn verify(&self, value: &str, user_id: &str) -> Option<TrustedDevice> {
        let (device_id, mac) = value.split_once('.')?;
        let valid = device_id.len() == 32
            && device_id.bytes().all(|b| b.is_ascii_hexdigit())
            && constant_time_eq(mac.as_bytes(), self.mac(user_id, device_id).as_bytes());
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
        let cookie = keys.issue("ada");
        let device = keys.verify(&cookie, "ada").expect("trusted for ada");
        assert!(device.budget().starts_with("device:"));
        assert_eq!(keys.verify(&cookie, "grace"), None);
    }

    #[test]
    fn a_forged_or_foreign_device_cookie_is_not_trusted() {
        let ours = keys("device-test-refresh-secret-0123456789ab");
        let theirs = keys("another-refresh-secret-0123456789abcdef");
        assert_eq!(ours.verify(&theirs.issue("ada"), "ada"), None);
        let cookie = ours.issue("ada");
        let (id, mac) = cookie.split_once('.').unwrap();
        let mut flipped = mac.to_owned().into_bytes();
        flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
        let tampered = format!("{id}.{}", String::from_utf8(flipped).unwrap());
        for bad in ["", "x", "abc.def", &tampered, id] {
            assert_eq!(ours.verify(bad, "ada"), None, "{bad:?}");
        }
    }
}
