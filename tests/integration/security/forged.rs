//! Forged tokens (RFC 8725; ASVS V3.5.3).

use super::*;

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::Value;

const ACCESS_SECRET: &str = "security-test-access-secret-0123456789";
const REFRESH_SECRET: &str = "security-test-refresh-secret-0123456789";

/// A server with known keys, a registered user's cookies, and the claims of their tokens.
async fn setup() -> (support::TestApp, Jar, Value, Value) {
    let app = spawn_app_with(&[
        ("ACCESS_TOKEN_SECRET", ACCESS_SECRET),
        ("REFRESH_TOKEN_SECRET", REFRESH_SECRET),
    ])
    .await;
    let jar = app.register("forgery").await;
    let claims = |name| {
        let token = jar.get(name).unwrap();
        let payload = token.split('.').nth(1).unwrap();
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    };
    let (access, refresh) = (claims(support::ACCESS), claims(support::REFRESH));
    (app, jar, access, refresh)
}

fn sign(algorithm: Algorithm, claims: &Value, secret: &str) -> String {
    encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn jar_with(name: &str, token: String) -> Jar {
    let mut jar = Jar::default();
    jar.0.insert(name.to_owned(), token);
    jar
}

async fn me_with(app: &support::TestApp, token: String) -> reqwest::Response {
    app.get("/api/auth/me", &jar_with(support::ACCESS, token))
        .await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// Control: a token signed here like the server signs them is accepted, so the refusals
/// below are about what each one changes.
#[tokio::test]
async fn rfc8725_control_a_correctly_signed_token_is_accepted() {
    let (app, _, access, _) = setup().await;
    let response = me_with(&app, sign(Algorithm::HS256, &access, ACCESS_SECRET)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

/// RFC 8725 §3.1, §2.1: `alg: none` (an unsigned token) is refused.
#[tokio::test]
async fn rfc8725_3_1_an_unsigned_alg_none_token_is_refused() {
    let (app, _, access, _) = setup().await;
    let part = |v: &Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let header = serde_json::json!({"alg": "none", "typ": "JWT"});
    for signature in ["", "AAAA"] {
        let token = format!("{}.{}.{signature}", part(&header), part(&access));
        assert_error(me_with(&app, token).await, 401, "token_invalid").await;
    }
}

/// RFC 8725 §3.1: only HS256 is accepted, even with the right key under another algorithm.
#[tokio::test]
async fn rfc8725_3_1_hs512_with_the_right_key_is_refused() {
    let (app, _, access, _) = setup().await;
    let token = sign(Algorithm::HS512, &access, ACCESS_SECRET);
    assert_error(me_with(&app, token).await, 401, "token_invalid").await;
}

/// RFC 8725 §3.12, §2.8: an access token signed with the refresh key, a refresh token used
/// as an access token, and an access token used as a refresh token are all refused.
#[tokio::test]
async fn rfc8725_3_12_the_other_kinds_key_or_token_is_refused() {
    let (app, jar, access, _) = setup().await;
    let other_key = sign(Algorithm::HS256, &access, REFRESH_SECRET);
    assert_error(me_with(&app, other_key).await, 401, "token_invalid").await;
    let refresh_as_access = jar.get(support::REFRESH).unwrap().to_owned();
    assert_error(me_with(&app, refresh_as_access).await, 401, "token_invalid").await;
    let access_as_refresh = jar_with(support::REFRESH, jar.get(support::ACCESS).unwrap().into());
    let response = app.post("/api/auth/refresh", &[], &access_as_refresh).await;
    assert_error(response, 401, "token_invalid").await;
}

/// ASVS V3.5.3: a token whose payload was changed after signing is refused.
#[tokio::test]
async fn v3_5_3_a_tampered_payload_is_refused() {
    let (app, jar, mut access, _) = setup().await;
    access["sub"] = Value::from("someone-else");
    let original = jar.get(support::ACCESS).unwrap();
    let mut parts: Vec<String> = original.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&access).unwrap());
    assert_error(me_with(&app, parts.join(".")).await, 401, "token_invalid").await;
}

/// RFC 8725 §3.10 (validate all claims): an expired token is refused as expired.
#[tokio::test]
async fn rfc8725_3_10_an_expired_token_is_refused_as_expired() {
    let (app, _, mut access, _) = setup().await;
    access["iat"] = Value::from(now() - 120);
    access["exp"] = Value::from(now() - 1);
    let token = sign(Algorithm::HS256, &access, ACCESS_SECRET);
    assert_error(me_with(&app, token).await, 401, "token_expired").await;
}

/// RFC 8725 §3.10: a token issued more than the leeway (30 s) in the future is refused.
#[tokio::test]
async fn rfc8725_3_10_a_token_issued_in_the_future_is_refused() {
    let (app, _, mut access, _) = setup().await;
    access["iat"] = Value::from(now() + 300);
    access["exp"] = Value::from(now() + 900);
    let token = sign(Algorithm::HS256, &access, ACCESS_SECRET);
    assert_error(me_with(&app, token).await, 401, "token_invalid").await;
}
