//! Security headers on every response, and the same-origin check on state-changing requests.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;

use crate::errors::AppError;

/// The headers and origin rules that the middleware applies, built once at start-up.
#[derive(Debug, Clone)]
pub struct SecurityPolicy {
    csp: HeaderValue,
    /// The public origin (`BASE_URL`), the one browsers put in `Origin` for our own pages.
    origin: String,
    /// Served over https: browsers are told to keep to https (HSTS).
    https: bool,
}

/// `Strict-Transport-Security` behind https: a year, this host only (the operator's other
/// subdomains are not ours to commit to https).
pub const HSTS: &str = "max-age=31536000";

/// Sources a hosted provider adds to the CSP, directive by directive (each a list of sources
/// such as `https://clerk.example.com` or `'unsafe-inline'`).
#[derive(Debug, Clone, Default)]
pub struct CspSources {
    pub script: Vec<String>,
    pub connect: Vec<String>,
    pub img: Vec<String>,
    pub style: Vec<String>,
    pub worker: Vec<String>,
    pub frame: Vec<String>,
    pub media: Vec<String>,
}

impl SecurityPolicy {
    /// The policy for an origin. `extra_connect` and `extra_script` widen the CSP for hosted
    /// providers when (and only when) their mode is on.
    pub fn new(origin: String, extra_script: &[&str], extra_connect: &[&str]) -> Self {
        let owned = |list: &[&str]| list.iter().map(|s| s.to_string()).collect();
        Self::widened(
            origin,
            &CspSources {
                script: owned(extra_script),
                connect: owned(extra_connect),
                ..CspSources::default()
            },
        )
    }

    /// The policy for an origin, widened by `extra` (empty lists add nothing).
    pub fn widened(origin: String, extra: &CspSources) -> Self {
        let join = |extra: &[String]| extra.iter().map(|h| format!(" {h}")).collect::<String>();
        // No inline script anywhere: every behaviour lives in files under /static.
        let mut csp = format!(
            "default-src 'self'; script-src 'self'{scripts}; style-src 'self'{styles}; \
             img-src 'self' data: blob:{imgs}; media-src 'self' blob:{media}; connect-src 'self'{connects}; \
             font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; \
             frame-ancestors 'none'",
            scripts = join(&extra.script),
            styles = join(&extra.style),
            imgs = join(&extra.img),
            media = join(&extra.media),
            connects = join(&extra.connect),
        );
        if !extra.worker.is_empty() {
            csp.push_str(&format!("; worker-src{}", join(&extra.worker)));
        }
        if !extra.frame.is_empty() {
            csp.push_str(&format!("; frame-src{}", join(&extra.frame)));
        }
        Self {
            csp: HeaderValue::from_str(&csp).expect("CSP is a valid header value"),
            https: origin.starts_with("https://"),
            origin,
        }
    }
}

/// Behind https every cookie we set carries `Secure`, whichever handler set it (the session
/// middleware sets its own; Clerk's helper cookies and any later one are covered here).
fn secure_cookies(headers: &mut actix_web::http::header::HeaderMap) {
    let cookies: Vec<HeaderValue> = headers.get_all(header::SET_COOKIE).cloned().collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let secured = cookie.to_str().ok().and_then(|text| {
            let has_secure = text
                .split(';')
                .skip(1)
                .any(|attr| attr.trim().eq_ignore_ascii_case("secure"));
            (!has_secure).then(|| HeaderValue::from_str(&format!("{text}; Secure")).ok())?
        });
        headers.append(header::SET_COOKIE, secured.unwrap_or(cookie));
    }
}

const PERMISSIONS_POLICY: &str = "camera=(self), microphone=(self), display-capture=(self), \
     geolocation=(), payment=(), usb=()";

/// Sets CSP, nosniff, Referrer-Policy, framing, Permissions-Policy (and HSTS behind https) on
/// every response.
pub async fn security_headers(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let (csp, https) = req
        .app_data::<web::Data<SecurityPolicy>>()
        .map_or((None, false), |p| (Some(p.csp.clone()), p.https));
    let mut res = next.call(req).await?;
    let headers = res.headers_mut();
    if let Some(csp) = csp {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    if https {
        headers.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static(HSTS),
        );
        secure_cookies(headers);
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("strict-origin-when-cross-origin"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        HeaderName::from_static("permissions-policy"),
        HeaderValue::from_static(PERMISSIONS_POLICY),
    );
    headers.insert(
        HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    Ok(res)
}

/// Refuses state-changing requests that a browser made on behalf of another site.
///
/// Browsers send `Sec-Fetch-Site` (and `Origin`) on every POST; a request with neither comes
/// from a non-browser client, which cannot be tricked into forging a request and is let
/// through (webhooks and scripts are such clients).
pub async fn same_origin_check(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    if is_safe_method(req.method()) || is_same_origin(&req) {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    }
    tracing::warn!(
        path = %req.path(),
        origin = ?req.headers().get(header::ORIGIN),
        "cross-site request refused"
    );
    Ok(req.error_response(AppError::Forbidden(
        "This request came from another site and was refused.".into(),
    )))
}

fn is_safe_method(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn is_same_origin(req: &ServiceRequest) -> bool {
    let headers = req.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let configured = req
        .app_data::<web::Data<SecurityPolicy>>()
        .map(|p| p.origin.as_str());
    // The request's own origin covers a server reached under another name than BASE_URL (a
    // LAN address): a forged cross-site request carries the other site's origin either way.
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    Some(origin) == configured || origin == own
}

/// WebSocket upgrades are GETs, so the origin check above does not cover them: the signalling
/// endpoint calls this itself.
pub fn origin_allowed(req: &actix_web::HttpRequest) -> bool {
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|o| o.to_str().ok())
    else {
        return false;
    };
    let configured = req
        .app_data::<web::Data<SecurityPolicy>>()
        .map(|p| p.origin.as_str());
    let info = req.connection_info();
    let own = format!("{}://{}", info.scheme(), info.host());
    Some(origin) == configured || origin == own
}
