//! Who is signed in. [`Identity`] is the mode (built-in accounts, or Clerk);
//! [`require_user`] guards every private route and hands handlers a [`CurrentUser`].

pub mod accounts;
pub mod clerk;
pub mod local;
pub mod password;
pub mod redirect;
pub mod session_key;
pub mod ui;

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};

use crate::errors::AppError;
use crate::htmx::{self, RequestKind};
use crate::paths;

/// The signed-in person, as every page and endpoint sees them.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CurrentUser {
    pub id: String,
    pub username: Option<String>,
    pub display_name: String,
    pub image_url: Option<String>,
}

impl CurrentUser {
    /// One or two letters for an avatar without a picture.
    pub fn initials(&self) -> String {
        initials(&self.display_name)
    }
}

/// One or two upper-case letters from a name ("Ada Lovelace" → "AL"), "?" for a blank one.
pub fn initials(name: &str) -> String {
    let mut words = name.split_whitespace().filter_map(|w| w.chars().next());
    let letters: String = [words.next(), words.next_back()]
        .into_iter()
        .flatten()
        .flat_map(char::to_uppercase)
        .collect();
    if letters.is_empty() {
        "?".into()
    } else {
        letters
    }
}

impl FromRequest for CurrentUser {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        // `require_user` puts the user here; a handler outside its scope asking for one is a
        // wiring mistake, reported as an internal error rather than a silent sign-out.
        ready(
            req.extensions()
                .get::<CurrentUser>()
                .cloned()
                .ok_or_else(|| {
                    AppError::Internal(anyhow::anyhow!(
                        "CurrentUser requested outside the signed-in scope"
                    ))
                    .into()
                }),
        )
    }
}

/// The identity mode chosen at start-up.
#[derive(Debug, Clone)]
pub enum Identity {
    /// Built-in accounts: argon2id passwords in SQLite, an encrypted session cookie.
    Local,
    /// Clerk: hosted sign-in, session JWTs verified on every request.
    Clerk(Arc<clerk::ClerkIdentity>),
}

/// What a request's credentials amount to.
#[derive(Debug, Clone)]
pub enum Authentication {
    SignedIn(CurrentUser),
    SignedOut,
    /// Signed in, but the proof is out of date: the browser has to refresh it (Clerk mode).
    Stale,
}

impl Identity {
    /// The mode the settings ask for.
    pub fn from_settings(settings: &crate::config::Settings) -> anyhow::Result<Self> {
        Ok(match &settings.clerk {
            Some(clerk) => Self::Clerk(Arc::new(clerk::ClerkIdentity::new(clerk)?)),
            None => Self::Local,
        })
    }

    /// Who a request comes from.
    pub async fn authenticate(
        &self,
        req: &ServiceRequest,
        pool: &crate::db::Pool,
    ) -> Result<Authentication, AppError> {
        match self {
            Self::Local => Ok(local::session_user(&req.get_session(), pool)
                .await?
                .map_or(Authentication::SignedOut, Authentication::SignedIn)),
            Self::Clerk(clerk) => match clerk.session_state(req.headers()).await {
                clerk::session::SessionState::SignedIn(claims) => {
                    Ok(Authentication::SignedIn(clerk.user(pool, &claims).await?))
                }
                clerk::session::SessionState::SignedOut(_) => Ok(Authentication::SignedOut),
                clerk::session::SessionState::Stale(_) => Ok(Authentication::Stale),
            },
        }
    }

    /// The signed-in user for a request, if there is one (a stale session counts as none).
    pub async fn current_user(
        &self,
        req: &ServiceRequest,
        pool: &crate::db::Pool,
    ) -> Result<Option<CurrentUser>, AppError> {
        Ok(match self.authenticate(req, pool).await? {
            Authentication::SignedIn(user) => Some(user),
            Authentication::SignedOut | Authentication::Stale => None,
        })
    }

    /// Where a signed-out visitor is sent.
    pub fn sign_in_path(&self) -> &'static str {
        paths::SIGN_IN
    }

    /// Clerk's browser settings in Clerk mode.
    pub fn clerk_browser(&self) -> Option<clerk::ClerkBrowser> {
        match self {
            Self::Local => None,
            Self::Clerk(clerk) => Some(clerk.browser.clone()),
        }
    }

    /// What the CSP must allow beyond our own origin in this mode.
    pub fn csp_sources(&self) -> crate::security::CspSources {
        match self {
            Self::Local => crate::security::CspSources::default(),
            Self::Clerk(clerk) => clerk::csp_sources(&clerk.browser),
        }
    }
}

/// Lets signed-in requests through with a [`CurrentUser`]; answers the rest the way each kind
/// of request expects: a redirect for a page, `HX-Redirect` for htmx, 401 JSON for the API;
/// and a stale Clerk session with a refresh (page), `HX-Refresh` (htmx) or 401 (API).
pub async fn require_user(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let identity = req
        .app_data::<web::Data<Identity>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("Identity is not configured")))?;
    let pool = req
        .app_data::<web::Data<crate::db::Pool>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("database pool is not configured")))?;
    match identity.authenticate(&req, &pool).await {
        Ok(Authentication::SignedIn(user)) => {
            req.extensions_mut().insert(user);
            let refreshed = clerk::pages::refresh_count(&req) > 0;
            let mut res = ui::scope(identity.clerk_browser(), next.call(req))
                .await?
                .map_into_boxed_body();
            clerk::pages::clear_refresh_count(refreshed, res.response_mut());
            Ok(res)
        }
        Ok(Authentication::Stale) => {
            let stale = match identity.as_ref() {
                Identity::Clerk(clerk) => clerk::pages::stale_response(&req, &clerk.browser),
                Identity::Local => None,
            };
            let response =
                stale.unwrap_or_else(|| signed_out_response(&req, identity.sign_in_path()));
            Ok(req.into_response(response))
        }
        Ok(Authentication::SignedOut) => {
            let response = signed_out_response(&req, identity.sign_in_path());
            Ok(req.into_response(response))
        }
        Err(e) => Ok(req.error_response(e)),
    }
}

fn signed_out_response(req: &ServiceRequest, sign_in: &str) -> HttpResponse {
    let kind = RequestKind::of(req.path(), req.headers());
    match kind {
        RequestKind::Api => HttpResponse::Unauthorized()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({
                "error": { "code": "unauthenticated", "message": "Sign in to continue." }
            })),
        RequestKind::Htmx => {
            // htmx sends the URL of the page it was on; return there after signing in.
            let back = req
                .headers()
                .get("hx-current-url")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| url::Url::parse(v).ok())
                .map(|u| match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                })
                .unwrap_or_else(|| "/".into());
            let location = redirect::sign_in_url(sign_in, &back);
            HttpResponse::Unauthorized()
                .insert_header((htmx::HX_REDIRECT, location))
                .finish()
        }
        RequestKind::Page => {
            let wanted = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let location = if wanted == "/" {
                sign_in.to_owned()
            } else {
                redirect::sign_in_url(sign_in, wanted)
            };
            HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_take_first_and_last_words() {
        assert_eq!(initials("Ada Lovelace"), "AL");
        assert_eq!(initials("ada"), "A");
        assert_eq!(initials("Jean Claude van Damme"), "JD");
        assert_eq!(initials("   "), "?");
        assert_eq!(initials("élodie durand"), "ÉD");
    }
}
