//! The Recordings list, a recording's page, its file (range requests), and delete.

use actix_files::NamedFile;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::uuid;
use crate::auth::CurrentUser;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store as meetings;
use crate::meetings::store::Cursor;
use crate::recordings::hosted::{self, Freshness};
use crate::recordings::share::ShareSigner;
use crate::recordings::upload::Uploads;
use crate::recordings::{Recording, Status, store};
use crate::routes::{Shell, paths};
use crate::video::Media;
use crate::{htmx, render_page, time};

// ---- Pages ----------------------------------------------------------------------------------

/// A recording card.
pub struct RecordingCard {
    pub recording: Recording,
    pub title: String,
    pub is_owner: bool,
    /// The link that plays without an account: the host's to hand out, nobody else's.
    pub share_link: Option<String>,
}

#[derive(Template)]
#[template(path = "pages/recordings.html", blocks = ["content", "cards"])]
struct RecordingsPage {
    shell: Shell,
    cards: Vec<RecordingCard>,
    next: Option<String>,
    /// Stream did not list every recent meeting's recordings in time.
    partial: bool,
    /// This person asked for fresh listings often lately: these are the stored ones.
    limited: bool,
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
    signer: web::Data<ShareSigner>,
    media: web::Data<Media>,
    limits: web::Data<crate::limits::Limits>,
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
    // Each refresh asks the provider about up to 50 meetings: a person reloading in a loop
    // would spend the whole app's quota, so beyond a few a while they see what is stored.
    let limited = cursor.is_none()
        && media.stream().is_some()
        && limits.recording_listings.try_hit(&user.id).await?.is_err();
    let freshness = if cursor.is_some() || limited {
        Freshness::Complete
    } else {
        hosted::refresh_for(&pool, &media, &user.id, now).await?
    };
    if limited {
        tracing::info!(user = %user.id, "recordings listing limit reached; showing stored ones");
    }
    let (listed, next) =
        store::list_for(&pool, &user.id, cursor.as_ref(), crate::meetings::PAGE_SIZE).await?;
    let cards = listed
        .into_iter()
        .map(|l| {
            let is_owner = l.owner_id == user.id;
            RecordingCard {
                // Only the host hands out links that play without an account.
                share_link: is_owner
                    .then(|| signer.url(&l.recording.id, l.recording.share_version, now)),
                is_owner,
                title: l.title,
                recording: l.recording,
            }
        })
        .collect();
    let page = RecordingsPage {
        shell: Shell::new(user, paths::RECORDINGS),
        cards,
        next: next.map(|c| c.encode()),
        partial: freshness == Freshness::Partial,
        limited,
        hosted: media.stream().is_some(),
    };
    if cursor.is_some() && htmx::is_htmx(req.headers()) {
        return crate::routes::html(page.as_cards().render());
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
    share_link: Option<String>,
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
            share_link: is_owner.then(|| signer.url(&rec.id, rec.share_version, time::now())),
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
    pub(super) download: Option<String>,
    pub(super) exp: Option<i64>,
    pub(super) sig: Option<String>,
}

pub(super) fn serve_file(
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
pub(super) async fn playable(
    pool: &Pool,
    media: &Media,
    rec: Recording,
) -> Result<Recording, AppError> {
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
        uploads.delete(&rec.id).await?;
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

/// `POST /recordings/{id}/share/revoke`: the host stops sharing: every link handed out so far
/// stops playing (a new one can be copied afterwards).
pub async fn revoke_share_links(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let rec = viewable(&pool, &path, &user).await?;
    let meeting = meetings::find(&pool, &rec.meeting_id).await?;
    if !meeting.is_some_and(|m| m.is_owner(&user.id)) {
        return Err(AppError::Forbidden(
            "Only the meeting's host can stop sharing its recordings.".into(),
        ));
    }
    store::revoke_share_links(&pool, &rec.id).await?;
    tracing::info!(recording = %rec.id, "share links revoked");
    let page = format!("/recordings/{}", rec.id);
    if htmx::is_htmx(req.headers()) {
        let mut res = HttpResponse::Ok().finish();
        let trigger =
            serde_json::json!({ "toast": { "message": "Links shared so far no longer play" } })
                .to_string();
        if let Ok(v) = header::HeaderValue::from_str(&trigger) {
            res.headers_mut()
                .insert(header::HeaderName::from_static(htmx::HX_TRIGGER), v);
        }
        res.headers_mut().insert(
            header::HeaderName::from_static(htmx::HX_REFRESH),
            header::HeaderValue::from_static("true"),
        );
        Ok(res)
    } else {
        Ok(HttpResponse::SeeOther()
            .insert_header((header::LOCATION, page))
            .finish())
    }
}
