//! The pages and responses of Clerk mode: sign-in and sign-up (Clerk's components, mounted by
//! `static/js/clerk.js`), the session-refresh page, and sign-out.

use actix_web::cookie::{Cookie, time::Duration as CookieDuration};
use actix_web::dev::ServiceRequest;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::ClerkBrowser;
use super::ClerkIdentity;
use super::session::{CLIENT_UAT_COOKIE, Cookies, SESSION_COOKIE, SessionState};
use crate::auth::redirect;
use crate::errors::AppError;
use crate::htmx::{self, RequestKind};
use crate::routes::paths;

/// Counts refresh pages served in a row, so a refresh that never succeeds ends in sign-in.
pub const REFRESH_COUNT_COOKIE: &str = "yoom_clerk_refresh";
/// Refresh pages allowed before the loop guard answers "signed out".
pub const MAX_REFRESHES: u32 = 3;
/// How long the count is remembered: a few reloads' worth.
const REFRESH_WINDOW_SECONDS: i64 = 30;
/// Set by `POST /sign-out` so the next sign-in page signs clerk-js out too.
pub const SIGN_OUT_COOKIE: &str = "yoom_clerk_sign_out";

#[derive(Debug, Default, Deserialize)]
pub struct ReturnTo {
    redirect_url: Option<String>,
}

/// Clerk's sign-in or sign-up component on our themed card.
#[derive(Template)]
#[template(path = "auth/clerk.html")]
struct ClerkAuthPage<'a> {
    title: &'a str,
    /// `sign-in` or `sign-up`: which component `clerk.js` mounts.
    mount: &'a str,
    browser: &'a ClerkBrowser,
    redirect_url: &'a str,
    sign_out: bool,
}

/// Shown while clerk-js refreshes an out-of-date session token.
#[derive(Template)]
#[template(path = "auth/clerk_refresh.html")]
struct RefreshPage<'a> {
    browser: &'a ClerkBrowser,
    sign_in_url: &'a str,
}

fn own_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn go_to(req: &HttpRequest, location: &str) -> HttpResponse {
    if htmx::is_htmx(req.headers()) {
        HttpResponse::Ok()
            .insert_header((htmx::HX_REDIRECT, location))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .finish()
    }
}

fn expired(name: &str) -> Cookie<'static> {
    let mut cookie = Cookie::build(name.to_owned(), "").path("/").finish();
    cookie.make_removal();
    cookie
}

async fn auth_page(
    req: HttpRequest,
    clerk: web::Data<ClerkIdentity>,
    query: web::Query<ReturnTo>,
    title: &str,
    mount: &str,
) -> Result<HttpResponse, AppError> {
    let target = redirect::safe_return_path(query.redirect_url.as_deref(), Some(&own_origin(&req)));
    let sign_out = Cookies::from_headers(req.headers())
        .get(SIGN_OUT_COOKIE)
        .is_some();
    if !sign_out
        && matches!(
            clerk.session_state(req.headers()).await,
            SessionState::SignedIn(_)
        )
    {
        return Ok(go_to(&req, &target));
    }
    let body = ClerkAuthPage {
        title,
        mount,
        browser: &clerk.browser,
        redirect_url: &target,
        sign_out,
    }
    .render()
    .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("Failed to render page")))?;
    let mut res = HttpResponse::Ok();
    res.content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if sign_out {
        let mut gone = Cookie::build(SIGN_OUT_COOKIE, "")
            .path(paths::SIGN_IN)
            .finish();
        gone.make_removal();
        res.cookie(gone);
    }
    Ok(res.body(body))
}

/// `GET /sign-in` in Clerk mode.
pub async fn sign_in_page(
    req: HttpRequest,
    clerk: web::Data<ClerkIdentity>,
    query: web::Query<ReturnTo>,
) -> Result<HttpResponse, AppError> {
    auth_page(req, clerk, query, "Sign in", "sign-in").await
}

/// `GET /sign-up` in Clerk mode.
pub async fn sign_up_page(
    req: HttpRequest,
    clerk: web::Data<ClerkIdentity>,
    query: web::Query<ReturnTo>,
) -> Result<HttpResponse, AppError> {
    auth_page(req, clerk, query, "Sign up", "sign-up").await
}

/// `POST /sign-out` in Clerk mode: clears the session cookies this origin can clear, and has
/// the sign-in page sign clerk-js out (Clerk's own client cookie lives on its domain).
pub async fn sign_out(req: HttpRequest, clerk: web::Data<ClerkIdentity>) -> HttpResponse {
    let mut res = go_to(&req, paths::SIGN_IN);
    let suffix = clerk.cookie_suffix();
    for name in [
        SESSION_COOKIE.to_owned(),
        CLIENT_UAT_COOKIE.to_owned(),
        format!("{SESSION_COOKIE}_{suffix}"),
        format!("{CLIENT_UAT_COOKIE}_{suffix}"),
    ] {
        let _ = res.add_cookie(&expired(&name));
    }
    let flag = Cookie::build(SIGN_OUT_COOKIE, "1")
        .path(paths::SIGN_IN)
        .http_only(true)
        .same_site(actix_web::cookie::SameSite::Lax)
        .max_age(CookieDuration::seconds(60))
        .finish();
    let _ = res.add_cookie(&flag);
    res
}

/// How many refresh pages this browser has been shown in a row.
pub fn refresh_count(req: &ServiceRequest) -> u32 {
    Cookies::from_headers(req.headers())
        .get(REFRESH_COUNT_COOKIE)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// The answer to a signed-in request whose token is out of date, or `None` when the request
/// should be treated as signed out instead (not a GET page, or the loop guard tripped).
pub fn stale_response(req: &ServiceRequest, browser: &ClerkBrowser) -> Option<HttpResponse> {
    match RequestKind::of(req.path(), req.headers()) {
        RequestKind::Api => Some(
            HttpResponse::Unauthorized()
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .json(serde_json::json!({
                    "error": {
                        "code": "session_stale",
                        "message": "Your session needs refreshing. Reload the page."
                    }
                })),
        ),
        // htmx reloads the whole page, which gets the refresh page below.
        RequestKind::Htmx => Some(
            HttpResponse::Unauthorized()
                .insert_header((htmx::HX_REFRESH, "true"))
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .finish(),
        ),
        RequestKind::Page if req.method() == Method::GET || req.method() == Method::HEAD => {
            let count = refresh_count(req);
            if count >= MAX_REFRESHES {
                tracing::warn!(path = %req.path(), "Clerk session refresh keeps failing; signing out");
                return None;
            }
            let wanted = req
                .uri()
                .path_and_query()
                .map(|p| p.as_str())
                .unwrap_or("/");
            let sign_in_url = redirect::sign_in_url(paths::SIGN_IN, wanted);
            let body = RefreshPage {
                browser,
                sign_in_url: &sign_in_url,
            }
            .render()
            .ok()?;
            let counter = Cookie::build(REFRESH_COUNT_COOKIE, (count + 1).to_string())
                .path("/")
                .http_only(true)
                .same_site(actix_web::cookie::SameSite::Lax)
                .max_age(CookieDuration::seconds(REFRESH_WINDOW_SECONDS))
                .finish();
            Some(
                HttpResponse::Ok()
                    .content_type("text/html; charset=utf-8")
                    .insert_header((header::CACHE_CONTROL, "no-store"))
                    .cookie(counter)
                    .body(body),
            )
        }
        // A form posted without htmx cannot be replayed after a refresh: sign in again.
        RequestKind::Page => None,
    }
}

/// On a signed-in page, forget earlier refresh attempts.
pub fn clear_refresh_count<B>(had_count: bool, res: &mut HttpResponse<B>) {
    if had_count {
        let _ = res.add_cookie(&expired(REFRESH_COUNT_COOKIE));
    }
}
