//! The application error type and the middleware that renders errors for each kind of request.
//!
//! Handlers return [`AppError`]; its `ResponseError` impl only decides the status. The
//! [`render_errors`] middleware then shapes every error response for whoever asked: a styled
//! page for a browser, a toast fragment for htmx, JSON for the API. Internal causes are logged
//! with their whole chain and never shown.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, ResponseError};
use askama::Template;

use crate::htmx::{self, RequestKind};

/// What can go wrong in a handler, with the message a user may see.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("{message}")]
    TooManyRequests { message: String, retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    /// The page that was asked for does not exist.
    pub fn page_not_found() -> Self {
        Self::NotFound("This page could not be found.".into())
    }

    /// What the user is told. Internal errors say only that something went wrong.
    pub fn user_message(&self) -> String {
        match self {
            Self::Internal(_) => "Something went wrong on our side. Please try again.".into(),
            other => other.to_string(),
        }
    }

    fn code(&self) -> &'static str {
        match self {
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::Forbidden(_) => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::Gone(_) => "gone",
            Self::TooManyRequests { .. } => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::Internal(_) => "internal",
        }
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(anyhow::Error::new(e).context("Database query failed"))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Gone(_) => StatusCode::GONE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut res = HttpResponse::build(self.status_code());
        if let Self::TooManyRequests { retry_after, .. } = self {
            res.insert_header((header::RETRY_AFTER, retry_after.to_string()));
        }
        // The body is replaced by `render_errors`; this plain text is what a caller outside the
        // middleware stack (there is none in the app) would see.
        res.content_type("text/plain; charset=utf-8")
            .body(self.user_message())
    }
}

/// The styled error page.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    status: u16,
    title: &'a str,
    message: &'a str,
}

/// A toast, appended to the page's toast area by htmx.
#[derive(Template)]
#[template(path = "partials/toast.html")]
pub struct Toast<'a> {
    pub message: &'a str,
    pub error: bool,
}

/// Rewrites every error response for the kind of request that caused it.
pub async fn render_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let kind = RequestKind::of(req.path(), req.headers());
    let res = next.call(req).await?.map_into_boxed_body();
    let Some(error) = res.response().error() else {
        return Ok(res);
    };
    let status = res.status();
    let (code, message) = match error.as_error::<AppError>() {
        Some(app_error) => {
            if let AppError::Internal(cause) = app_error {
                tracing::error!(error = ?cause, path = %res.request().path(), "request failed");
            }
            (app_error.code(), app_error.user_message())
        }
        None => {
            // An extractor or framework error (unparseable body, bad path): say what kind.
            tracing::info!(error = %error, path = %res.request().path(), "request rejected");
            (generic_code(status), generic_message(status).to_owned())
        }
    };

    let (req, old) = res.into_parts();
    let mut builder = HttpResponse::build(status);
    for name in [header::RETRY_AFTER, header::WWW_AUTHENTICATE] {
        if let Some(v) = old.headers().get(&name) {
            builder.insert_header((name, v.clone()));
        }
    }
    let response = match kind {
        RequestKind::Api => builder.json(serde_json::json!({
            "error": { "code": code, "message": message }
        })),
        RequestKind::Htmx => {
            let body = Toast {
                message: &message,
                error: true,
            }
            .render()
            .unwrap_or_default();
            builder
                .insert_header((htmx::HX_RETARGET, htmx::TOAST_TARGET))
                .insert_header((htmx::HX_RESWAP, "beforeend"))
                .content_type("text/html; charset=utf-8")
                .body(body)
        }
        RequestKind::Page => {
            let title = match status {
                StatusCode::NOT_FOUND => "Page not found",
                StatusCode::FORBIDDEN => "Not allowed",
                StatusCode::TOO_MANY_REQUESTS => "Slow down",
                s if s.is_server_error() => "Something went wrong",
                _ => "That did not work",
            };
            let body = ErrorPage {
                status: status.as_u16(),
                title,
                message: &message,
            }
            .render()
            .unwrap_or_else(|_| message.clone());
            builder.content_type("text/html; charset=utf-8").body(body)
        }
    };
    let mut res = ServiceResponse::new(req, response);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(res)
}

fn generic_code(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "not_found",
        405 => "method_not_allowed",
        413 => "too_large",
        s if s >= 500 => "internal",
        _ => "bad_request",
    }
}

fn generic_message(status: StatusCode) -> &'static str {
    match status.as_u16() {
        404 => "This page could not be found.",
        405 => "That action is not available here.",
        413 => "What you sent is too large.",
        s if s >= 500 => "Something went wrong on our side. Please try again.",
        _ => "The request could not be understood. Please check what you entered.",
    }
}
