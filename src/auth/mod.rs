//! Who is signed in. [`Identity`] is the mode (built-in accounts today; a hosted provider is
//! another variant); [`require_user`] guards every private route and hands handlers a
//! [`CurrentUser`].

pub mod accounts;
pub mod local;
pub mod password;
pub mod redirect;
pub mod session_key;

use std::future::{Ready, ready};

use actix_session::SessionExt;
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};

use crate::errors::AppError;
use crate::htmx::{self, RequestKind};
use crate::routes::paths;

/// Session key holding the signed-in account's ID (built-in accounts).
pub const SESSION_USER_ID: &str = "user_id";

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
}

impl Identity {
    /// The signed-in user for a request, if there is one.
    pub async fn current_user(
        &self,
        req: &ServiceRequest,
        pool: &crate::db::Pool,
    ) -> Result<Option<CurrentUser>, AppError> {
        match self {
            Self::Local => {
                let session = req.get_session();
                let Ok(Some(id)) = session.get::<String>(SESSION_USER_ID) else {
                    return Ok(None);
                };
                let user = accounts::find_by_id(pool, &id).await?;
                if user.is_none() {
                    // The account is gone (deleted, or a database was replaced): sign out.
                    session.purge();
                }
                Ok(user)
            }
        }
    }

    /// Where a signed-out visitor is sent.
    pub fn sign_in_path(&self) -> &'static str {
        match self {
            Self::Local => paths::SIGN_IN,
        }
    }
}

/// Lets signed-in requests through with a [`CurrentUser`]; answers the rest the way each kind
/// of request expects: a redirect for a page, `HX-Redirect` for htmx, 401 JSON for the API.
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
    match identity.current_user(&req, &pool).await {
        Ok(Some(user)) => {
            req.extensions_mut().insert(user);
            next.call(req)
                .await
                .map(ServiceResponse::map_into_boxed_body)
        }
        Ok(None) => {
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
