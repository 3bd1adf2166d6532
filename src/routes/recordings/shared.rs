//! Share links: a recording played without an account while its signed link is valid.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::uuid;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store as meetings;
use crate::recordings::share::{LinkProblem, ShareSigner};
use crate::recordings::upload::Uploads;
use crate::recordings::{Recording, store};
use crate::time;
use crate::video::Media;

use super::pages::{FileQuery, playable, serve_file};

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
    // The link is checked against the recording's current share version, so a link from
    // before the host stopped sharing no longer verifies.
    let Some(rec) = store::find(pool, &id).await? else {
        return Err(AppError::NotFound(
            "This link does not play: the recording was deleted.".into(),
        ));
    };
    match signer.check(&id, rec.share_version, exp, sig, time::now()) {
        Ok(()) => Ok(rec),
        Err(LinkProblem::Expired) => Err(AppError::Gone(
            "This link has expired. Ask for a new one.".into(),
        )),
        Err(LinkProblem::Invalid) => Err(AppError::Forbidden(
            "This link does not play: it is not complete, or the host stopped sharing this \
             recording. Ask for a new one."
                .into(),
        )),
    }
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
    let mut res = crate::routes::html(
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
