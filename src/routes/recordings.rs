//! Recording endpoints: start, slices, finish, permission (JSON for the meeting page); the
//! Recordings list, a recording's page, its file with range requests, delete; and share links.

use actix_files::NamedFile;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Shell, paths};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store as meetings;
use crate::meetings::store::Cursor;
use crate::recordings::hosted::{self, Freshness};
use crate::recordings::share::{LinkProblem, ShareSigner};
use crate::recordings::upload::{SliceOutcome, Uploads};
use crate::recordings::{MAX_SLICE_BYTES, Recording, Status, store};
use crate::video::stream::StreamError;
use crate::video::{Media, MediaError};
use crate::{htmx, render_page, time};

fn uuid(raw: &str, what: &str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::NotFound(format!("No {what} has that ID.")))
}

fn json_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "error": { "code": code, "message": message } }))
}

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
    let rec = store::create(&pool, &id, &user.id, "video/webm", time::now()).await?;
    media.recording_changed(&id, true, &user.display_name).await;
    tracing::info!(recording = %rec.id, meeting = %id, "recording started");
    Ok(HttpResponse::Created().json(serde_json::json!({
        "id": rec.id,
        "sliceMaxBytes": MAX_SLICE_BYTES,
        "maxBytes": uploads.max_bytes,
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
/// who attended it once the host lets everyone record.
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
        || (store::is_allowed(pool, &id).await? && attended(pool, &id, &user.id).await?);
    if !may {
        return Err(AppError::Forbidden(
            "Only the host, or people the host allows, can record this meeting.".into(),
        ));
    }
    Ok(meeting)
}

async fn attended(pool: &Pool, meeting_id: &str, user_id: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(
        "select exists (select 1 from attendance where meeting_id = ?1 and account_id = ?2)",
    )
    .bind(meeting_id)
    .bind(user_id)
    .fetch_one(pool)
    .await
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

/// `PUT /recordings/{id}/slices/{seq}`
pub async fn put_slice(
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<(String, i64)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (raw, seq) = path.into_inner();
    if seq < 0 {
        return Err(AppError::BadRequest("Slice numbers start at 0.".into()));
    }
    let rec = own_recording(&pool, &raw, &user).await?;
    let outcome = uploads
        .put_slice(&rec.id, seq, body.to_vec(), time::now())
        .await?;
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
    Ok(HttpResponse::Ok().json(serde_json::json!({ "allowed": allowed })))
}

// ---- Pages ----------------------------------------------------------------------------------

/// A recording card.
pub struct RecordingCard {
    pub recording: Recording,
    pub title: String,
    pub is_owner: bool,
    pub share_link: String,
}

#[derive(Template)]
#[template(path = "pages/recordings.html", blocks = ["content", "cards"])]
struct RecordingsPage {
    shell: Shell,
    cards: Vec<RecordingCard>,
    next: Option<String>,
    /// Stream did not list every recent meeting's recordings in time.
    partial: bool,
    /// Recordings come from a hosted provider, which needs a while after a call to make them.
    hosted: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

/// `GET /recordings`
pub async fn list(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    signer: web::Data<ShareSigner>,
    media: web::Data<Media>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let cursor =
        match query.cursor.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::parse(raw).ok_or_else(|| {
                AppError::BadRequest("That page of the list does not exist.".into())
            })?),
        };
    let now = time::now();
    // The first page brings in what the provider has (later pages continue the same list).
    let freshness = if cursor.is_none() {
        hosted::refresh_for(&pool, &media, &user.id, now).await?
    } else {
        Freshness::Complete
    };
    let (listed, next) =
        store::list_for(&pool, &user.id, cursor.as_ref(), crate::meetings::PAGE_SIZE).await?;
    let cards = listed
        .into_iter()
        .map(|l| RecordingCard {
            share_link: format!("{}{}", settings.origin(), signer.link(&l.recording.id, now)),
            is_owner: l.owner_id == user.id,
            title: l.title,
            recording: l.recording,
        })
        .collect();
    let page = RecordingsPage {
        shell: Shell::new(user, paths::RECORDINGS),
        cards,
        next: next.map(|c| c.encode()),
        partial: freshness == Freshness::Partial,
        hosted: media.stream().is_some(),
    };
    if cursor.is_some() && htmx::is_htmx(req.headers()) {
        return super::html(page.as_cards().render());
    }
    render_page!(req, page)
}

#[derive(Template)]
#[template(path = "pages/recording.html", blocks = ["content"])]
struct RecordingPage {
    shell: Shell,
    recording: Recording,
    title: String,
    meeting_id: String,
    is_owner: bool,
    share_link: String,
    file_url: String,
    link_days: i64,
}

/// A recording the user may see (owner or attendee of its meeting), or 404.
async fn viewable(pool: &Pool, raw: &str, user: &CurrentUser) -> Result<Recording, AppError> {
    let not_found = || AppError::NotFound("No recording has that ID, or it was deleted.".into());
    let id = uuid(raw, "recording")?;
    let rec = store::find(pool, &id).await?.ok_or_else(not_found)?;
    if !store::may_view(pool, &rec, &user.id).await? {
        // The same answer as for a missing one: strangers learn nothing.
        return Err(not_found());
    }
    Ok(rec)
}

/// `GET /recordings/{id}`
pub async fn page(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    signer: web::Data<ShareSigner>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let rec = viewable(&pool, &path, &user).await?;
    let meeting = meetings::find(&pool, &rec.meeting_id).await?;
    let (title, is_owner) = meeting
        .as_ref()
        .map(|m| (m.title().to_owned(), m.is_owner(&user.id)))
        .unwrap_or(("No Description".into(), false));
    render_page!(
        req,
        RecordingPage {
            share_link: format!("{}{}", settings.origin(), signer.link(&rec.id, time::now())),
            file_url: format!("/recordings/{}/file", rec.id),
            meeting_id: rec.meeting_id.clone(),
            link_days: signer.lifetime_secs / 86_400,
            shell: Shell::new(user, paths::RECORDINGS),
            recording: rec,
            title,
            is_owner,
        }
    )
}

#[derive(Debug, Default, Deserialize)]
pub struct FileQuery {
    download: Option<String>,
    exp: Option<i64>,
    sig: Option<String>,
}

fn serve_file(
    req: &HttpRequest,
    uploads: &Uploads,
    rec: &Recording,
    download: bool,
) -> Result<HttpResponse, AppError> {
    if rec.status != Status::Ready {
        return Err(AppError::Conflict(
            "This recording is still being made.".into(),
        ));
    }
    // A hosted provider's recording plays from the provider (after the same access checks).
    if let Some(url) = rec.url.as_deref().filter(|u| u.starts_with("https://")) {
        return Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, url))
            .insert_header((header::CACHE_CONTROL, "private, no-store"))
            .finish());
    }
    let file = NamedFile::open(uploads.files.path(&rec.id))
        .map_err(|_| AppError::NotFound("The recording's file is missing.".into()))?
        .set_content_type(
            rec.mime_type
                .parse()
                .unwrap_or(mime_guess::mime::APPLICATION_OCTET_STREAM),
        )
        .use_etag(true)
        .use_last_modified(true)
        .set_content_disposition(header::ContentDisposition {
            disposition: if download {
                header::DispositionType::Attachment
            } else {
                header::DispositionType::Inline
            },
            parameters: vec![header::DispositionParam::Filename(format!(
                "yoom-recording-{}.webm",
                &rec.id[..8]
            ))],
        });
    let mut res = file.into_response(req);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, no-cache"),
    );
    Ok(res)
}

/// `GET /recordings/{id}/file` (range requests supported, `?download=1` to save).
pub async fn file(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<String>,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, AppError> {
    let rec = viewable(&pool, &path, &user).await?;
    let rec = playable(&pool, &media, rec).await?;
    serve_file(&req, &uploads, &rec, query.download.is_some())
}

/// A hosted recording with a URL that still works (refreshed from the provider when old).
async fn playable(pool: &Pool, media: &Media, rec: Recording) -> Result<Recording, AppError> {
    hosted::fresh_url(pool, media, rec, time::now())
        .await?
        .ok_or_else(|| AppError::NotFound("This recording was deleted.".into()))
}

/// `POST /recordings/{id}/delete`: the meeting's owner removes a recording and its file.
pub async fn delete(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let rec = viewable(&pool, &path, &user).await?;
    let meeting = meetings::find(&pool, &rec.meeting_id).await?;
    if !meeting.is_some_and(|m| m.is_owner(&user.id)) {
        return Err(AppError::Forbidden(
            "Only the meeting's host can delete its recordings.".into(),
        ));
    }
    if rec.is_hosted() {
        hosted::delete(&pool, &media, &rec, time::now())
            .await
            .map_err(|e| match e {
                hosted::DeleteError::Db(e) => e.into(),
                hosted::DeleteError::NotHosted => AppError::Conflict(
                    "This recording is kept by a video service this server is not set up to \
                     use, so it cannot be deleted here."
                        .into(),
                ),
                hosted::DeleteError::Provider(e) => {
                    tracing::error!(recording = %rec.id, error = ?e, "Stream did not delete a recording");
                    AppError::Unavailable(
                        "The video service did not delete the recording. Please try again.".into(),
                    )
                }
            })?;
    } else {
        store::delete(&pool, &rec.id).await?;
        uploads.files.remove(&rec.id).await?;
    }
    tracing::info!(recording = %rec.id, "recording deleted");
    if htmx::is_htmx(req.headers()) {
        let mut res = HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body("");
        let trigger =
            serde_json::json!({ "toast": { "message": "Recording deleted" } }).to_string();
        if let Ok(v) = header::HeaderValue::from_str(&trigger) {
            res.headers_mut()
                .insert(header::HeaderName::from_static(htmx::HX_TRIGGER), v);
        }
        // Deleting from the recording's own page leaves nothing to show there.
        if req.headers().get("hx-target").is_none() {
            res.headers_mut().insert(
                header::HeaderName::from_static(htmx::HX_REDIRECT),
                header::HeaderValue::from_static(paths::RECORDINGS),
            );
        }
        Ok(res)
    } else {
        Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, paths::RECORDINGS))
            .finish())
    }
}

// ---- Share links (no account needed) -------------------------------------------------------

#[derive(Template)]
#[template(path = "pages/shared_recording.html")]
struct SharedPage {
    title: String,
    recording: Recording,
    file_url: String,
}

async fn shared(
    pool: &Pool,
    signer: &ShareSigner,
    raw: &str,
    query: &FileQuery,
) -> Result<Recording, AppError> {
    let id = uuid(raw, "recording")?;
    let (Some(exp), Some(sig)) = (query.exp, query.sig.as_deref()) else {
        return Err(AppError::Forbidden(
            "This link is not complete. Ask for the link again.".into(),
        ));
    };
    match signer.check(&id, exp, sig, time::now()) {
        Ok(()) => {}
        Err(LinkProblem::Expired) => {
            return Err(AppError::Gone(
                "This link has expired. Ask for a new one.".into(),
            ));
        }
        Err(LinkProblem::Invalid) => {
            return Err(AppError::Forbidden("This link is not valid.".into()));
        }
    }
    store::find(pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("This recording was deleted.".into()))
}

/// `GET /r/{id}?exp=…&sig=…`: a shared recording's player page.
pub async fn shared_page(
    pool: web::Data<Pool>,
    signer: web::Data<ShareSigner>,
    path: web::Path<String>,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, AppError> {
    let rec = shared(&pool, &signer, &path, &query).await?;
    let title = meetings::find(&pool, &rec.meeting_id)
        .await?
        .map(|m| m.title().to_owned())
        .unwrap_or_else(|| "Recording".into());
    let file_url = format!(
        "/r/{}/file?exp={}&sig={}",
        rec.id,
        query.exp.unwrap_or_default(),
        query.sig.as_deref().unwrap_or_default()
    );
    let mut res = super::html(
        SharedPage {
            title,
            recording: rec,
            file_url,
        }
        .render(),
    )?;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// `GET /r/{id}/file?exp=…&sig=…`
pub async fn shared_file(
    req: HttpRequest,
    pool: web::Data<Pool>,
    signer: web::Data<ShareSigner>,
    uploads: web::Data<Uploads>,
    media: web::Data<Media>,
    path: web::Path<String>,
    query: web::Query<FileQuery>,
) -> Result<HttpResponse, AppError> {
    let rec = shared(&pool, &signer, &path, &query).await?;
    let rec = playable(&pool, &media, rec).await?;
    serve_file(&req, &uploads, &rec, query.download.is_some())
}

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
