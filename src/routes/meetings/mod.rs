//! Meeting actions: the three modals (instant, schedule, join), cancel, end, the calendar file
//! and the `/meeting/{id}` gate. One file per family; what they share is here.

mod actions;
mod chat;
mod create;
mod gate;
mod join;

pub use actions::{calendar, cancel, end, presence};
pub use chat::{transcript, transcript_text};
pub use create::{create_instant, instant_modal, schedule, schedule_modal};
pub use gate::{enter, meeting_page, ready};
pub use join::{join, join_modal};

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse};

use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::htmx;
use crate::meetings::{Meeting, store};
use crate::video::Media;

/// Public links to meetings, built from `BASE_URL`.
pub fn meeting_link(settings: &Settings, id: &str) -> String {
    format!("{}/meeting/{id}", settings.origin())
}

/// The invite link of a personal room.
pub fn personal_room_link(settings: &Settings, room_id: &str) -> String {
    format!("{}/meeting/{room_id}?personal=true", settings.origin())
}

/// An HTML answer with a status, for forms coming back with their messages.
pub(super) fn html_with_status(
    status: StatusCode,
    rendered: askama::Result<String>,
) -> Result<HttpResponse, AppError> {
    let mut res = crate::routes::html(rendered)?;
    *res.status_mut() = status;
    Ok(res)
}

/// Sends the browser to `location`: `HX-Redirect` for htmx, 303 otherwise.
pub(super) fn redirect(req: &HttpRequest, location: &str) -> HttpResponse {
    if htmx::is_htmx(req.headers()) {
        HttpResponse::Ok()
            .insert_header((htmx::HX_REDIRECT, location))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish()
    }
}

/// Asks the page (through `HX-Trigger`) to show a toast.
pub(super) fn add_toast(res: &mut HttpResponse, message: &str) {
    let value = serde_json::json!({ "toast": { "message": message } }).to_string();
    if let Ok(value) = header::HeaderValue::from_str(&value) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(htmx::HX_TRIGGER), value);
    }
}

/// What a person is told when the media provider would not create the meeting's call.
pub(super) const CREATE_FAILED: &str = "Failed to create Meeting: the video service could not be reached. \
     Please try again.";

/// Tells the media provider about a meeting just stored; if it refuses, the meeting is removed
/// again so no half-made meeting stays in the lists.
pub(super) async fn announce_meeting(
    pool: &Pool,
    media: &Media,
    meeting: &Meeting,
    owner: &CurrentUser,
) -> Result<(), ()> {
    let Err(error) = media.meeting_created(meeting, owner).await else {
        return Ok(());
    };
    tracing::error!(meeting = %meeting.id, error = ?error, "the media provider refused the meeting; removing it");
    if let Err(e) = store::delete_unused(pool, &meeting.id).await {
        tracing::error!(meeting = %meeting.id, error = ?e, "Failed to remove the half-made meeting");
    }
    Err(())
}

pub(super) fn meeting_id(raw: &str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::NotFound("No meeting has that ID.".into()))
}

/// What someone who created many meetings in a short time is told.
pub(super) fn too_many_meetings(wait: std::time::Duration) -> AppError {
    let message = too_many_meetings_message(wait);
    AppError::TooManyRequests {
        message,
        retry_after: wait.as_secs().max(1),
    }
}

pub(super) fn too_many_meetings_message(wait: std::time::Duration) -> String {
    format!(
        "You created many meetings in a short time. Please wait {} and try again.",
        crate::rate_limit::describe_wait(wait)
    )
}
