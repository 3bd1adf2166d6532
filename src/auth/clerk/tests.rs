//! The token table: each kind of session token, signed with the test RSA keys in
//! `tests/fixtures/clerk/`, and the outcome `@clerk/backend` gives it.

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

use super::session::SessionState;
use super::verify::{self, Reason};
use super::{ClerkIdentity, keys};
use crate::config::ClerkSettings;

const KEY1: &str = include_str!("../../../tests/fixtures/clerk/key1.pem");
const KEY1_PUBLIC: &str = include_str!("../../../tests/fixtures/clerk/key1.pub.pem");
const KEY2: &str = include_str!("../../../tests/fixtures/clerk/key2.pem");
const PUBLISHABLE_KEY: &str = "pk_test_Y2xlcmsuY2xlcmsuZGV2JA";
const ISSUER: &str = "https://clerk.clerk.dev";
const APP: &str = "http://localhost:8080";

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

/// A token with these header and claims, signed with `key` (PEM) by `alg`.
fn sign(header: Value, claims: Value, key: &EncodingKey, alg: Algorithm) -> String {
    let message = format!("{}.{}", b64(&header), b64(&claims));
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), key, alg).unwrap();
    format!("{message}.{signature}")
}

fn rsa(pem: &str) -> EncodingKey {
    EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()
}

fn claims() -> Value {
    let now = now();
    json!({
        "sub": "user_2abc", "sid": "sess_1", "azp": APP, "iss": ISSUER,
        "iat": now - 10, "nbf": now - 20, "exp": now + 50,
    })
}

fn with(mut value: Value, changes: Value) -> Value {
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            value.as_object_mut().unwrap().remove(k);
        } else {
            value[k] = v.clone();
        }
    }
    value
}

fn session_header() -> Value {
    json!({"alg": "RS256", "typ": "JWT", "kid": "ins_test1", "cat": verify::CATEGORY_SESSION})
}

fn token(header_changes: Value, claim_changes: Value) -> String {
    sign(
        with(session_header(), header_changes),
        with(claims(), claim_changes),
        &rsa(KEY1),
        Algorithm::RS256,
    )
}

fn identity() -> ClerkIdentity {
    ClerkIdentity::new(&ClerkSettings {
        publishable_key: PUBLISHABLE_KEY.into(),
        secret_key: "sk_test_x".to_string().into(),
        jwt_key: Some(KEY1_PUBLIC.into()),
        // Never reached: the PEM makes verification networkless.
        api_url: url::Url::parse("http://127.0.0.1:9").unwrap(),
        authorized_parties: vec![APP.into()],
    })
    .unwrap()
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
    );
    headers
}

fn cookies(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let value = pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
    headers
}

enum Expected {
    SignedIn,
    SignedOut,
    Stale,
}

fn assert_state(state: &SessionState, expected: &Expected, case: &str) {
    let ok = matches!(
        (state, expected),
        (SessionState::SignedIn(_), Expected::SignedIn)
            | (SessionState::SignedOut(_), Expected::SignedOut)
            | (SessionState::Stale(_), Expected::Stale)
    );
    assert!(ok, "{case}: got {state:?}");
}

#[tokio::test]
async fn every_kind_of_session_token_gets_the_outcome_clerks_sdk_gives_it() {
    use Expected::*;
    let now = now();
    let hs256 = sign(
        with(session_header(), json!({"alg": "HS256"})),
        claims(),
        &EncodingKey::from_secret(KEY1_PUBLIC.as_bytes()),
        Algorithm::HS256,
    );
    let none = format!(
        "{}.{}.",
        b64(&with(session_header(), json!({"alg": "none"}))),
        b64(&claims())
    );
    let other_key = sign(session_header(), claims(), &rsa(KEY2), Algorithm::RS256);
    let good = token(json!({}), json!({}));
    let tampered = {
        let parts: Vec<&str> = good.split('.').collect();
        let payload = b64(&with(claims(), json!({"sub": "user_attacker"})));
        format!("{}.{payload}.{}", parts[0], parts[2])
    };
    let cases: Vec<(&str, String, Option<Reason>, Expected)> = vec![
        ("valid", good.clone(), None, SignedIn),
        (
            "RS512 (Clerk's SDK takes RS256 only)",
            sign(
                with(session_header(), json!({"alg": "RS512"})),
                claims(),
                &rsa(KEY1),
                Algorithm::RS512,
            ),
            Some(Reason::TokenInvalidAlgorithm),
            SignedOut,
        ),
        (
            "RS384",
            sign(
                with(session_header(), json!({"alg": "RS384"})),
                claims(),
                &rsa(KEY1),
                Algorithm::RS384,
            ),
            Some(Reason::TokenInvalidAlgorithm),
            SignedOut,
        ),
        (
            "a pending session (sts: pending) is valid but signed out",
            token(json!({}), json!({"sts": "pending"})),
            None,
            SignedOut,
        ),
        (
            "an active session (sts: active)",
            token(json!({}), json!({"sts": "active"})),
            None,
            SignedIn,
        ),
        (
            "no typ, no cat (older tokens)",
            token(json!({"typ": null, "cat": null}), json!({})),
            None,
            SignedIn,
        ),
        (
            "expired by 1 s (within skew)",
            token(json!({}), json!({"exp": now - 1})),
            None,
            SignedIn,
        ),
        (
            "expired by 6 s",
            token(json!({}), json!({"exp": now - 6})),
            Some(Reason::TokenExpired),
            Stale,
        ),
        (
            "nbf 10 s ahead",
            token(json!({}), json!({"nbf": now + 10})),
            Some(Reason::TokenNotActiveYet),
            Stale,
        ),
        (
            "nbf 3 s ahead (within skew)",
            token(json!({}), json!({"nbf": now + 3})),
            None,
            SignedIn,
        ),
        (
            "iat 10 s ahead",
            token(json!({}), json!({"iat": now + 10})),
            Some(Reason::TokenIatInTheFuture),
            Stale,
        ),
        (
            "iat 3 s ahead (within skew)",
            token(json!({}), json!({"iat": now + 3})),
            None,
            SignedIn,
        ),
        (
            "signed by another key",
            other_key,
            Some(Reason::TokenInvalidSignature),
            SignedOut,
        ),
        (
            "payload changed after signing",
            tampered,
            Some(Reason::TokenInvalidSignature),
            SignedOut,
        ),
        (
            "two parts",
            good.rsplit_once('.').unwrap().0.to_owned(),
            Some(Reason::TokenInvalid),
            SignedOut,
        ),
        (
            "bad base64",
            format!("e30.!!!.{}", good.split('.').nth(2).unwrap()),
            Some(Reason::TokenInvalid),
            SignedOut,
        ),
        (
            "bad JSON",
            format!(
                "{}.{}.c2ln",
                URL_SAFE_NO_PAD.encode(b"{\"alg\":"),
                b64(&claims())
            ),
            Some(Reason::TokenInvalid),
            SignedOut,
        ),
        (
            "alg none",
            none,
            Some(Reason::TokenInvalidAlgorithm),
            SignedOut,
        ),
        (
            "HS256 with the public key as secret",
            hs256,
            Some(Reason::TokenInvalidAlgorithm),
            SignedOut,
        ),
        (
            "typ other than JWT",
            token(json!({"typ": "JOSE"}), json!({})),
            Some(Reason::TokenInvalid),
            SignedOut,
        ),
        (
            "wrong azp",
            token(json!({}), json!({"azp": "https://evil.example"})),
            Some(Reason::TokenInvalidAuthorizedParties),
            SignedOut,
        ),
        (
            "no azp",
            token(json!({}), json!({"azp": null})),
            Some(Reason::TokenInvalidAuthorizedParties),
            SignedOut,
        ),
        (
            "missing sub",
            token(json!({}), json!({"sub": null})),
            Some(Reason::TokenVerificationFailed),
            SignedOut,
        ),
        (
            "missing exp",
            token(json!({}), json!({"exp": null})),
            Some(Reason::TokenVerificationFailed),
            SignedOut,
        ),
        (
            "wrong iss",
            token(
                json!({}),
                json!({"iss": "https://other.clerk.accounts.dev"}),
            ),
            Some(Reason::TokenInvalidIssuer),
            SignedOut,
        ),
        (
            "machine token cat (M2M)",
            token(json!({"cat": verify::CATEGORY_M2M}), json!({})),
            Some(Reason::TokenInvalid),
            SignedOut,
        ),
    ];
    let clerk = identity();
    // The moment the tokens were made for, however long signing them took (unoptimised RSA
    // on a loaded machine can take seconds, which would push "within skew" past it).
    let now_ms = now * 1000;
    for (case, token, reason, expected) in &cases {
        let got = match verify::decode(token) {
            Ok(jwt) => clerk
                .verify_token(&jwt, now_ms)
                .await
                .err()
                .map(|r| r.reason),
            Err(rejection) => Some(rejection.reason),
        };
        assert_eq!(got, *reason, "{case}: verifyToken");
        assert_state(&clerk.session_state(&bearer(token)).await, expected, case);
        // The same token in the cookie, with a __client_uat from before it was issued.
        let uat = (now - 60).to_string();
        let state = clerk
            .session_state(&cookies(&[("__session", token), ("__client_uat", &uat)]))
            .await;
        assert_state(&state, expected, &format!("{case} (cookie)"));
    }
}

#[tokio::test]
async fn tokens_of_other_classes_are_not_sessions() {
    let clerk = identity();
    for (case, token) in [
        (
            "JWT template",
            token(json!({"cat": verify::CATEGORY_JWT_TEMPLATE}), json!({})),
        ),
        (
            "OAuth access token",
            token(json!({"typ": "at+jwt"}), json!({})),
        ),
        ("M2M subject", token(json!({}), json!({"sub": "mch_123"}))),
    ] {
        assert_state(
            &clerk.session_state(&bearer(&token)).await,
            &Expected::SignedOut,
            case,
        );
    }
    // An instance that ignores categories stamps this on everything: still a session.
    let ignored = token(json!({"cat": verify::CATEGORY_IGNORE}), json!({}));
    assert_state(
        &clerk.session_state(&bearer(&ignored)).await,
        &Expected::SignedIn,
        "cat ignore",
    );
}

#[tokio::test]
async fn client_uat_decides_between_signed_out_and_stale() {
    let clerk = identity();
    let now = now();
    let good = token(json!({}), json!({}));
    let recent_uat = (now - 60).to_string();
    let newer_uat = (now - 5).to_string();
    for (case, pairs, expected) in [
        ("nothing", vec![], Expected::SignedOut),
        (
            "client_uat 0, no session",
            vec![("__client_uat", "0")],
            Expected::SignedOut,
        ),
        (
            "session without client_uat",
            vec![("__session", good.as_str())],
            Expected::Stale,
        ),
        (
            "session with client_uat 0",
            vec![("__session", good.as_str()), ("__client_uat", "0")],
            Expected::Stale,
        ),
        (
            "client_uat without session",
            vec![("__client_uat", recent_uat.as_str())],
            Expected::Stale,
        ),
        (
            "session issued before client_uat",
            vec![
                ("__session", good.as_str()),
                ("__client_uat", newer_uat.as_str()),
            ],
            Expected::Stale,
        ),
        (
            "session issued after client_uat",
            vec![
                ("__session", good.as_str()),
                ("__client_uat", recent_uat.as_str()),
            ],
            Expected::SignedIn,
        ),
    ] {
        let headers = if pairs.is_empty() {
            HeaderMap::new()
        } else {
            cookies(&pairs)
        };
        assert_state(&clerk.session_state(&headers).await, &expected, case);
    }
}

#[tokio::test]
async fn suffixed_cookies_win_over_another_instances_plain_cookie() {
    let clerk = identity();
    let suffix = keys::cookie_suffix(PUBLISHABLE_KEY);
    assert_eq!(suffix, "QvfNY2dr");
    let ours = token(json!({}), json!({}));
    let theirs = token(
        json!({}),
        json!({"iss": "https://other.clerk.accounts.dev"}),
    );
    let uat = (now() - 60).to_string();
    let session_name = format!("__session_{suffix}");
    let uat_name = format!("__client_uat_{suffix}");
    let headers = cookies(&[
        ("__session", &theirs),
        ("__client_uat", &uat),
        (&session_name, &ours),
        (&uat_name, &uat),
    ]);
    assert_state(
        &clerk.session_state(&headers).await,
        &Expected::SignedIn,
        "suffixed",
    );

    // Suffixed says signed out, plain says signed in with our token: plain is newer.
    let headers = cookies(&[
        ("__session", &ours),
        ("__client_uat", &uat),
        (&uat_name, "0"),
    ]);
    assert_state(
        &clerk.session_state(&headers).await,
        &Expected::SignedIn,
        "plain newer",
    );

    // Suffixed says signed out and no plain cookies: Clerk falls back to the (empty) plain
    // cookies, which means signed out.
    let headers = cookies(&[(&session_name, &ours), (&uat_name, "0")]);
    assert_state(
        &clerk.session_state(&headers).await,
        &Expected::SignedOut,
        "suffixed uat 0",
    );
}

#[test]
fn a_bad_clerk_jwt_key_stops_start_up_naming_the_variable() {
    let err = ClerkIdentity::new(&ClerkSettings {
        publishable_key: PUBLISHABLE_KEY.into(),
        secret_key: "sk_test_x".to_string().into(),
        jwt_key: Some("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----".into()),
        api_url: url::Url::parse("https://api.clerk.com").unwrap(),
        authorized_parties: vec![],
    })
    .unwrap_err();
    assert!(err.to_string().starts_with("CLERK_JWT_KEY"), "{err}");
}
