//! `GET /meeting/{id}/signal`: the meeting room's WebSocket (the waiting room, the host's
//! controls and the chat in every mode; the mesh's signalling on built-in media). With several
//! instances, the socket is relayed to the instance that holds the room (see `cluster`).

use actix_web::{HttpRequest, HttpResponse, web};

use crate::auth::CurrentUser;
use crate::cluster::relay::{self, RelayError};
use crate::cluster::{Cluster, Owner};
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store;
use crate::security;
use crate::video::Media;
use crate::video::mesh::connection::{self, Entrant, MAX_FRAME_BYTES};

/// What a participant hears while the room is between instances; the client tries again.
const MOVING: &str = "The meeting's room is moving to another server. Trying again.";

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
    let body = match place(&req, body, hub.cluster(), &id).await? {
        Placed::Here(body) => body,
        Placed::Relayed(response) => return Ok(response),
    };
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

/// Where a socket goes.
enum Placed {
    /// The room lives here: the socket is served here (its body handed back).
    Here(web::Payload),
    /// The room lives on another instance: relayed there, or the owner's refusal.
    Relayed(HttpResponse),
}

/// Finds the room's instance: this one (claiming the room if nobody live holds it), or the
/// owner, to which the socket is relayed. An owner that cannot be reached is taken over once its
/// heartbeat is late; until then the participant is asked to try again.
async fn place(
    req: &HttpRequest,
    body: web::Payload,
    cluster: &Cluster,
    meeting_id: &str,
) -> Result<Placed, AppError> {
    let owner = match cluster.owner(meeting_id).await? {
        Owner::Here => return Ok(Placed::Here(body)),
        Owner::Unknown => return Err(AppError::Unavailable(MOVING.into())),
        Owner::There { instance, url } => (instance, url),
    };
    if cluster.url() == Some(&owner.1) {
        return match cluster.take_over_from_predecessor(meeting_id).await? {
            Owner::Here => Ok(Placed::Here(body)),
            _ => Err(AppError::Unavailable(MOVING.into())),
        };
    }
    if req.headers().contains_key(relay::RELAYED_BY) {
        // Relayed here by an instance that took this one for the owner: never a second hop.
        return Err(AppError::Unavailable(MOVING.into()));
    }
    let me = cluster.id().unwrap_or_default();
    match relay::connect(req, &owner.1, meeting_id, me, MAX_FRAME_BYTES).await {
        Ok(upstream) => {
            let response = relay::serve(req, body, upstream, MAX_FRAME_BYTES)
                .map_err(|e| AppError::BadRequest(format!("Not a WebSocket request: {e}")))?;
            Ok(Placed::Relayed(response))
        }
        Err(RelayError::Refused(response)) => Ok(Placed::Relayed(response)),
        Err(RelayError::Unreachable(why)) => {
            tracing::warn!(meeting = %meeting_id, owner = %owner.0, %why, "the room's instance cannot be reached");
            match cluster.take_over(meeting_id).await? {
                Owner::Here => {
                    tracing::info!(meeting = %meeting_id, from = %owner.0, "took the room over");
                    Ok(Placed::Here(body))
                }
                _ => Err(AppError::Unavailable(MOVING.into())),
            }
        }
    }
}
