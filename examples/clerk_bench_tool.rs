//! Helpers for `scripts/bench-clerk.sh`: a local mock of Clerk's Backend API and a session
//! token signed with the test key, so Clerk mode can be load-tested offline.
//!
//!     clerk_bench_tool serve <port>   # GET /v1/jwks, GET /v1/users/{id}
//!     clerk_bench_tool cookie <azp>   # prints a Cookie header value valid for an hour

use actix_web::{App, HttpResponse, HttpServer, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

const KEY: &str = include_str!("../tests/fixtures/clerk/key1.pem");
const KID: &str = "ins_bench";
const USER: &str = "user_bench";

fn key() -> EncodingKey {
    EncodingKey::from_rsa_pem(KEY.as_bytes()).expect("test key")
}

fn cookie(azp: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let b64 = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(&v).unwrap());
    let message = format!(
        "{}.{}",
        b64(json!({"alg": "RS256", "typ": "JWT", "kid": KID, "cat": "cl_B7d4PD111AAA"})),
        b64(json!({"sub": USER, "sid": "sess_bench", "azp": azp,
                   "iss": "https://clerk.clerk.dev", "iat": now - 5, "nbf": now - 15,
                   "exp": now + 3600}))
    );
    let signature =
        jsonwebtoken::crypto::sign(message.as_bytes(), &key(), Algorithm::RS256).expect("signs");
    format!("__session={message}.{signature}; __client_uat={}", now - 60)
}

async fn jwks() -> HttpResponse {
    let mut jwk =
        serde_json::to_value(Jwk::from_encoding_key(&key(), Algorithm::RS256).unwrap()).unwrap();
    jwk["kid"] = json!(KID);
    HttpResponse::Ok().json(json!({ "keys": [jwk] }))
}

async fn user(id: web::Path<String>) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "id": id.into_inner(), "username": null, "first_name": "Bench", "last_name": "User",
        "image_url": null
    }))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("cookie") => {
            println!(
                "{}",
                cookie(args.get(2).map_or("http://127.0.0.1:8080", |s| s))
            );
            Ok(())
        }
        Some("serve") => {
            let port: u16 = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(8090);
            HttpServer::new(|| {
                App::new()
                    .route("/v1/jwks", web::get().to(jwks))
                    .route("/v1/users/{id}", web::get().to(user))
            })
            .workers(1)
            .bind(("127.0.0.1", port))?
            .run()
            .await
        }
        _ => {
            eprintln!("usage: clerk_bench_tool serve <port> | cookie <azp>");
            std::process::exit(2)
        }
    }
}
