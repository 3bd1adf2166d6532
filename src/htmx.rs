//! htmx request detection and response header names, in one place.

use actix_web::http::header::HeaderMap;

pub const HX_REQUEST: &str = "hx-request";
pub const HX_BOOSTED: &str = "hx-boosted";
pub const HX_REDIRECT: &str = "hx-redirect";
pub const HX_REFRESH: &str = "hx-refresh";
pub const HX_RETARGET: &str = "hx-retarget";
pub const HX_RESWAP: &str = "hx-reswap";
pub const HX_TRIGGER: &str = "hx-trigger";

/// The element toasts are appended to (see `templates/base.html`).
pub const TOAST_TARGET: &str = "#toasts";

/// How a request expects to be answered: a full page, an htmx fragment, or JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestKind {
    Page,
    Htmx,
    Api,
}

impl RequestKind {
    /// Classifies a request by its path and headers.
    pub fn of(path: &str, headers: &HeaderMap) -> Self {
        let upgrade = headers
            .get(actix_web::http::header::UPGRADE)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"websocket"));
        if path.starts_with("/api/") || upgrade {
            return Self::Api;
        }
        if is_htmx(headers) {
            return Self::Htmx;
        }
        let accept = headers
            .get(actix_web::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if accept.contains("application/json") && !accept.contains("text/html") {
            Self::Api
        } else {
            Self::Page
        }
    }
}

/// True for requests made by htmx (but not boosted navigation, which wants whole pages).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get(HX_REQUEST).is_some_and(|v| v == "true")
        && headers.get(HX_BOOSTED).is_none_or(|v| v != "true")
}
