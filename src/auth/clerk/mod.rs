//! Clerk as the identity provider: Clerk's hosted sign-in and sign-up (clerk-js in the
//! browser), session tokens verified here on every request, profiles from Clerk's Backend API.
//!
//! - [`keys`]: the publishable key (frontend API host, cookie suffix).
//! - [`verify`]: JWT checks with a typed reason for each rejection.
//! - [`jwks`]: verification keys (PEM, or the JWKS cached for five minutes).
//! - [`session`]: which token a request carries and what state it puts the request in.
//! - [`profiles`]: names and pictures, cached in the `account` table.
//! - [`pages`]: the sign-in, sign-up, refresh and sign-out responses.

pub mod api;
pub mod jwks;
pub mod keys;
pub mod pages;
pub mod profiles;
pub mod session;
pub mod verify;

#[cfg(test)]
mod tests;

use actix_web::http::header::HeaderMap;
use anyhow::Context;
use secrecy::SecretString;

use self::api::ClerkApi;
use self::jwks::{JwksCache, KeySource};
use self::keys::{InstanceType, PublishableKey};
use self::profiles::Profiles;
use self::session::{CookieContext, Precheck, Presented, SessionState};
use self::verify::{CLOCK_SKEW_MS, Expectations, SessionClaims};
use super::CurrentUser;
use crate::config::ClerkSettings;
use crate::db::Pool;

/// Where Clerk's browser scripts come from, and the key they need.
#[derive(Debug, Clone)]
pub struct ClerkBrowser {
    pub publishable_key: String,
    pub frontend_api: String,
}

impl ClerkBrowser {
    /// clerk-js v6, served by the instance's frontend API.
    pub fn clerk_js_url(&self) -> String {
        format!(
            "https://{}/npm/@clerk/clerk-js@6/dist/clerk.browser.js",
            self.frontend_api
        )
    }

    /// `@clerk/ui` v1 (the components clerk-js v6 mounts), same host.
    pub fn ui_js_url(&self) -> String {
        format!(
            "https://{}/npm/@clerk/ui@1/dist/ui.browser.js",
            self.frontend_api
        )
    }

    /// `https://<frontend api host>`, for the CSP.
    pub fn origin(&self) -> String {
        format!("https://{}", self.frontend_api)
    }
}

/// Everything Clerk mode needs at run time, built once at start-up.
#[derive(Debug)]
pub struct ClerkIdentity {
    pub browser: ClerkBrowser,
    instance_type: InstanceType,
    cookie_suffix: String,
    expect: Expectations,
    keys: KeySource,
    profiles: Profiles,
}

impl ClerkIdentity {
    /// Builds Clerk mode from validated settings; a bad `CLERK_JWT_KEY` stops start-up.
    pub fn new(settings: &ClerkSettings) -> anyhow::Result<Self> {
        let pk = PublishableKey::parse(&settings.publishable_key)
            .map_err(|e| anyhow::anyhow!("CLERK_PUBLISHABLE_KEY: {e}"))?;
        let secret: SecretString = settings.secret_key.clone();
        let api = ClerkApi::new(settings.api_url.clone(), secret)
            .context("Failed to build the Clerk API client")?;
        let keys = match &settings.jwt_key {
            Some(pem) => KeySource::from_pem(pem)?,
            None => KeySource::Remote(Box::new(JwksCache::new(api.clone()))),
        };
        Ok(Self {
            browser: ClerkBrowser {
                publishable_key: settings.publishable_key.clone(),
                frontend_api: pk.frontend_api.clone(),
            },
            instance_type: pk.instance_type,
            cookie_suffix: keys::cookie_suffix(&settings.publishable_key),
            expect: Expectations {
                issuer: format!("https://{}", pk.frontend_api),
                authorized_parties: settings.authorized_parties.clone(),
                clock_skew_ms: CLOCK_SKEW_MS,
            },
            keys,
            profiles: Profiles::new(api),
        })
    }

    /// The `__session` cookie suffix for this instance.
    pub fn cookie_suffix(&self) -> &str {
        &self.cookie_suffix
    }

    fn cookie_context(&self) -> CookieContext<'_> {
        CookieContext {
            suffix: &self.cookie_suffix,
            frontend_api: &self.browser.frontend_api,
            instance_type: self.instance_type,
        }
    }

    /// Verifies one token as a session token (`verifyToken`), `now_ms` being Unix time in ms.
    pub async fn verify_token(
        &self,
        jwt: &verify::DecodedJwt<'_>,
        now_ms: i64,
    ) -> Result<SessionClaims, verify::Rejection> {
        if jwt.category() == Some(verify::CATEGORY_M2M) {
            return Err(verify::Rejection::new(
                verify::Reason::TokenInvalid,
                "Invalid session token category.",
            ));
        }
        // Header checks first, so `alg: none` or HS256 never cost a JWKS fetch.
        verify::check_header(jwt)?;
        let key = self.keys.key(jwt.kid()).await?;
        verify::verify(jwt, &key, &self.expect, now_ms)
    }

    /// The session state of a request, from its headers.
    pub async fn session_state(&self, headers: &HeaderMap) -> SessionState {
        let now_ms = chrono::Utc::now().timestamp_millis();
        let (token, client_uat) = match self.cookie_context().presented(headers, now_ms / 1000) {
            Presented::Header(token) => (Some(token), None),
            Presented::Cookie { token, client_uat } => (token, Some(client_uat)),
        };
        let jwt = match session::precheck(token.as_deref(), client_uat) {
            Precheck::Decided(state) => return state,
            Precheck::Verify(jwt) => jwt,
        };
        match self.verify_token(&jwt, now_ms).await {
            Ok(claims) if claims.pending => {
                SessionState::SignedOut("the session has a pending task (sts: pending)".into())
            }
            Ok(claims) => SessionState::SignedIn(claims),
            Err(rejection) => {
                if session::is_outage(&rejection) {
                    tracing::warn!(%rejection, "Clerk session could not be verified");
                } else {
                    tracing::info!(%rejection, "Clerk session token refused");
                }
                session::after_rejection(&rejection)
            }
        }
    }

    /// The user of a verified session, with their Clerk profile.
    pub async fn user(
        &self,
        pool: &Pool,
        claims: &SessionClaims,
    ) -> Result<CurrentUser, sqlx::Error> {
        self.profiles.user(pool, &claims.user_id).await
    }
}

/// What Clerk's scripts and components need from the CSP, per Clerk's CSP guide: its frontend
/// API for scripts and calls, `img.clerk.com` for avatars, inline styles (its components style
/// themselves at run time), blob workers, and Cloudflare's bot check on sign-up.
pub fn csp_sources(browser: &ClerkBrowser) -> crate::security::CspSources {
    const CLOUDFLARE: &str = "https://challenges.cloudflare.com";
    crate::security::CspSources {
        script: vec![browser.origin(), CLOUDFLARE.into()],
        connect: vec![browser.origin()],
        img: vec!["https://img.clerk.com".into()],
        style: vec!["'unsafe-inline'".into()],
        worker: vec!["'self'".into(), "blob:".into()],
        frame: vec![CLOUDFLARE.into()],
        ..Default::default()
    }
}
