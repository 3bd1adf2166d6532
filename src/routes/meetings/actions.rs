//! What the host does to a meeting (cancel, end), presence from hosted-media pages, and the
//! calendar file.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};

use super::{add_toast, meeting_id, meeting_link, redirect};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::htmx;
use crate::meetings::{ics, store};
use crate::routes::paths;
use crate::time;
use crate::video::Media;

// ---- Cancel, end, calendar ------------------------------------------------------------------

/// `POST /meeting/{id}/cancel`: the owner calls off a meeting that has not happened.
pub async fn cancel(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = meeting_id(&path)?;
    let meeting = store::cancel(&pool, &id, &user.id, time::now()).await?;
    tracing::info!(meeting = %meeting.id, "meeting cancelled");
    if htmx::is_htmx(req.headers()) {
        // The card is swapped for nothing; the toast says what happened.
        let mut res = HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("");
        add_toast(&mut res, "Meeting cancelled");
        Ok(res)
    } else {
        Ok(redirect(&req, paths::UPCOMING))
    }
}

/// `POST /meeting/{id}/end`: the owner ends the meeting for everyone (checked here, not in
/// the browser).
pub async fn end(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = meeting_id(&path)?;
    // Ours first (the owner check is here): ending twice is harmless, so if the provider
    // cannot be told, the host's retry does both again.
    let meeting = store::end(&pool, &id, &user.id, time::now()).await?;
    media.meeting_ended(&meeting.id).await.map_err(|e| {
        tracing::error!(meeting = %meeting.id, error = ?e, "Failed to end the call on the media provider");
        AppError::Unavailable(
            "The video service could not be told to end the call. Please try again.".into(),
        )
    })?;
    tracing::info!(meeting = %meeting.id, "meeting ended by its host");
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if htmx::is_htmx(req.headers()) || wants_json {
        Ok(HttpResponse::Ok().json(serde_json::json!({ "ended": true })))
    } else {
        Ok(redirect(&req, paths::HOME))
    }
}

/// `POST /meeting/{id}/presence`: "I am in this call", from a meeting page whose media does
/// not pass through this server (Stream). Sent on joining and every half minute, it records
/// attendance (so the meeting is in the person's lists) and keeps the meeting live while
/// people are in it; Stream's webhooks say the same when they are set up.
pub async fn presence(
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    // Built-in media knows who is in a room from the room itself; no page reports it, and a
    // report would only let someone who never joined appear as an attendee.
    if media.stream().is_none() {
        return Err(AppError::NotFound(
            "This meeting's presence is known to the server already.".into(),
        ));
    }
    let id = meeting_id(&path)?;
    let meeting = store::find(&pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    if meeting.ended_at.is_some() || meeting.cancelled_at.is_some() {
        return Err(AppError::Gone("This meeting is over.".into()));
    }
    let now = time::now();
    if !meeting.may_enter(&user.id, now, store::is_live(&pool, &id, now).await?) {
        return Err(AppError::Forbidden(
            "This meeting has not started yet.".into(),
        ));
    }
    // Being let in is what makes an attendee: someone waiting, turned away or removed is not.
    if !crate::meetings::access::is_admitted(&pool, &id, &user.id).await? {
        return Err(AppError::Forbidden(
            "You have not been let into this meeting.".into(),
        ));
    }
    store::record_join(&pool, &id, &user.id, now).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `GET /meeting/{id}/calendar.ics`
pub async fn calendar(
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = meeting_id(&path)?;
    let meeting = store::find(&pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    let link = meeting_link(&settings, &meeting.id);
    let host = settings.base_url.host_str().unwrap_or("yoom");
    let body = ics::calendar(&meeting, &link, host, time::now());
    Ok(HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"yoom-meeting.ics\"",
        ))
        .insert_header((header::CACHE_CONTROL, "no-cache, private"))
        .body(body))
}
