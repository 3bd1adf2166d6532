//! Recording endpoints: start, slices, finish, permission (JSON for the meeting page); the
//! Recordings list, a recording's page, its file with range requests, delete; and share links.

mod control;
mod pages;
mod shared;

pub use control::{finish, permission, put_slice, start, stop};
pub use pages::{delete, file, list, page};
pub use shared::{shared_file, shared_page};

use actix_web::HttpResponse;
use actix_web::http::{StatusCode, header};
use actix_web::web;

use crate::errors::AppError;
use crate::recordings::upload::Uploads;
use crate::time;
use crate::video::Media;

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

/// runs.
/// Finishes recordings whose uploader vanished, every few seconds, for as long as the server
/// runs.
pub fn spawn_sweeper(uploads: web::Data<Uploads>, media: web::Data<Media>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(
            crate::recordings::SWEEP_INTERVAL_SECS,
        ));
        loop {
            tick.tick().await;
            match uploads.sweep(time::now()).await {
                Ok(done) => {
                    for rec in done {
                        media.recording_changed(&rec.meeting_id, false, "").await;
                    }
                }
                Err(e) => tracing::error!(error = ?e, "recording sweep failed"),
            }
        }
    });
}
