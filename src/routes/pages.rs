//! The pages inside the app shell: Home, the meeting lists, Recordings and the personal room.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::meetings::{meeting_link, personal_room_link};
use super::{Shell, paths};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::store::{self, Cursor};
use crate::meetings::{ListedMeeting, Meeting, PAGE_SIZE, personal};
use crate::{htmx, render_page, time};

#[derive(Template)]
#[template(path = "pages/home.html", blocks = ["content"])]
struct HomePage {
    shell: Shell,
    next: Option<Meeting>,
    now_iso: String,
}

/// `GET /`
pub async fn home(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
) -> Result<HttpResponse, AppError> {
    let now = time::now();
    let next = store::next_upcoming(&pool, &user.id, now).await?;
    render_page!(
        req,
        HomePage {
            shell: Shell::new(user, paths::HOME),
            next,
            now_iso: time::iso(now),
        }
    )
}

/// Which list a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListKind {
    Upcoming,
    Previous,
}

/// A meeting card, ready for the template.
pub struct Card {
    pub listed: ListedMeeting,
    pub link: String,
    pub is_owner: bool,
    pub starts_iso: String,
    /// Messages in the meeting's kept chat (counted for Previous only).
    pub chat_messages: i64,
}

impl Card {
    pub fn title(&self) -> &str {
        self.listed.meeting.title()
    }

    /// Avatars shown on the card; the rest are counted in "+N".
    pub fn shown_attendees(&self) -> &[crate::meetings::Person] {
        let all = &self.listed.attendees;
        &all[..all.len().min(4)]
    }

    pub fn more_attendees(&self) -> usize {
        self.listed.attendees.len().saturating_sub(4)
    }

    /// What the row of avatars says to a screen reader: who attended, by name.
    pub fn attendees_label(&self) -> String {
        let names: Vec<&str> = self
            .shown_attendees()
            .iter()
            .map(|p| p.display_name.as_str())
            .collect();
        match (names.len(), self.more_attendees()) {
            (0, _) => "No one has joined yet".into(),
            (_, 0) => format!("Attended by {}", names.join(", ")),
            (_, more) => format!("Attended by {} and {more} more", names.join(", ")),
        }
    }
}

#[derive(Template)]
#[template(path = "pages/meetings.html", blocks = ["content", "cards"])]
struct MeetingsPage {
    shell: Shell,
    kind: ListKind,
    heading: &'static str,
    empty: &'static str,
    cards: Vec<Card>,
    next: Option<String>,
    list_path: &'static str,
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    cursor: Option<String>,
}

async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    pool: &Pool,
    settings: &Settings,
    query: ListQuery,
    kind: ListKind,
) -> Result<HttpResponse, AppError> {
    let now = time::now();
    let cursor =
        match query.cursor.as_deref() {
            None | Some("") => None,
            Some(raw) => Some(Cursor::parse(raw).ok_or_else(|| {
                AppError::BadRequest("That page of the list does not exist.".into())
            })?),
        };
    let page = match kind {
        ListKind::Upcoming => {
            store::upcoming(pool, &user.id, now, cursor.as_ref(), PAGE_SIZE).await?
        }
        ListKind::Previous => {
            store::previous(pool, &user.id, now, cursor.as_ref(), PAGE_SIZE).await?
        }
    };
    let chat_counts = if kind == ListKind::Previous {
        let ids: Vec<&str> = page
            .meetings
            .iter()
            .map(|m| m.meeting.id.as_str())
            .collect();
        crate::meetings::chat::counts(pool, &ids).await?
    } else {
        Default::default()
    };
    let cards = page
        .meetings
        .into_iter()
        .map(|listed| Card {
            link: meeting_link(settings, &listed.meeting.id),
            is_owner: listed.meeting.is_owner(&user.id),
            starts_iso: time::iso(listed.meeting.starts_at),
            chat_messages: chat_counts.get(&listed.meeting.id).copied().unwrap_or(0),
            listed,
        })
        .collect();
    let (heading, empty, list_path, active) = match kind {
        ListKind::Upcoming => (
            "Upcoming Meeting",
            "No Upcoming Calls",
            paths::UPCOMING,
            paths::UPCOMING,
        ),
        ListKind::Previous => (
            "Previous Calls",
            "No Previous Calls",
            paths::PREVIOUS,
            paths::PREVIOUS,
        ),
    };
    let page = MeetingsPage {
        shell: Shell::new(user, active),
        kind,
        heading,
        empty,
        cards,
        next: page.next.map(|c| c.encode()),
        list_path,
    };
    if cursor.is_some() && htmx::is_htmx(req.headers()) {
        // "Load more": the next cards and the next button, appended where the button was.
        return super::html(page.as_cards().render());
    }
    render_page!(req, page)
}

/// `GET /upcoming`
pub async fn upcoming(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    list_page(
        req,
        user,
        &pool,
        &settings,
        query.into_inner(),
        ListKind::Upcoming,
    )
    .await
}

/// `GET /previous`
pub async fn previous(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    list_page(
        req,
        user,
        &pool,
        &settings,
        query.into_inner(),
        ListKind::Previous,
    )
    .await
}

#[derive(Template)]
#[template(path = "pages/personal_room.html", blocks = ["content"])]
struct PersonalRoomPage {
    shell: Shell,
    topic: String,
    room_id: String,
    invite_link: String,
    start_path: String,
}

/// `GET /personal-room`
pub async fn personal_room(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
) -> Result<HttpResponse, AppError> {
    let room = personal::get_or_create(&pool, &user.id).await?;
    render_page!(
        req,
        PersonalRoomPage {
            topic: format!("{}'s Meeting Room", user.display_name),
            invite_link: personal_room_link(&settings, &room.room_id),
            start_path: format!("/meeting/{}?personal=true", room.room_id),
            room_id: room.room_id,
            shell: Shell::new(user, paths::PERSONAL_ROOM),
        }
    )
}
