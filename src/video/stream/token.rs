//! Stream's JSON Web Tokens: HS256 over the API secret.
//!
//! Hand-rolled on `hmac` + `sha2` rather than a JWT crate because the bytes matter: Stream's own
//! SDK (`jsonwebtoken`) writes the header as `{"alg":"HS256","typ":"JWT"}` and the claims in
//! the order `user_id`, `iat`, `exp`, and the known-answer tests pin exactly that.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::Sha256;

/// How long a user token is valid.
pub const USER_TOKEN_LIFETIME_SECS: i64 = 60 * 60;
/// `iat` is set this far in the past, so a Stream server whose clock runs a little behind ours
/// does not refuse a token "issued in the future".
pub const ISSUED_AT_BACKDATE_SECS: i64 = 60;

/// `{"alg":"HS256","typ":"JWT"}`, the same bytes every time.
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// The claims of a user token, serialised in this field order.
#[derive(Debug, Serialize)]
pub struct UserClaims<'a> {
    pub user_id: &'a str,
    pub iat: i64,
    pub exp: i64,
}

/// A user token and when it stops being valid (seconds since the epoch).
#[derive(Debug, Clone)]
pub struct UserToken {
    pub token: String,
    pub expires_at: i64,
}

/// Signs tokens with the API secret. The secret never leaves this type.
pub struct Signer {
    secret: SecretString,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer { secret: [REDACTED] }")
    }
}

impl Signer {
    pub fn new(secret: SecretString) -> Self {
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC accepts keys of any length; this cannot fail.
        Hmac::<Sha256>::new_from_slice(self.secret.expose_secret().as_bytes())
            .expect("HMAC takes keys of any length")
    }

    /// `header.payload.signature` for any serialisable claims.
    pub fn sign<T: Serialize>(&self, claims: &T) -> String {
        let payload = serde_json::to_vec(claims).expect("claims serialise");
        let mut token = String::with_capacity(256);
        URL_SAFE_NO_PAD.encode_string(HEADER, &mut token);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        let mut mac = self.mac();
        mac.update(token.as_bytes());
        let signature = mac.finalize().into_bytes();
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        token
    }

    /// A token for the browser client of `user_id`, valid for an hour from `now`.
    pub fn user_token(&self, user_id: &str, now: i64) -> UserToken {
        let exp = now + USER_TOKEN_LIFETIME_SECS;
        let token = self.sign(&UserClaims {
            user_id,
            iat: now - ISSUED_AT_BACKDATE_SECS,
            exp,
        });
        UserToken {
            token,
            expires_at: exp,
        }
    }

    /// A call token: a user token limited to the calls named in `call_cids` (Stream's
    /// `generateCallToken` writes the same claims), valid for an hour from `now`.
    pub fn call_token(&self, user_id: &str, call_cids: &[String], now: i64) -> UserToken {
        #[derive(Serialize)]
        struct CallClaims<'a> {
            user_id: &'a str,
            call_cids: &'a [String],
            iat: i64,
            exp: i64,
        }
        let exp = now + USER_TOKEN_LIFETIME_SECS;
        let token = self.sign(&CallClaims {
            user_id,
            call_cids,
            iat: now - ISSUED_AT_BACKDATE_SECS,
            exp,
        });
        UserToken {
            token,
            expires_at: exp,
        }
    }

    /// The server token (`{"server":true}`, no expiry) that authorises our REST calls.
    pub fn server_token(&self) -> String {
        #[derive(Serialize)]
        struct Server {
            server: bool,
        }
        self.sign(&Server { server: true })
    }

    /// Hex HMAC-SHA256 of a body, as Stream puts in a webhook's `X-Signature`.
    pub fn body_signature(&self, body: &[u8]) -> String {
        let mut mac = self.mac();
        mac.update(body);
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` (hex) is the HMAC of `body`, compared in constant time.
    pub fn verify_body(&self, body: &[u8], signature: &str) -> bool {
        let Ok(expected) = hex::decode(signature.trim()) else {
            return false;
        };
        let mut mac = self.mac();
        mac.update(body);
        // `verify_slice` compares in constant time (it uses `subtle` underneath).
        mac.verify_slice(&expected).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        Signer::new(SecretString::from("secret456"))
    }

    fn part(token: &str, i: usize) -> serde_json::Value {
        let raw = URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).unwrap())
            .unwrap();
        serde_json::from_slice(&raw).unwrap()
    }

    #[test]
    fn the_user_token_matches_the_known_answer() {
        let token = signer().sign(&UserClaims {
            user_id: "alice",
            iat: 1_700_000_000,
            exp: 1_700_003_600,
        });
        assert_eq!(
            token,
            "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ1c2VyX2lkIjoiYWxpY2UiLCJpYXQiOjE3MDAwMDAwMDAsImV4cCI6MTcwMDAwMzYwMH0.RNCybVaM7GhW_4BCzDjJ3R7yR8MBW7DYGvjOg5FnIRQ"
        );
    }

    #[test]
    fn a_user_token_is_backdated_a_minute_and_lasts_an_hour() {
        let t = signer().user_token("bob", 1_800_000_000);
        let claims = part(&t.token, 1);
        assert_eq!(claims["user_id"], "bob");
        assert_eq!(claims["iat"], 1_800_000_000 - 60);
        assert_eq!(claims["exp"], 1_800_000_000 + 3600);
        assert_eq!(t.expires_at, 1_800_003_600);
        assert_eq!(
            part(&t.token, 0),
            serde_json::json!({"alg":"HS256","typ":"JWT"})
        );
    }

    #[test]
    fn the_server_token_claims_only_server_true() {
        let t = signer().server_token();
        assert_eq!(part(&t, 1), serde_json::json!({ "server": true }));
        assert_eq!(t.split('.').count(), 3);
    }

    #[test]
    fn the_webhook_signature_matches_the_known_answer() {
        let s = signer();
        let body = br#"{"type":"call.ended"}"#;
        let sig = "2c2ff1cfaa5aa174ddca2767ead5fd9025a3c31cdb95372ac8ba8502e7373ae0";
        assert_eq!(s.body_signature(body), sig);
        assert!(s.verify_body(body, sig));
        assert!(s.verify_body(body, &sig.to_uppercase()));
        assert!(!s.verify_body(body, &sig[..62]));
        assert!(!s.verify_body(body, "not hex"));
        assert!(!s.verify_body(b"{}", sig));
    }

    #[test]
    fn debug_output_never_shows_the_secret() {
        assert!(!format!("{:?}", signer()).contains("secret456"));
    }
}
