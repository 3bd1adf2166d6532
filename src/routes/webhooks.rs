//! `POST /webhooks/stream`: events from Stream, server to server.
//!
//! Outside the signed-in scope (Stream has no session) and let through by the same-origin
//! check (a server sends neither `Origin` nor `Sec-Fetch-Site`); the signature is what
//! authenticates it.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{HttpResponse, web};
use futures_util::StreamExt;

use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store;
use crate::recordings;
use crate::video::Media;
use crate::video::stream::deliveries;
use crate::video::stream::webhook::{self, Event};

fn unauthorized(message: &str) -> HttpResponse {
    HttpResponse::Unauthorized()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": { "code": "bad_signature", "message": message } }))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Reads the raw body (as sent, before any decompression) up to the limit.
async fn raw_body(mut payload: web::Payload) -> Result<Vec<u8>, AppError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| AppError::BadRequest(format!("The body could not be read: {e}")))?;
        if body.len() + chunk.len() > webhook::MAX_BODY {
            return Err(AppError::BadRequest("The body is too large.".into()));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Checks the signature, then applies the event. Unknown events are acknowledged.
pub async fn stream(
    req: actix_web::HttpRequest,
    payload: web::Payload,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
) -> Result<HttpResponse, AppError> {
    let rooms = media.rooms();
    let stream = media
        .stream()
        .ok_or_else(|| AppError::NotFound("This server does not use Stream.".into()))?;
    let raw = raw_body(payload).await?;
    let headers = req.headers();
    let Some(signature) = header_str(headers, "x-signature") else {
        tracing::warn!("Stream webhook without a signature refused");
        return Ok(unauthorized("The X-Signature header is missing."));
    };
    let body = match webhook::signed_bytes(&raw, header_str(headers, "content-encoding")) {
        Ok(body) => body,
        Err(e) => {
            return Err(AppError::BadRequest(format!(
                "The body could not be read: {e}."
            )));
        }
    };
    if !stream.verify_webhook(&body, signature) {
        tracing::warn!("Stream webhook with a bad signature refused");
        return Ok(unauthorized("The signature does not match the body."));
    }
    let event = webhook::parse(&body)
        .map_err(|e| AppError::BadRequest(format!("The event could not be read: {e}.")))?;
    let now = crate::time::now();
    let delivery = deliveries::delivery_id(header_str(headers, "x-webhook-id"), &body);
    if !deliveries::claim(&pool, &delivery, now).await? {
        tracing::info!(%delivery, "Stream webhook delivered again; already applied");
        return Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true, "duplicate": true })));
    }
    if let Err(e) = apply(&pool, stream, rooms, &event, now).await {
        // Stream retries a failed delivery: let the retry be applied.
        if let Err(release) = deliveries::release(&pool, &delivery).await {
            tracing::error!(error = ?release, %delivery, "could not release a webhook delivery");
        }
        return Err(e);
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "ok": true })))
}

/// Applies one event to the database.
async fn apply(
    pool: &Pool,
    stream: &crate::video::stream::StreamMedia,
    rooms: &crate::video::mesh::Hub,
    event: &Event,
    now: i64,
) -> Result<(), AppError> {
    match event {
        Event::CallEnded { meeting_id } => {
            let known = store::close(pool, meeting_id, now).await? != store::Closed::Unknown;
            tracing::info!(meeting = %meeting_id, known, "Stream says the call ended");
            if known {
                // Its room (the waiting room, the chat) closes too, on whichever instance.
                rooms.end(meeting_id).await;
            }
        }
        Event::ParticipantJoined {
            meeting_id,
            user_id,
        } => {
            let recorded = store::record_reported_join(pool, meeting_id, user_id, now).await?;
            tracing::info!(meeting = %meeting_id, user = %user_id, recorded, "participant joined (Stream)");
        }
        Event::ParticipantLeft {
            meeting_id,
            user_id,
        } => {
            store::record_leave(pool, meeting_id, user_id, now).await?;
        }
        Event::RecordingReady {
            meeting_id,
            recording,
        } => {
            let saved =
                recordings::hosted::save_stream_recording(pool, meeting_id, recording, now).await?;
            // The next Recordings page asks Stream again rather than trust an older listing.
            stream.forget_listing(meeting_id).await;
            tracing::info!(meeting = %meeting_id, file = %recording.filename, saved, "Stream recording ready");
        }
        Event::Ignored { kind } => {
            tracing::debug!(kind = %kind, "Stream webhook ignored");
        }
    }
    Ok(())
}
