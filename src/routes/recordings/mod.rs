//! Recording endpoints: start, slices, finish, permission (JSON for the meeting page); the
//! Recordings list, a recording's page, its file with range requests, delete; and share links.

mod control;
mod pages;
mod shared;

pub use control::{finish, permission, put_slice, start, stop};
pub use pages::{delete, file, list, page, revoke_share_links};
pub use shared::{shared_file, shared_page};

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};

use crate::errors::AppError;

pub(super) fn uuid(raw: &str, what: &str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::NotFound(format!("No {what} has that ID.")))
}

pub(super) fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": { "code": code, "message": message } }))
}
