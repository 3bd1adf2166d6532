//! `GET /api/token?meeting={id}`: a Stream token for the signed-in person's browser client,
//! good for that one meeting's call, and only once they were let into it (its host, or let in
//! by the host or by an open door, as the meeting's room decided).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::auth::CurrentUser;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::access;
use crate::video::Media;

#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    meeting: Option<String>,
}

/// Answers the API key, a one-hour call token, who it is for and when it expires. Never
/// cached: it is personal and short-lived.
pub async fn token(
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    if media.stream().is_none() {
        return Err(crate::video::MediaError::NotHosted.into());
    }
    let raw = query.meeting.as_deref().unwrap_or_default();
    let meeting_id = uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| {
            AppError::BadRequest("Say which meeting the token is for (?meeting=…).".into())
        })?;
    let (over, admitted) = access::call_standing(&pool, &meeting_id, &user.id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    if over {
        return Err(AppError::Gone("This meeting is over.".into()));
    }
    if !admitted {
        tracing::info!(meeting = %meeting_id, user = %user.id, "call token refused: not let in");
        return Err(AppError::Forbidden(
            "You have not been let into this meeting.".into(),
        ));
    }
    let grant = media.call_token(&user, &meeting_id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(grant))
}
