//! What Clerk mode costs per request: session-token verification in microseconds.
//!
//! `cargo bench --bench clerk_verify` (release profile). Networkless (the test key as
//! `CLERK_JWT_KEY`), so it measures our work and the RSA check, not Clerk's API; with the JWKS
//! the cached path adds one read lock and a hash lookup.

use std::time::Instant;

use actix_web::http::header::{self, HeaderMap, HeaderValue};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;
use yoom::auth::clerk::session::SessionState;
use yoom::auth::clerk::{ClerkIdentity, verify};
use yoom::config::ClerkSettings;

const KEY: &str = include_str!("../tests/fixtures/clerk/key1.pem");
const PUBLIC: &str = include_str!("../tests/fixtures/clerk/key1.pub.pem");
const ITERATIONS: u32 = 5_000;
/// Under `cargo test --all-targets` (no `--bench` flag) the bench only checks that it runs.
const SMOKE_ITERATIONS: u32 = 3;

fn token(alg: Algorithm, name: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let message = format!(
        "{}.{}",
        b64(json!({"alg": name, "typ": "JWT", "kid": "ins_bench", "cat": "cl_B7d4PD111AAA"})),
        b64(
            json!({"sub": "user_bench", "sid": "sess_bench", "azp": "http://localhost:8080",
                   "iss": "https://clerk.clerk.dev", "iat": now - 5, "nbf": now - 15,
                   "exp": now + 3600})
        )
    );
    let key = EncodingKey::from_rsa_pem(KEY.as_bytes()).unwrap();
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, alg).unwrap();
    format!("{message}.{signature}")
}

fn report(what: &str, started: Instant, iterations: u32) {
    let micros = started.elapsed().as_secs_f64() * 1e6 / f64::from(iterations);
    println!("{what:<58} {micros:>8.1} µs/op");
}

fn main() {
    let iterations = if std::env::args().any(|a| a == "--bench") {
        ITERATIONS
    } else {
        SMOKE_ITERATIONS
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let clerk = ClerkIdentity::new(&ClerkSettings {
        publishable_key: "pk_test_Y2xlcmsuY2xlcmsuZGV2JA".into(),
        secret_key: "sk_test_bench".to_string().into(),
        jwt_key: Some(PUBLIC.into()),
        api_url: url::Url::parse("http://127.0.0.1:9").unwrap(),
        authorized_parties: vec!["http://localhost:8080".into()],
    })
    .unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    println!("{iterations} iterations each, 2048-bit RSA test key");

    // RS256 only: Clerk's SDK (and so this server) takes no other algorithm.
    for (alg, name) in [(Algorithm::RS256, "RS256")] {
        let token = token(alg, name);
        let started = Instant::now();
        for _ in 0..iterations {
            let jwt = verify::decode(&token).unwrap();
            runtime
                .block_on(clerk.verify_token(&jwt, now_ms))
                .expect("valid");
        }
        report(&format!("decode + verify ({name})"), started, iterations);
    }

    let token = token(Algorithm::RS256, "RS256");
    let started = Instant::now();
    for _ in 0..iterations {
        std::hint::black_box(verify::decode(&token).unwrap());
    }
    report(
        "decode only (base64 + JSON, no signature)",
        started,
        iterations,
    );

    let mut headers = HeaderMap::new();
    let uat = chrono::Utc::now().timestamp() - 60;
    headers.insert(
        header::COOKIE,
        HeaderValue::from_str(&format!("__session={token}; __client_uat={uat}; other=1")).unwrap(),
    );
    let started = Instant::now();
    for _ in 0..iterations {
        let state = runtime.block_on(clerk.session_state(&headers));
        assert!(matches!(state, SessionState::SignedIn(_)));
    }
    report(
        "whole request check (cookies, client_uat, verify RS256)",
        started,
        iterations,
    );
}
