//! [ssr] The signing keys by id (`kid`), as the database lists them (`signing_keys`): the
//! newest live one signs, every live one verifies, a retired one verifies nothing.
//!
//! No key is stored. A key is derived from the configured secret and its id, so a copy of the
//! database signs nothing, and every instance with the same secret derives the same keys. The
//! id `0` is the secret itself: the key every token was signed with before keys had ids, and
//! the only key until the first `gatehouse keys rotate`. Its tokens carry no `kid`, as before.
//!
//! A previous secret (`ACCESS_TOKEN_SECRET_PREVIOUS`, `REFRESH_TOKEN_SECRET_PREVIOUS`) verifies
//! too, under every live id: how a new secret in the settings logs nobody out.

use super::kdf::derive_key;
use crate::config::Secret;
use jsonwebtoken::{DecodingKey, EncodingKey};

/// The id of the configured secret itself.
pub const ORIGINAL: &str = "0";

/// How long a new key only verifies before it signs: every instance has read it by then (they
/// hear of it within a second), so none refuses a token it signed. Alone among live keys (a
/// rotation that retired the others), it signs at once.
pub const ACTIVATION_SECS: i64 = 5;

/// The keys of one kind of token (access or refresh) under one id.
pub struct KindKeys {
    pub encoding: EncodingKey,
    /// The current secret's key first, then the previous secret's, if one is set.
    pub decoding: Vec<DecodingKey>,
}

/// One live id and its keys for both kinds.
pub struct RingKey {
    pub kid: String,
    /// Unix seconds (0 for [`ORIGINAL`]).
    pub created_at: i64,
    pub access: KindKeys,
    pub refresh: KindKeys,
}

/// The live keys, newest first.
pub struct Ring {
    pub keys: Vec<RingKey>,
}

/// The configured secrets a ring is derived from.
pub struct Secrets {
    pub access: Secret,
    pub refresh: Secret,
    pub access_previous: Option<Secret>,
    pub refresh_previous: Option<Secret>,
}

impl Ring {
    /// The ring of `live` ids with their creation times, newest first; `[ORIGINAL]` when none
    /// is listed.
    pub fn derive(secrets: &Secrets, live: &[(String, i64)]) -> Self {
        let original = [(ORIGINAL.to_owned(), 0)];
        let live = if live.is_empty() { &original[..] } else { live };
        let kind_keys = |secret: &Secret, previous: Option<&Secret>, label: &str, kid: &str| {
            let key = |secret: &Secret| key_of(secret, label, kid);
            KindKeys {
                encoding: EncodingKey::from_secret(&key(secret)),
                decoding: std::iter::once(secret)
                    .chain(previous)
                    .map(|secret| DecodingKey::from_secret(&key(secret)))
                    .collect(),
            }
        };
        let keys = live
            .iter()
            .map(|(kid, created_at)| RingKey {
                kid: kid.clone(),
                created_at: *created_at,
                access: kind_keys(&secrets.access, secrets.access_previous.as_ref(), "access", kid),
                refresh: kind_keys(
                    &secrets.refresh,
                    secrets.refresh_previous.as_ref(),
                    "refresh",
                    kid,
                ),
            })
            .collect();
        Self { keys }
    }

    /// The key that signs now: the newest that has been live for [`ACTIVATION_SECS`], or
    /// the oldest live one while none has.
    pub fn signer(&self) -> &RingKey {
        self.signer_at(time::OffsetDateTime::now_utc().unix_timestamp())
    }

    fn signer_at(&self, now: i64) -> &RingKey {
        let active = |key: &&RingKey| key.created_at <= now - ACTIVATION_SECS;
        // `derive` never builds an empty ring.
        self.keys
            .iter()
            .find(active)
            .unwrap_or(&self.keys[self.keys.len() - 1])
    }

    /// The live key with id `kid` (a token without one names [`ORIGINAL`]).
    pub fn by_kid(&self, kid: Option<&str>) -> Option<&RingKey> {
        let kid = kid.unwrap_or(ORIGINAL);
        self.keys.iter().find(|key| key.kid == kid)
    }
}

impl RingKey {
    /// The `kid` header a token signed with this key carries: none for [`ORIGINAL`], so tokens
    /// stay as they were until the first rotation.
    pub fn header_kid(&self) -> Option<String> {
        (self.kid != ORIGINAL).then(|| self.kid.clone())
    }
}

/// The key bytes of `kid` for one kind of token under `secret`.
fn key_of(secret: &Secret, kind: &str, kid: &str) -> Vec<u8> {
    if kid == ORIGINAL {
        secret.expose().to_vec()
    } else {
        derive_key(secret.expose(), &format!("gatehouse {kind} signing key {kid}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> Secrets {
        Secrets {
            access: Secret::new(b"access-secret-0123456789-0123456789".to_vec()),
            refresh: Secret::new(b"refresh-secret-0123456789-0123456789".to_vec()),
            access_previous: None,
            refresh_previous: None,
        }
    }

    #[test]
    fn with_no_key_listed_the_secret_itself_signs_without_a_kid() {
        let ring = Ring::derive(&secrets(), &[]);
        assert_eq!(ring.signer().kid, ORIGINAL);
        assert_eq!(ring.signer().header_kid(), None);
        assert!(ring.by_kid(None).is_some());
    }

    #[test]
    fn the_newest_live_key_signs_and_a_retired_one_is_not_found() {
        let ring = Ring::derive(&secrets(), &[("b2".into(), 1), (ORIGINAL.into(), 0)]);
        assert_eq!(ring.signer().header_kid().as_deref(), Some("b2"));
        assert!(ring.by_kid(None).is_some(), "the original still verifies");
        assert!(ring.by_kid(Some("a1")).is_none(), "not live");
    }

    #[test]
    fn a_new_key_signs_only_once_every_instance_has_had_time_to_read_it() {
        let now = 1_000_000;
        let ring = Ring::derive(&secrets(), &[("new".into(), now), (ORIGINAL.into(), 0)]);
        assert_eq!(ring.signer_at(now).kid, ORIGINAL);
        assert_eq!(ring.signer_at(now + ACTIVATION_SECS - 1).kid, ORIGINAL);
        assert_eq!(ring.signer_at(now + ACTIVATION_SECS).kid, "new");
        // Alone (the others retired because one leaked), it signs at once.
        let alone = Ring::derive(&secrets(), &[("new".into(), now)]);
        assert_eq!(alone.signer_at(now).kid, "new");
    }

    #[test]
    fn keys_of_different_ids_and_kinds_differ_and_none_is_the_secret() {
        let s = secrets();
        let a = key_of(&s.access, "access", "a1");
        assert_ne!(a, key_of(&s.access, "access", "b2"));
        assert_ne!(a, key_of(&s.access, "refresh", "a1"));
        assert_ne!(a, s.access.expose());
    }
}
