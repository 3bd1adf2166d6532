//! `GET /meeting/{id}/signal`: the meeting room's WebSocket (the waiting room, the host's
//! controls and the chat in every mode; the mesh's signalling on built-in media).

use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::CurrentUser;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store;
use crate::security;
use crate::video::Media;
use crate::video::mesh::connection::{self, Entrant};

/// Checks who may connect, then hands the socket to the meeting's room.
pub async fn signal(
    req: HttpRequest,
    body: web::Payload,
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // Browsers send Origin on WebSocket handshakes; a page on another site must not be able to
    // open a socket with our cookie.
    if !security::origin_allowed(&req) {
        tracing::warn!(origin = ?req.headers().get("origin"), "signalling connection from another origin refused");
        return Err(AppError::Forbidden(
            "This connection came from another site and was refused.".into(),
        ));
    }
    let hub = media.rooms().clone();
    let id = uuid::Uuid::parse_str(&path)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::NotFound("No meeting has that ID.".into()))?;
    let meeting = store::find(&pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    if meeting.ended_at.is_some() || meeting.cancelled_at.is_some() {
        return Err(AppError::Gone("This meeting is over.".into()));
    }
    let now = crate::time::now();
    if !meeting.may_enter(&user.id, now, store::is_live(&pool, &id, now).await?) {
        return Err(AppError::Forbidden(
            "This meeting has not started yet.".into(),
        ));
    }
    // What a room starting afresh (first entrant, or after a restart) knows of a recording.
    let recording = match crate::recordings::store::active_in(&pool, &id).await? {
        Some(rec) => Some(match rec.created_by.as_deref() {
            Some(by) => crate::auth::accounts::find_by_id(&pool, by)
                .await?
                .map(|u| u.display_name)
                .unwrap_or_default(),
            None => String::new(),
        }),
        None => None,
    };
    let snapshot = crate::video::mesh::RoomSnapshot {
        recording,
        recording_allowed: crate::recordings::store::is_allowed(&pool, &id).await?,
    };
    let (response, session, stream) = actix_ws::handle(&req, body)
        .map_err(|e| AppError::BadRequest(format!("Not a WebSocket request: {e}")))?;
    let entrant = Entrant {
        owner: meeting.is_owner(&user.id),
        meeting_id: meeting.id,
        user_id: user.id,
        name: user.display_name,
        image: user.image_url,
        snapshot,
    };
    actix_web::rt::spawn(connection::serve(hub, entrant, session, stream));
    Ok(response)
}
