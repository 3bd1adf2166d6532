//! Session-token verification, check for check as `@clerk/backend` does it (`decodeJwt`,
//! `verifyJwt`, `verifyToken`), plus the issuer check Clerk's docs ask for.
//!
//! Order matters, because it decides which reason a bad token gets and so what the user sees:
//! shape, header type, algorithm, signature, then `sub`, `azp`, `iss`, `exp`, `nbf`, `iat`.
//! The signature is checked before any claim so a forged token learns nothing about our
//! configuration. Only RS256 is accepted, as in Clerk's SDK (its JWKS and PEM imports are RS256
//! keys): `alg: none`, HMAC (where an attacker would sign with our public key as the secret)
//! and the other RSA variants never reach a key.

use base64::Engine;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::{Map, Value};

/// Clock skew tolerated on `exp`, `nbf` and `iat` (Clerk's default).
pub const CLOCK_SKEW_MS: i64 = 5_000;

/// Token categories Clerk stamps in the protected header (`cat`), kept in sync with Clerk.
pub const CATEGORY_SESSION: &str = "cl_B7d4PD111AAA";
pub const CATEGORY_JWT_TEMPLATE: &str = "cl_B7d4PD222AAA";
pub const CATEGORY_M2M: &str = "cl_B7d4PD333AAA";
/// Stamped on every class by instances that opted out of categories: carries no class.
pub const CATEGORY_IGNORE: &str = "cl_I7d4PD111III";

/// Base64url as Clerk's `base64url.parse(…, { loose: true })` reads it: padding optional.
const LOOSE_URL_SAFE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// Why a token was refused, named after Clerk's `TokenVerificationErrorReason`s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// Not three parts, undecodable, wrong `typ`, or a non-session category.
    TokenInvalid,
    TokenInvalidAlgorithm,
    TokenInvalidSignature,
    /// A claim is missing or of the wrong type, or the signature could not be checked.
    TokenVerificationFailed,
    TokenInvalidAuthorizedParties,
    /// `iss` is not this instance's frontend API (a check `@clerk/backend` leaves to callers).
    TokenInvalidIssuer,
    TokenExpired,
    TokenNotActiveYet,
    TokenIatInTheFuture,
    /// No key in the JWKS (even after one refetch) matches the token's `kid`.
    JwkKidMismatch,
    /// The JWKS could not be fetched and nothing usable is cached.
    RemoteJwkFailedToLoad,
}

impl Reason {
    /// Clerk's spelling, for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::TokenInvalid => "token-invalid",
            Self::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Self::TokenInvalidSignature => "token-invalid-signature",
            Self::TokenVerificationFailed => "token-verification-failed",
            Self::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Self::TokenInvalidIssuer => "token-invalid-issuer",
            Self::TokenExpired => "token-expired",
            Self::TokenNotActiveYet => "token-not-active-yet",
            Self::TokenIatInTheFuture => "token-iat-in-the-future",
            Self::JwkKidMismatch => "jwk-kid-mismatch",
            Self::RemoteJwkFailedToLoad => "jwk-remote-failed-to-load",
        }
    }

    /// True for the reasons Clerk answers with a refresh (handshake) rather than a sign-out:
    /// the session is fine, only this token is out of date or from a clock that is off.
    pub fn is_refreshable(self) -> bool {
        matches!(
            self,
            Self::TokenExpired | Self::TokenNotActiveYet | Self::TokenIatInTheFuture
        )
    }
}

/// A refused token: the reason, and a message for the log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} (reason={})", reason.as_str())]
pub struct Rejection {
    pub reason: Reason,
    pub message: String,
}

impl Rejection {
    pub fn new(reason: Reason, message: impl Into<String>) -> Self {
        Self {
            reason,
            message: message.into(),
        }
    }
}

/// A token split and decoded, not yet trusted.
#[derive(Debug, Clone)]
pub struct DecodedJwt<'a> {
    pub header: Map<String, Value>,
    pub payload: Map<String, Value>,
    signature: Vec<u8>,
    /// `header.payload`, the signed bytes.
    signed: &'a str,
}

impl DecodedJwt<'_> {
    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    /// The `cat` header: which class of Clerk JWT this is.
    pub fn category(&self) -> Option<&str> {
        self.header.get("cat").and_then(Value::as_str)
    }

    /// `iat` as Clerk reads it before verification (missing or not a number: none).
    pub fn issued_at(&self) -> Option<f64> {
        self.payload.get("iat").and_then(Value::as_f64)
    }

    pub fn issuer(&self) -> Option<&str> {
        self.payload.get("iss").and_then(Value::as_str)
    }

    /// A machine JWT (OAuth access token or M2M token) where a session token is expected.
    pub fn is_machine_token(&self) -> bool {
        let oauth = matches!(
            self.header.get("typ").and_then(Value::as_str),
            Some("at+jwt" | "application/at+jwt")
        );
        let m2m = self
            .payload
            .get("sub")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with("mch_"));
        oauth || m2m
    }

    /// A `cat` that marks something other than a session token (a JWT template, an M2M
    /// token). An absent `cat` is accepted, as Clerk does for tokens minted before categories.
    pub fn has_non_session_category(&self) -> bool {
        self.category()
            .is_some_and(|c| c != CATEGORY_SESSION && c != CATEGORY_IGNORE)
    }
}

/// Splits a token into its three parts and decodes them (`decodeJwt`).
pub fn decode(token: &str) -> Result<DecodedJwt<'_>, Rejection> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = parts[..] else {
        return Err(Rejection::new(
            Reason::TokenInvalid,
            "Invalid JWT form. A JWT consists of three parts separated by dots.",
        ));
    };
    let undecodable = || {
        Rejection::new(
            Reason::TokenInvalid,
            "Invalid JWT form. The header, payload, or signature could not be decoded.",
        )
    };
    let json = |part: &str| -> Result<Map<String, Value>, Rejection> {
        let bytes = LOOSE_URL_SAFE.decode(part).map_err(|_| undecodable())?;
        match serde_json::from_slice::<Value>(&bytes).map_err(|_| undecodable())? {
            Value::Object(map) => Ok(map),
            // Valid JSON but not an object: every later check then finds nothing.
            _ => Ok(Map::new()),
        }
    };
    Ok(DecodedJwt {
        header: json(header)?,
        payload: json(payload)?,
        signature: LOOSE_URL_SAFE
            .decode(signature)
            .map_err(|_| undecodable())?,
        signed: &token[..header.len() + 1 + payload.len()],
    })
}

/// What a session token must match besides its signature.
#[derive(Debug, Clone)]
pub struct Expectations {
    /// `https://<frontend api host>`.
    pub issuer: String,
    /// Allowed `azp` origins; empty means not checked (Clerk's rule).
    pub authorized_parties: Vec<String>,
    pub clock_skew_ms: i64,
}

/// The claims of a verified session token that the app uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionClaims {
    /// The Clerk user ID.
    pub user_id: String,
    /// The Clerk session ID.
    pub session_id: Option<String>,
    /// `sts: "pending"`: the session still has a task to finish (choosing an organization,
    /// say). Clerk's `toAuth` treats it as signed out by default, and so do we.
    pub pending: bool,
}

/// The algorithm named in the header, if it is one we accept.
fn rsa_algorithm(alg: Option<&Value>) -> Result<Algorithm, Rejection> {
    match alg.and_then(Value::as_str) {
        Some("RS256") => Ok(Algorithm::RS256),
        other => Err(Rejection::new(
            Reason::TokenInvalidAlgorithm,
            format!("Invalid JWT algorithm {other:?}. Supported: RS256."),
        )),
    }
}

/// Checks the header (`typ`, `alg`); done before a key is looked up.
pub fn check_header(jwt: &DecodedJwt<'_>) -> Result<Algorithm, Rejection> {
    match jwt.header.get("typ") {
        None => {}
        Some(Value::String(t)) if t == "JWT" => {}
        Some(other) => {
            return Err(Rejection::new(
                Reason::TokenInvalid,
                format!("Invalid JWT type {other}. Expected \"JWT\"."),
            ));
        }
    }
    rsa_algorithm(jwt.header.get("alg"))
}

/// Verifies a decoded token with a key (`verifyJwt`); `now_ms` is the current Unix time in
/// milliseconds.
pub fn verify(
    jwt: &DecodedJwt<'_>,
    key: &DecodingKey,
    expect: &Expectations,
    now_ms: i64,
) -> Result<SessionClaims, Rejection> {
    let alg = check_header(jwt)?;
    let signature = URL_SAFE_NO_PAD.encode(&jwt.signature);
    match jsonwebtoken::crypto::verify(&signature, jwt.signed.as_bytes(), key, alg) {
        Ok(true) => {}
        Ok(false) => {
            return Err(Rejection::new(
                Reason::TokenInvalidSignature,
                "JWT signature is invalid.",
            ));
        }
        Err(e) => {
            return Err(Rejection::new(
                Reason::TokenVerificationFailed,
                format!("Error verifying JWT signature. {e}"),
            ));
        }
    }
    check_claims(&jwt.payload, expect, now_ms)
}

fn check_claims(
    claims: &Map<String, Value>,
    expect: &Expectations,
    now_ms: i64,
) -> Result<SessionClaims, Rejection> {
    let failed = |message: String| Err(Rejection::new(Reason::TokenVerificationFailed, message));

    let Some(Value::String(sub)) = claims.get("sub") else {
        return failed(format!(
            "Subject claim (sub) is required and must be a string. Received {:?}.",
            claims.get("sub")
        ));
    };

    if !expect.authorized_parties.is_empty() {
        let azp = claims.get("azp").and_then(Value::as_str).unwrap_or("");
        if azp.is_empty() || !expect.authorized_parties.iter().any(|p| p == azp) {
            return Err(Rejection::new(
                Reason::TokenInvalidAuthorizedParties,
                format!(
                    "Invalid JWT Authorized party claim (azp) {azp:?}. Expected {:?}.",
                    expect.authorized_parties
                ),
            ));
        }
    }

    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(expect.issuer.as_str()) {
        return Err(Rejection::new(
            Reason::TokenInvalidIssuer,
            format!(
                "Invalid JWT issuer claim (iss) {iss:?}. Expected {:?}.",
                expect.issuer
            ),
        ));
    }

    // Times are seconds; Clerk compares them in milliseconds against its clock.
    let seconds = |name: &str| -> Result<Option<i64>, Rejection> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_f64()
                .map(|s| Some((s.trunc() as i64) * 1000))
                .ok_or_else(|| {
                    Rejection::new(
                        Reason::TokenVerificationFailed,
                        format!("Invalid JWT {name} claim {v}. Expected number."),
                    )
                }),
        }
    };

    let Some(exp) = seconds("exp")? else {
        return failed("Invalid JWT expiry date claim (exp) undefined. Expected number.".into());
    };
    if exp <= now_ms - expect.clock_skew_ms {
        return Err(Rejection::new(
            Reason::TokenExpired,
            format!("JWT is expired ({} ms ago).", now_ms - exp),
        ));
    }
    if let Some(nbf) = seconds("nbf")?
        && nbf > now_ms + expect.clock_skew_ms
    {
        return Err(Rejection::new(
            Reason::TokenNotActiveYet,
            format!(
                "JWT cannot be used before its nbf ({} ms ahead).",
                nbf - now_ms
            ),
        ));
    }
    if let Some(iat) = seconds("iat")?
        && iat > now_ms + expect.clock_skew_ms
    {
        return Err(Rejection::new(
            Reason::TokenIatInTheFuture,
            format!(
                "JWT issued at date claim (iat) is in the future ({} ms ahead).",
                iat - now_ms
            ),
        ));
    }

    Ok(SessionClaims {
        user_id: sub.clone(),
        session_id: claims.get("sid").and_then(Value::as_str).map(str::to_owned),
        pending: claims.get("sts").and_then(Value::as_str) == Some("pending"),
    })
}
