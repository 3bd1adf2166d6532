//! A meeting's kept chat after the call: `GET /meeting/{id}/chat` (the transcript page) and
//! `GET /meeting/{id}/chat.txt` (the same as plain text, to download). For the meeting's host
//! and attendees only; to anyone else the meeting does not exist.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::meeting_id;
use crate::auth::CurrentUser;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::chat::{self, ChatMessage, Piece};
use crate::meetings::{Meeting, attendance, store};
use crate::routes::{Shell, paths};
use crate::{render_page, time};

/// One message as the page shows it.
pub struct Line {
    pub message: ChatMessage,
    pub at_iso: String,
    pub pieces: Vec<Piece>,
}

#[derive(Template)]
#[template(path = "pages/chat.html", blocks = ["content"])]
struct ChatPage {
    shell: Shell,
    meeting: Meeting,
    starts_iso: String,
    lines: Vec<Line>,
}

/// The meeting, if this person may read its chat (its host, or someone who attended).
async fn readable(pool: &Pool, raw: &str, user: &CurrentUser) -> Result<Meeting, AppError> {
    let not_found = || AppError::NotFound("No meeting has that ID.".into());
    let id = meeting_id(raw)?;
    let meeting = store::find(pool, &id).await?.ok_or_else(not_found)?;
    if meeting.is_owner(&user.id) || attendance::attended(pool, &id, &user.id).await? {
        Ok(meeting)
    } else {
        Err(not_found())
    }
}

/// `GET /meeting/{id}/chat`
pub async fn transcript(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let meeting = readable(&pool, &path, &user).await?;
    let lines = chat::history(&pool, &meeting.id)
        .await?
        .into_iter()
        .map(|message| Line {
            at_iso: time::iso(message.at),
            pieces: chat::pieces(&message.text),
            message,
        })
        .collect();
    render_page!(
        req,
        ChatPage {
            shell: Shell::new(user, paths::PREVIOUS),
            starts_iso: time::iso(meeting.starts_at),
            meeting,
            lines,
        }
    )
}

/// `GET /meeting/{id}/chat.txt`
pub async fn transcript_text(
    user: CurrentUser,
    pool: web::Data<Pool>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let meeting = readable(&pool, &path, &user).await?;
    let messages = chat::history(&pool, &meeting.id).await?;
    let day = chrono::DateTime::from_timestamp(meeting.starts_at, 0)
        .map(|t| t.format("%Y-%m-%d").to_string())
        .unwrap_or_default();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"yoom-chat-{day}.txt\""),
        ))
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .body(chat::transcript(meeting.title(), &messages)))
}
