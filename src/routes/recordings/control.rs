//! What the meeting page asks of recordings (JSON): start, stop, slices, finish, permission.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use super::{json_error, uuid};
use crate::auth::CurrentUser;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::attendance;
use crate::meetings::store as meetings;
use crate::recordings::files::Received;
use crate::recordings::upload::{SliceOutcome, Uploads};
use crate::recordings::{MAX_SLICE_BYTES, Recording, Status, store};
use crate::time;
use crate::video::stream::StreamError;
use crate::video::{Media, MediaError};

/// `POST /meeting/{id}/recordings`: the host (or anyone, if the host allows) starts recording.
pub async fn start(
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let meeting = meeting_to_record(&pool, &path, &user).await?;
    let id = meeting.id;
    if meeting.ended_at.is_some() || meeting.cancelled_at.is_some() {
        return Err(AppError::Gone("This meeting is over.".into()));
    }
    if store::active_in(&pool, &id).await?.is_some() {
        return Err(AppError::Conflict(
            "This meeting is already being recorded.".into(),
        ));
    }
    // A hosted provider records the call itself; on the mesh the browser records and uploads.
    if media
        .start_cloud_recording(&id)
        .await
        .map_err(|e| cloud_refused(e, "start"))?
    {
        tracing::info!(meeting = %id, user = %user.id, "cloud recording requested");
        return Ok(HttpResponse::Accepted()
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .json(serde_json::json!({ "provider": "stream", "state": "starting" })));
    }
    if let Some(problem) = uploads.may_start(&user.id).await? {
        return Err(AppError::Conflict(problem));
    }
    let rec = store::create(&pool, &id, &user.id, "video/webm", time::now()).await?;
    media.recording_changed(&id, true, &user.display_name).await;
    tracing::info!(recording = %rec.id, meeting = %id, "recording started");
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": rec.id,
        "sliceMaxBytes": MAX_SLICE_BYTES,
        "maxBytes": uploads.quota.max_bytes,
    })))
}

/// A provider's refusal (4xx) is the person's to read: recording not enabled for the call
/// type, already recording, nothing to stop. Anything else is "could not be reached".
fn cloud_refused(e: MediaError, doing: &str) -> AppError {
    match e {
        MediaError::Provider(StreamError::Api {
            status, message, ..
        }) if (400..500).contains(&status) && status != 429 => {
            tracing::warn!(status, %message, "Stream refused to {doing} a recording");
            AppError::Conflict(format!(
                "The video service would not {doing} the recording: {message}"
            ))
        }
        other => other.into(),
    }
}

/// `POST /meeting/{id}/recordings/stop`: stops the hosted provider's recording of the call.
/// The same people who may start one may stop it.
pub async fn stop(
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = meeting_to_record(&pool, &path, &user).await?.id;
    media
        .stop_cloud_recording(&id)
        .await
        .map_err(|e| cloud_refused(e, "stop"))?;
    tracing::info!(meeting = %id, user = %user.id, "cloud recording stop requested");
    Ok(HttpResponse::Accepted()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "provider": "stream", "state": "stopping" })))
}

/// The meeting at `raw` if this person may start or stop its recording: its host, or someone
/// in it now once the host lets everyone record.
async fn meeting_to_record(
    pool: &Pool,
    raw: &str,
    user: &CurrentUser,
) -> Result<crate::meetings::Meeting, AppError> {
    let id = uuid(raw, "meeting")?;
    let meeting = meetings::find(pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    let may = meeting.is_owner(&user.id)
        || (store::is_allowed(pool, &id).await?
            && attendance::is_present(pool, &id, &user.id, time::now()).await?);
    if !may {
        return Err(AppError::Forbidden(
            "Only the host, or people the host allows, can record this meeting.".into(),
        ));
    }
    Ok(meeting)
}

/// A recording the caller started, or 403/404.
async fn own_recording(pool: &Pool, raw: &str, user: &CurrentUser) -> Result<Recording, AppError> {
    let id = uuid(raw, "recording")?;
    let rec = store::find(pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No recording has that ID.".into()))?;
    if rec.created_by.as_deref() != Some(user.id.as_str()) {
        return Err(AppError::Forbidden(
            "Only the person recording can add to this recording.".into(),
        ));
    }
    Ok(rec)
}

/// `PUT /recordings/{id}/slices/{seq}`. The body goes to disk as it arrives; nothing is
/// read before the recording is known to be the caller's and still open.
pub async fn put_slice(
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<(String, i64)>,
    body: web::Payload,
) -> Result<HttpResponse, AppError> {
    let (raw, seq) = path.into_inner();
    if seq < 0 {
        return Err(AppError::BadRequest("Slice numbers start at 0.".into()));
    }
    let rec = own_recording(&pool, &raw, &user).await?;
    let outcome = if rec.status != Status::Recording {
        SliceOutcome::Finished
    } else if let Some(_arriving) = uploads.arriving(&rec.id) {
        match uploads.files.receive(body, MAX_SLICE_BYTES).await {
            Ok(Received::Slice(slice)) => {
                uploads.put_slice(&rec.id, seq, slice, time::now()).await?
            }
            Ok(Received::TooLarge) => SliceOutcome::TooLarge,
            Err(e) => {
                tracing::info!(recording = %rec.id, error = %e, "a slice upload broke off");
                return Err(AppError::BadRequest(
                    "The slice did not arrive whole. Send it again.".into(),
                ));
            }
        }
    } else {
        SliceOutcome::Busy
    };
    Ok(match outcome {
        SliceOutcome::Acked { seq, bytes } | SliceOutcome::Duplicate { seq, bytes } => {
            HttpResponse::Ok()
                .json(serde_json::json!({ "seq": seq, "acked": true, "bytes": bytes }))
        }
        SliceOutcome::Pending { seq } => {
            HttpResponse::Accepted().json(serde_json::json!({ "seq": seq, "pending": true }))
        }
        SliceOutcome::TooLarge => json_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            &format!("A slice may be at most {} MB.", MAX_SLICE_BYTES / 1_000_000),
        ),
        SliceOutcome::Busy => json_error(
            StatusCode::TOO_MANY_REQUESTS,
            "busy",
            "Slices of this recording are arriving faster than they are saved. Send this one again.",
        ),
        SliceOutcome::TooFarAhead => json_error(
            StatusCode::BAD_REQUEST,
            "bad_request",
            "That slice is too far ahead of the missing ones.",
        ),
        SliceOutcome::LimitReached(problem) => {
            media
                .recording_changed(&rec.meeting_id, false, &user.display_name)
                .await;
            json_error(
                StatusCode::INSUFFICIENT_STORAGE,
                "limit_reached",
                &format!("Recording stopped: {problem}. What was recorded is saved."),
            )
        }
        SliceOutcome::Finished => json_error(
            StatusCode::CONFLICT,
            "finished",
            "This recording has finished.",
        ),
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FinishBody {
    duration_ms: Option<i64>,
}

/// `POST /recordings/{id}/finish` (idempotent).
pub async fn finish(
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<String>,
    body: Option<web::Json<FinishBody>>,
) -> Result<HttpResponse, AppError> {
    let id = uuid(&path, "recording")?;
    let rec = store::find(&pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No recording has that ID.".into()))?;
    let owner = meetings::find(&pool, &rec.meeting_id)
        .await?
        .is_some_and(|m| m.is_owner(&user.id));
    if rec.created_by.as_deref() != Some(user.id.as_str()) && !owner {
        return Err(AppError::Forbidden(
            "Only the person recording or the host can stop this recording.".into(),
        ));
    }
    let duration = body.and_then(|b| b.duration_ms);
    let done = uploads
        .finish(&id, duration, time::now())
        .await?
        .ok_or_else(|| AppError::NotFound("No recording has that ID.".into()))?;
    if rec.status == Status::Recording {
        media
            .recording_changed(&rec.meeting_id, false, &user.display_name)
            .await;
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({
        "id": done.id,
        "status": done.status,
        "url": format!("/recordings/{}", done.id),
    })))
}

#[derive(Debug, Deserialize)]
pub struct PermissionForm {
    allowed: String,
}

/// `POST /meeting/{id}/recording-permission`: the host lets everyone record, or not.
pub async fn permission(
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<String>,
    form: web::Form<PermissionForm>,
) -> Result<HttpResponse, AppError> {
    let id = uuid(&path, "meeting")?;
    let meeting = meetings::find(&pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    if !meeting.is_owner(&user.id) {
        return Err(AppError::Forbidden(
            "Only the host can change who may record.".into(),
        ));
    }
    let allowed = matches!(form.allowed.as_str(), "true" | "on" | "1");
    store::set_allowed(&pool, &id, allowed).await?;
    media.recording_permission_changed(&id, allowed).await;
    // Taking the permission back stops a recording someone else is making under it (the
    // recorder's next slice is refused as finished, and its page stops).
    if !allowed
        && let Some(rec) = store::active_in(&pool, &id).await?
        && rec.created_by.as_deref() != Some(user.id.as_str())
    {
        uploads.finish(&rec.id, None, time::now()).await?;
        media.recording_changed(&id, false, "").await;
        tracing::info!(recording = %rec.id, meeting = %id, "recording stopped: the host withdrew the permission");
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "allowed": allowed })))
}
