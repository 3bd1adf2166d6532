//! From a request to a session state, the way `@clerk/backend`'s `authenticateRequest` decides
//! it: which token (header or cookie, suffixed or not), what `__client_uat` says, and which
//! failures mean "signed out" and which mean "signed in, but refresh the token first".
//!
//! Clerk answers the "refresh" cases with a handshake redirect through its frontend API; Yoom
//! answers them with a page that lets clerk-js refresh the cookie (see `pages.rs`). Clerk's
//! multi-domain (satellite) and development-browser sync flows are not used by Yoom.

use actix_web::http::header::{self, HeaderMap};

use super::keys::InstanceType;
use super::verify::{self, DecodedJwt, Reason, SessionClaims};

pub const SESSION_COOKIE: &str = "__session";
pub const CLIENT_UAT_COOKIE: &str = "__client_uat";

/// What a request's credentials amount to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionState {
    SignedIn(SessionClaims),
    /// No session, or one that must not be trusted; the reason is for the log.
    SignedOut(String),
    /// A session whose token is out of date (expired, missing while `__client_uat` says
    /// signed in, older than `__client_uat`): the browser must refresh it.
    Stale(String),
}

/// The cookies of a request, by name (the first of each name wins, as in browsers' order).
pub struct Cookies(Vec<(String, String)>);

impl Cookies {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let pairs = headers
            .get_all(header::COOKIE)
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| {
                let (name, value) = pair.trim().split_once('=')?;
                let value = value.trim();
                let value = value
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(value);
                Some((name.trim().to_owned(), value.to_owned()))
            })
            .collect();
        Self(pairs)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// The token a request presents, and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// `Authorization: Bearer <token>` (or a bare token).
    Header(String),
    /// The session cookie (possibly absent) and `__client_uat` (0 when absent or unparsable).
    Cookie {
        token: Option<String>,
        client_uat: i64,
    },
}

/// What the cookie logic needs to know about the instance.
pub struct CookieContext<'a> {
    pub suffix: &'a str,
    pub frontend_api: &'a str,
    pub instance_type: InstanceType,
}

impl CookieContext<'_> {
    fn suffixed(&self, name: &str) -> String {
        format!("{name}_{}", self.suffix)
    }

    /// Clerk's `usesSuffixedCookies`: whether `__session_<suffix>` / `__client_uat_<suffix>`
    /// or the plain names hold this instance's session.
    pub fn uses_suffixed_cookies(&self, cookies: &Cookies, now_s: i64) -> bool {
        let suffixed_uat = cookies.get(&self.suffixed(CLIENT_UAT_COOKIE));
        let uat = cookies.get(CLIENT_UAT_COOKIE);
        let suffixed_session = cookies.get(&self.suffixed(SESSION_COOKIE)).unwrap_or("");
        let session = cookies.get(SESSION_COOKIE).unwrap_or("");

        let decoded_session = verify::decode(session).ok();
        if !session.is_empty() {
            // A malformed plain cookie (no `iss`): use the plain cookies, which end signed out.
            match decoded_session.as_ref().and_then(DecodedJwt::issuer) {
                None => return false,
                // A plain cookie from another instance on the same domain: trust ours.
                Some(iss) => {
                    let host = iss
                        .strip_prefix("https://")
                        .or_else(|| iss.strip_prefix("http://"))
                        .unwrap_or(iss);
                    if host != self.frontend_api {
                        return true;
                    }
                }
            }
        }
        if suffixed_uat.is_none() && suffixed_session.is_empty() {
            return false;
        }
        let iat_of =
            |jwt: Option<&DecodedJwt<'_>>| jwt.and_then(DecodedJwt::issued_at).unwrap_or(0.0);
        let decoded_suffixed = verify::decode(suffixed_session).ok();
        let session_iat = iat_of(decoded_session.as_ref());
        let suffixed_iat = iat_of(decoded_suffixed.as_ref());
        // Both signed in, the plain one newer.
        if suffixed_uat != Some("0") && uat != Some("0") && session_iat > suffixed_iat {
            return false;
        }
        // Suffixed says signed out, plain says signed in: the plain one is newer.
        if suffixed_uat == Some("0") && uat != Some("0") {
            return false;
        }
        if self.instance_type != InstanceType::Production {
            let suffixed_expired = decoded_suffixed
                .as_ref()
                .and_then(|j| j.payload.get("exp").and_then(serde_json::Value::as_f64))
                .is_some_and(|exp| exp <= now_s as f64);
            if suffixed_uat != Some("0") && uat == Some("0") && suffixed_expired {
                return false;
            }
        }
        if suffixed_uat.is_none() && !suffixed_session.is_empty() {
            return false;
        }
        true
    }

    /// The token to verify: the `Authorization` header first, else the cookies.
    pub fn presented(&self, headers: &HeaderMap, now_s: i64) -> Presented {
        if let Some(token) = bearer(headers) {
            return Presented::Header(token);
        }
        let cookies = Cookies::from_headers(headers);
        let suffixed = self.uses_suffixed_cookies(&cookies, now_s);
        let pick = |name: &str| {
            if suffixed {
                cookies.get(&self.suffixed(name))
            } else {
                cookies.get(name)
            }
        };
        Presented::Cookie {
            token: pick(SESSION_COOKIE).map(str::to_owned),
            // parseInt: leading digits count ("123abc" is 123), anything else is 0.
            client_uat: pick(CLIENT_UAT_COOKIE)
                .map(|v| {
                    let digits: String = v.chars().take_while(char::is_ascii_digit).collect();
                    digits.parse().unwrap_or(0)
                })
                .unwrap_or(0),
        }
    }
}

/// `Authorization: Bearer <t>`, or a bare value without a scheme; other schemes are ignored.
fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if value.is_empty() {
        return None;
    }
    match value.split_once(' ') {
        None => Some(value.to_owned()),
        Some(("Bearer", token)) => {
            let token = token.split(' ').next().unwrap_or("");
            (!token.is_empty()).then(|| token.to_owned())
        }
        Some(_) => None,
    }
}

/// What to do with a presented token before any key is fetched: the cheap decisions.
pub enum Precheck<'a> {
    Decided(SessionState),
    Verify(DecodedJwt<'a>),
}

/// Clerk's decisions that need no key: missing tokens, `__client_uat`, token classes.
pub fn precheck<'a>(token: Option<&'a str>, client_uat: Option<i64>) -> Precheck<'a> {
    use Precheck::{Decided, Verify};
    use SessionState::{SignedOut, Stale};
    if let Some(uat) = client_uat {
        match (uat > 0, token.is_some()) {
            (false, false) => return Decided(SignedOut("session-token-and-uat-missing".into())),
            (false, true) => return Decided(Stale("session-token-but-no-client-uat".into())),
            (true, false) => return Decided(Stale("client-uat-but-no-session-token".into())),
            (true, true) => {}
        }
    }
    let Some(token) = token else {
        return Decided(SignedOut("no-token".into()));
    };
    let jwt = match verify::decode(token) {
        Ok(jwt) => jwt,
        Err(rejection) => return Decided(SignedOut(rejection.to_string())),
    };
    // Machine tokens and JWT templates are signed by the same key but are not sessions: a
    // template token carries no `sid` and outlives the session that minted it.
    if jwt.is_machine_token() || jwt.has_non_session_category() {
        return Decided(SignedOut("token-type-mismatch".into()));
    }
    if let Some(uat) = client_uat
        && jwt.issued_at().is_some_and(|iat| iat < uat as f64)
    {
        return Decided(Stale("session-token-iat-before-client-uat".into()));
    }
    Verify(jwt)
}

/// Maps a verification failure to a state: refreshable reasons are stale, the rest signed out.
pub fn after_rejection(rejection: &verify::Rejection) -> SessionState {
    if rejection.reason.is_refreshable() {
        SessionState::Stale(rejection.to_string())
    } else {
        SessionState::SignedOut(rejection.to_string())
    }
}

/// True when a rejection is about our side (Clerk unreachable), not the token.
pub fn is_outage(rejection: &verify::Rejection) -> bool {
    rejection.reason == Reason::RemoteJwkFailedToLoad
}
