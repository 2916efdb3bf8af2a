//! [ssr] Access and refresh JWTs: HS256 only, each kind under its own key, and a `typ` claim
//! checked on every verification so one kind can never stand in for the other.

pub use super::kdf::derive_key;
use super::key_ring::{KindKeys, Ring, RingKey, Secrets};
use crate::{config::Config, store::UserRecord};
use hmac::{Hmac, Mac};
use jsonwebtoken::{
    decode, encode, errors::ErrorKind, Algorithm, DecodingKey, Header, Validation,
};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use sha2::{Digest, Sha256};
use arc_swap::ArcSwap;
use std::{sync::Arc, time::Duration};
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// Claims of an access token. The profile fields are for display only: authority comes from
/// `sub` and `sid`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub typ: TokenType,
    pub email: String,
    pub username: String,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshClaims {
    pub sub: String,
    pub sid: String,
    pub jti: String,
    pub iat: i64,
    pub exp: i64,
    pub typ: TokenType,
}

/// How far in the future a token's `iat` may be and still be believed: none of our tokens is
/// ever issued ahead of the clock that checks it, so this only forgives a clock step.
pub const IAT_LEEWAY_SECS: i64 = 30;

/// The claims every verification checks beyond what `jsonwebtoken` does.
pub(crate) trait Checked {
    fn typ(&self) -> TokenType;
    fn iat(&self) -> i64;
}
impl Checked for AccessClaims {
    fn typ(&self) -> TokenType {
        self.typ
    }
    fn iat(&self) -> i64 {
        self.iat
    }
}
impl Checked for RefreshClaims {
    fn typ(&self) -> TokenType {
        self.typ
    }
    fn iat(&self) -> i64 {
        self.iat
    }
}

/// Why a token was refused. Deliberately coarse: the client learns only whether logging in
/// again (expired) or nothing (invalid) is the cure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("token expired")]
    Expired,
    #[error("token invalid")]
    Invalid,
}

/// A signed token and when it stops working.
pub struct Issued {
    pub token: String,
    pub expires_at: OffsetDateTime,
}

/// The signing keys (see `key_ring`) and lifetimes, built once at start-up; the live keys are
/// replaced whenever the database's list changes (`install`).
pub struct TokenKeys {
    secrets: Secrets,
    /// Read on every verification: an `ArcSwap`, since a lock's shared counter, written by
    /// every reader on every core, cost `/me` measurably.
    ring: ArcSwap<Ring>,
    /// Derived from the refresh secret: the key of successor jtis (see [`TokenKeys::successor`]).
    successor_key: Vec<u8>,
    access_ttl: Duration,
    refresh_ttl: Duration,
    validation: Validation,
}

/// Why one key did not verify a token: its signature (another key may), or anything else.
enum Failure {
    Signature,
    Refused(TokenError),
}

impl TokenKeys {
    pub fn new(config: &Config) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        // The same service issues and checks these tokens against one clock, so there is no
        // skew to forgive: an expired token is refused the second it expires.
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat", "sub"]);
        let secrets = Secrets {
            access: config.access_secret.clone(),
            refresh: config.refresh_secret.clone(),
            access_previous: config.access_secret_previous.clone(),
            refresh_previous: config.refresh_secret_previous.clone(),
        };
        Self {
            ring: ArcSwap::from_pointee(Ring::derive(&secrets, &[])),
            successor_key: derive_key(
                config.refresh_secret.expose(),
                "gatehouse refresh successor v1",
            ),
            secrets,
            access_ttl: config.access_ttl,
            refresh_ttl: config.refresh_ttl,
            validation,
        }
    }

    /// Makes `live` (key ids and creation times, newest first, as `signing_keys` lists them)
    /// the keys that sign and verify from now on.
    pub fn install(&self, live: &[(String, i64)]) {
        self.ring.store(Arc::new(Ring::derive(&self.secrets, live)));
    }

    /// The live keys now: one snapshot for work that signs more than once.
    pub fn ring(&self) -> Arc<Ring> {
        self.ring.load_full()
    }

    pub fn access_ttl(&self) -> Duration {
        self.access_ttl
    }

    pub fn refresh_ttl(&self) -> Duration {
        self.refresh_ttl
    }

    /// An access token for `session_id`, which lives its full lifetime or until the session's
    /// cap (`ends_by`), whichever comes first.
    pub fn issue_access(
        &self,
        user: &UserRecord,
        session_id: &str,
        now: OffsetDateTime,
        ends_by: OffsetDateTime,
    ) -> Result<Issued, jsonwebtoken::errors::Error> {
        let expires_at = (now + self.access_ttl).min(ends_by);
        let claims = AccessClaims {
            sub: user.id.clone(),
            sid: session_id.to_owned(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            typ: TokenType::Access,
            email: user.email.clone(),
            username: user.username.clone(),
            full_name: user.full_name.clone(),
        };
        let ring = self.ring();
        let signer = ring.signer();
        let token = encode(&header(signer), &claims, &signer.access.encoding)?;
        Ok(Issued { token, expires_at })
    }

    /// A new refresh token for `session_id` (the first of a session, or a fresh one after a
    /// password change), capped like an access token.
    pub fn issue_refresh(
        &self,
        user_id: &str,
        session_id: &str,
        now: OffsetDateTime,
        ends_by: OffsetDateTime,
    ) -> Result<Issued, jsonwebtoken::errors::Error> {
        let jti = uuid::Uuid::new_v4().to_string();
        let ring = self.ring();
        self.sign_refresh(ring.signer(), user_id, session_id, jti, now, ends_by)
    }

    /// The one refresh token that replaces `old` when it is rotated at `rotated_at`, signed by
    /// `key` (the signer of a [`Self::ring`] snapshot, so that a rotation signs its successor
    /// twice with one key even if the keys change in between).
    ///
    /// Everything in it follows from `old`, the rotation time, the session's cap and the key,
    /// and HS256 signing is deterministic, so computing it again gives the very same token.
    /// That is how a presentation of `old` within the grace window gets the successor the first
    /// one got, while the database keeps only the successor's hash.
    pub fn successor(
        &self,
        key: &RingKey,
        old: &str,
        claims: &RefreshClaims,
        rotated_at: OffsetDateTime,
        ends_by: OffsetDateTime,
    ) -> Result<Issued, jsonwebtoken::errors::Error> {
        // Keyed, so that no one without the refresh key can predict a successor's jti.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.successor_key)
            .expect("HMAC takes keys of any length");
        mac.update(old.as_bytes());
        let digest = mac.finalize().into_bytes();
        let jti = uuid::Builder::from_random_bytes(
            digest[..16].try_into().expect("a SHA-256 MAC has 32 bytes"),
        )
        .into_uuid()
        .to_string();
        self.sign_refresh(key, &claims.sub, &claims.sid, jti, rotated_at, ends_by)
    }

    fn sign_refresh(
        &self,
        key: &RingKey,
        user_id: &str,
        session_id: &str,
        jti: String,
        now: OffsetDateTime,
        ends_by: OffsetDateTime,
    ) -> Result<Issued, jsonwebtoken::errors::Error> {
        let expires_at = (now + self.refresh_ttl).min(ends_by);
        let claims = RefreshClaims {
            sub: user_id.to_owned(),
            sid: session_id.to_owned(),
            jti,
            iat: now.unix_timestamp(),
            exp: expires_at.unix_timestamp(),
            typ: TokenType::Refresh,
        };
        let token = encode(&header(key), &claims, &key.refresh.encoding)?;
        Ok(Issued { token, expires_at })
    }

    /// An access token's claims, if it is valid now. A token that lives longer than the access
    /// lifetime set now is refused as expired (the client refreshes): the revocation set keeps
    /// an ended session for one lifetime as set now, so a token issued under a longer setting
    /// would outlive its session's place in the set (logged out under `1h`, restarted with
    /// `5s`, the old token was accepted again).
    pub fn verify_access(&self, token: &str) -> Result<AccessClaims, TokenError> {
        let claims: AccessClaims = self.verify(
            token,
            |key| &key.access,
            &self.validation,
            TokenType::Access,
        )?;
        let lifetime = claims.exp.saturating_sub(claims.iat);
        if lifetime > i64::try_from(self.access_ttl.as_secs()).unwrap_or(i64::MAX) {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }

    pub fn verify_refresh(&self, token: &str) -> Result<RefreshClaims, TokenError> {
        self.verify(
            token,
            |key| &key.refresh,
            &self.validation,
            TokenType::Refresh,
        )
    }

    /// Signature and type only, expiry ignored: enough to know which user's session a logout
    /// ends, as `(user id, session id)`.
    pub fn refresh_claims_of(&self, token: &str) -> Option<(String, String)> {
        let mut lenient = self.validation.clone();
        lenient.validate_exp = false;
        self.verify::<RefreshClaims>(token, |key| &key.refresh, &lenient, TokenType::Refresh)
            .ok()
            .map(|claims| (claims.sub, claims.sid))
    }

    /// Verifies under the signing key first (nearly every token), then under the live key the
    /// token names, with the current secret and then the previous one. A retired key is not in
    /// the ring, so its tokens are refused.
    fn verify<C: DeserializeOwned + Checked>(
        &self,
        token: &str,
        kind: fn(&RingKey) -> &KindKeys,
        validation: &Validation,
        expected: TokenType,
    ) -> Result<C, TokenError> {
        let ring = self.ring.load();
        let signer = ring.signer();
        match check(token, &kind(signer).decoding[0], validation, expected) {
            Err(Failure::Signature) => {}
            Err(Failure::Refused(why)) => return Err(why),
            Ok(claims) => return Ok(claims),
        }
        let named = jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|header| header.kid);
        let key = ring.by_kid(named.as_deref()).ok_or(TokenError::Invalid)?;
        let tried_already = usize::from(key.kid == signer.kid);
        for decoding in kind(key).decoding.iter().skip(tried_already) {
            match check(token, decoding, validation, expected) {
                Err(Failure::Signature) => continue,
                Err(Failure::Refused(why)) => return Err(why),
                Ok(claims) => return Ok(claims),
            }
        }
        Err(TokenError::Invalid)
    }
}

fn header(key: &RingKey) -> Header {
    Header {
        kid: key.header_kid(),
        ..Header::new(Algorithm::HS256)
    }
}

fn check<C: DeserializeOwned + Checked>(
    token: &str,
    key: &DecodingKey,
    validation: &Validation,
    expected: TokenType,
) -> Result<C, Failure> {
    let data = decode::<C>(token, key, validation).map_err(|e| match e.kind() {
        ErrorKind::InvalidSignature => Failure::Signature,
        ErrorKind::ExpiredSignature => Failure::Refused(TokenError::Expired),
        _ => Failure::Refused(TokenError::Invalid),
    })?;
    let issued_in_the_future =
        data.claims.iat() > OffsetDateTime::now_utc().unix_timestamp() + IAT_LEEWAY_SECS;
    if data.claims.typ() != expected || issued_in_the_future {
        return Err(Failure::Refused(TokenError::Invalid));
    }
    Ok(data.claims)
}

/// HMAC-SHA256 of `data` under `key`, in hex.
pub fn keyed_digest(key: &[u8], data: &[u8]) -> String {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

/// The database key of a refresh token. The token carries 122 random bits (its `jti`), so a
/// plain SHA-256 is enough: nothing to brute-force, and a stolen table yields no usable token.
pub fn refresh_token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
    use jsonwebtoken::EncodingKey;

    const ACCESS: &str = "test-access-secret-0123456789-abcdefghij";
    const REFRESH: &str = "test-refresh-secret-0123456789-abcdefghij";

    fn keys_with(access: &str, refresh: &str) -> TokenKeys {
        let config = Config::from_lookup(|name| match name {
            "ACCESS_TOKEN_SECRET" => Some(access.into()),
            "REFRESH_TOKEN_SECRET" => Some(refresh.into()),
            _ => None,
        })
        .unwrap();
        TokenKeys::new(&config)
    }

    fn keys() -> TokenKeys {
        keys_with(ACCESS, REFRESH)
    }

    fn user() -> UserRecord {
        UserRecord {
            id: "user-1".into(),
            email: "ada@example.org".into(),
            username: "ada".into(),
            full_name: "Ada Lovelace".into(),
            password_hash: "not-used-here".into(),
            credential_version: 1,
            created_at: OffsetDateTime::now_utc(),
            email_verified_at: None,
        disabled_at: None,
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    /// A session cap far beyond every lifetime here.
    fn far() -> OffsetDateTime {
        now() + Duration::from_secs(365 * 86_400)
    }

    /// Signs `claims` under the access key with `algorithm`, bypassing `TokenKeys`.
    fn sign_with_access_key(algorithm: Algorithm, claims: &impl Serialize) -> String {
        let key = EncodingKey::from_secret(ACCESS.as_bytes());
        encode(&Header::new(algorithm), claims, &key).unwrap()
    }

    #[test]
    fn an_issued_access_token_verifies_with_its_claims() {
        let issued = keys()
            .issue_access(&user(), "session-1", now(), far())
            .unwrap();
        let claims = keys().verify_access(&issued.token).unwrap();
        assert_eq!(claims.sub, "user-1");
        assert_eq!(claims.sid, "session-1");
        assert_eq!(claims.typ, TokenType::Access);
        assert_eq!(claims.username, "ada");
        assert_eq!(claims.exp - claims.iat, 15 * 60);
    }

    #[test]
    fn an_issued_refresh_token_verifies_and_names_its_session() {
        let issued = keys()
            .issue_refresh("user-1", "session-9", now(), far())
            .unwrap();
        let claims = keys().verify_refresh(&issued.token).unwrap();
        assert_eq!(
            (claims.sub.as_str(), claims.sid.as_str()),
            ("user-1", "session-9")
        );
        assert_eq!(claims.exp - claims.iat, 7 * 86_400);
    }

    #[test]
    fn a_successor_computed_twice_is_the_same_token() {
        let keys = keys();
        let old = keys
            .issue_refresh("user-1", "session-1", now(), far())
            .unwrap();
        let claims = keys.verify_refresh(&old.token).unwrap();
        let rotated_at = now();
        let first = keys
            .successor(keys.ring().signer(), &old.token, &claims, rotated_at, far())
            .unwrap();
        let again = keys
            .successor(keys.ring().signer(), &old.token, &claims, rotated_at, far())
            .unwrap();
        assert_eq!(first.token, again.token);
        let next = keys.verify_refresh(&first.token).unwrap();
        assert_eq!(
            (next.sub.as_str(), next.sid.as_str()),
            ("user-1", "session-1")
        );
        assert_ne!(next.jti, claims.jti);
    }

    #[test]
    fn successors_of_different_tokens_differ() {
        let keys = keys();
        let a = keys.issue_refresh("u", "s", now(), far()).unwrap();
        let b = keys.issue_refresh("u", "s", now(), far()).unwrap();
        let successor = |old: &Issued| {
            let claims = keys.verify_refresh(&old.token).unwrap();
            keys.successor(keys.ring().signer(), &old.token, &claims, now(), far())
                .unwrap()
                .token
        };
        assert_ne!(successor(&a), successor(&b));
    }

    #[test]
    fn no_token_outlives_its_session_cap() {
        let keys = keys();
        let ends_by = now() + Duration::from_secs(120);
        let access = keys.issue_access(&user(), "s", now(), ends_by).unwrap();
        let refresh = keys.issue_refresh("u", "s", now(), ends_by).unwrap();
        assert_eq!(access.expires_at, ends_by);
        assert_eq!(refresh.expires_at, ends_by);
        let claims = keys.verify_refresh(&refresh.token).unwrap();
        assert_eq!(claims.exp, ends_by.unix_timestamp());
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let long_ago = now() - Duration::from_secs(3600);
        let issued = keys().issue_access(&user(), "s", long_ago, far()).unwrap();
        assert_eq!(
            keys().verify_access(&issued.token).unwrap_err(),
            TokenError::Expired
        );
        let refresh = keys()
            .issue_refresh("u", "s", now() - Duration::from_secs(8 * 86_400), far())
            .unwrap();
        assert_eq!(
            keys().verify_refresh(&refresh.token).unwrap_err(),
            TokenError::Expired
        );
        assert_eq!(
            keys().refresh_claims_of(&refresh.token),
            Some(("u".to_owned(), "s".to_owned()))
        );
    }

    #[test]
    fn a_tampered_payload_is_invalid() {
        let issued = keys().issue_access(&user(), "s", now(), far()).unwrap();
        let mut parts: Vec<String> = issued.token.split('.').map(str::to_owned).collect();
        let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        parts[1] = URL_SAFE_NO_PAD.encode(payload.replace("user-1", "user-2"));
        let forged = parts.join(".");
        assert_eq!(
            keys().verify_access(&forged).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn a_token_signed_with_another_key_is_invalid() {
        let other = keys_with(
            "another-access-secret-0123456789-abcdef",
            "another-refresh-secret-0123456789-abcdef",
        );
        let issued = other.issue_access(&user(), "s", now(), far()).unwrap();
        assert_eq!(
            keys().verify_access(&issued.token).unwrap_err(),
            TokenError::Invalid
        );
        // And the refresh key never validates an access token.
        let access = keys().issue_access(&user(), "s", now(), far()).unwrap();
        assert_eq!(
            keys().verify_refresh(&access.token).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn an_unsigned_alg_none_token_is_invalid() {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        let exp = now().unix_timestamp() + 600;
        let payload = URL_SAFE_NO_PAD.encode(format!(
            r#"{{"sub":"user-1","sid":"s","jti":"j","iat":{},"exp":{exp},"typ":"access","email":"e","username":"u","full_name":"f"}}"#,
            exp - 600
        ));
        for token in [
            format!("{header}.{payload}."),
            format!("{header}.{payload}"),
        ] {
            assert_eq!(
                keys().verify_access(&token).unwrap_err(),
                TokenError::Invalid
            );
        }
    }

    #[test]
    fn a_token_of_the_wrong_type_is_invalid_even_under_the_right_key() {
        // Sign refresh-typed claims with the access key: only the `typ` check can catch it.
        let claims = RefreshClaims {
            sub: "user-1".into(),
            sid: "s".into(),
            jti: "j".into(),
            iat: now().unix_timestamp(),
            exp: now().unix_timestamp() + 600,
            typ: TokenType::Refresh,
        };
        let token = sign_with_access_key(Algorithm::HS256, &claims);
        assert_eq!(
            keys().verify_access(&token).unwrap_err(),
            TokenError::Invalid
        );
    }

    /// The claims of an access token as this server issues it.
    fn issued_access_claims() -> AccessClaims {
        let issued = keys().issue_access(&user(), "s", now(), far()).unwrap();
        keys().verify_access(&issued.token).unwrap()
    }

    #[test]
    fn a_token_issued_in_the_future_beyond_the_leeway_is_invalid() {
        let issued_at = |offset: i64| {
            let mut claims = issued_access_claims();
            claims.iat = now().unix_timestamp() + offset;
            claims.exp = claims.iat + 600;
            keys().verify_access(&sign_with_access_key(Algorithm::HS256, &claims))
        };
        assert!(issued_at(IAT_LEEWAY_SECS - 5).is_ok());
        assert_eq!(
            issued_at(IAT_LEEWAY_SECS + 60).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn hs512_under_the_right_key_is_invalid() {
        let token = sign_with_access_key(Algorithm::HS512, &issued_access_claims());
        assert_eq!(
            keys().verify_access(&token).unwrap_err(),
            TokenError::Invalid
        );
    }

    #[test]
    fn garbage_is_invalid_not_a_panic() {
        for junk in ["", ".", "..", "a.b.c", "eyJ.eyJ.sig", "💥"] {
            assert_eq!(keys().verify_access(junk).unwrap_err(), TokenError::Invalid);
        }
    }

    #[test]
    fn refresh_hash_is_stable_hex_and_differs_from_the_token() {
        let hash = refresh_token_hash("abc");
        assert_eq!(hash, refresh_token_hash("abc"));
        assert_eq!(hash.len(), 64);
        assert_ne!(hash, refresh_token_hash("abd"));
    }

    #[test]
    fn tokens_of_the_key_before_a_rotation_verify_and_new_ones_carry_the_new_kid() {
        let keys = keys();
        let before = keys.issue_access(&user(), "s", now(), far()).unwrap();
        let refresh_before = keys.issue_refresh("u", "s", now(), far()).unwrap();
        keys.install(&[("k2".into(), 1), ("0".into(), 0)]);
        let after = keys.issue_access(&user(), "s", now(), far()).unwrap();
        let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid;
        assert_eq!(kid(&before.token), None);
        assert_eq!(kid(&after.token).as_deref(), Some("k2"));
        assert!(keys.verify_access(&before.token).is_ok());
        assert!(keys.verify_refresh(&refresh_before.token).is_ok());
        assert!(keys.verify_access(&after.token).is_ok());
        // Another server with the same secret and list verifies it too: nothing is stored.
        let elsewhere = self::keys();
        elsewhere.install(&[("k2".into(), 1), ("0".into(), 0)]);
        assert!(elsewhere.verify_access(&after.token).is_ok());
    }

    #[test]
    fn a_retired_keys_tokens_are_refused() {
        let keys = keys();
        keys.install(&[("k2".into(), 1), ("0".into(), 0)]);
        let old = keys.issue_access(&user(), "s", now(), far()).unwrap();
        keys.install(&[("k3".into(), 2), ("k2".into(), 1)]);
        assert!(keys.verify_access(&old.token).is_ok());
        keys.install(&[("k3".into(), 2)]);
        assert_eq!(keys.verify_access(&old.token).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_token_naming_a_live_kid_but_signed_with_a_retired_key_is_refused() {
        let keys = keys();
        let original = keys.issue_access(&user(), "s", now(), far()).unwrap();
        keys.install(&[("k2".into(), 1)]);
        // Re-label the token as k2's: the signature is still the original key's.
        let mut parts: Vec<&str> = original.token.split('.').collect();
        let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"HS256","kid":"k2"}"#);
        parts[0] = &header;
        assert_eq!(keys.verify_access(&parts.join(".")).unwrap_err(), TokenError::Invalid);
    }

    #[test]
    fn a_previous_secret_in_the_settings_still_verifies_its_tokens() {
        let old = keys_with(ACCESS, REFRESH);
        let token = old.issue_access(&user(), "s", now(), far()).unwrap();
        let config = Config::from_lookup(|name| match name {
            "ACCESS_TOKEN_SECRET" => Some("a-new-access-secret-0123456789-abcdef".into()),
            "REFRESH_TOKEN_SECRET" => Some("a-new-refresh-secret-0123456789-abcdef".into()),
            "ACCESS_TOKEN_SECRET_PREVIOUS" => Some(ACCESS.into()),
            _ => None,
        })
        .unwrap();
        let new = TokenKeys::new(&config);
        assert!(new.verify_access(&token.token).is_ok());
        let fresh = new.issue_access(&user(), "s", now(), far()).unwrap();
        assert_eq!(old.verify_access(&fresh.token).unwrap_err(), TokenError::Invalid, "signed with the new secret");
    }

    proptest::proptest! {
        /// Whatever a cookie holds, verification answers Invalid or Expired and never panics.
        #[test]
        fn any_cookie_value_is_refused_without_panicking(raw in "\\PC{0,300}") {
            let keys = keys();
            proptest::prop_assert!(keys.verify_access(&raw).is_err());
            proptest::prop_assert!(keys.verify_refresh(&raw).is_err());
        }

        /// Three base64url parts of any bytes (the shape of a JWT) are refused too.
        #[test]
        fn any_jwt_shaped_value_is_refused_without_panicking(
            header in proptest::collection::vec(proptest::num::u8::ANY, 0..80),
            payload in proptest::collection::vec(proptest::num::u8::ANY, 0..200),
            signature in proptest::collection::vec(proptest::num::u8::ANY, 0..40),
        ) {
            let token = [header, payload, signature]
                .iter()
                .map(|part| URL_SAFE_NO_PAD.encode(part))
                .collect::<Vec<_>>()
                .join(".");
            proptest::prop_assert!(keys().verify_access(&token).is_err());
        }
    }
}
