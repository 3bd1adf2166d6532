//! `GET /api/token`: a Stream user token for the signed-in person's browser client.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::auth::CurrentUser;
use crate::errors::AppError;
use crate::video::Media;

/// Answers the API key, a one-hour token, who it is for and when it expires. Never cached:
/// it is personal and short-lived.
pub async fn token(user: CurrentUser, media: web::Data<Media>) -> Result<HttpResponse, AppError> {
    let grant = media.user_token(&user).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(grant))
}
