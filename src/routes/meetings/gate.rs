//! The `/meeting/{id}` gate: not found, cancelled, ended, not started yet, or the room.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use askama::Template;

use super::{announce_meeting, html_with_status, meeting_id, meeting_link, personal_room_link};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::htmx;
use crate::meetings::link::MeetingLink;
use crate::meetings::{Meeting, personal, store};
use crate::time;
use crate::video::Media;

// ---- The gate -------------------------------------------------------------------------------

/// What the `/meeting/{id}` page shows before any media.
enum GateState {
    NotFound,
    Cancelled,
    Ended,
    NotStarted,
    Room,
}

#[derive(Template)]
#[template(path = "pages/meeting.html")]
struct MeetingPage {
    user: CurrentUser,
    state: GateState,
    meeting: Option<Meeting>,
    is_owner: bool,
    link: String,
    /// The room is a personal room reached by its room ID.
    room_id: Option<String>,
    /// This person may record: the host, or anyone once the host allows it.
    can_record: bool,
    media: crate::video::ClientConfig,
}

impl MeetingPage {
    fn in_room(&self) -> bool {
        matches!(self.state, GateState::Room)
    }

    fn starts_iso(&self) -> String {
        self.meeting
            .as_ref()
            .map(|m| time::iso(m.starts_at))
            .unwrap_or_default()
    }
}

/// `GET /meeting/{id}`: a meeting by UUID, or a personal room by its room ID.
pub async fn meeting_page(
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    media: web::Data<Media>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let raw = path.into_inner();
    let now = time::now();
    let (meeting, room_id) = match MeetingLink::from_id(&raw) {
        Ok(MeetingLink::Meeting(id)) => (store::find(&pool, &id).await?, None),
        Ok(MeetingLink::PersonalRoom(room_id)) => match personal::find(&pool, &room_id).await? {
            Some(room) => {
                let owner = crate::auth::accounts::find_by_id(&pool, &room.account_id)
                    .await?
                    .ok_or_else(|| AppError::NotFound("No meeting room has that ID.".into()))?;
                let topic = format!("{}'s Meeting Room", owner.display_name);
                let (session, opened) = personal::open_session(&pool, &room, &topic).await?;
                if opened
                    && announce_meeting(&pool, &media, &session, &owner)
                        .await
                        .is_err()
                {
                    return Err(AppError::Unavailable(
                        "The video service could not be reached, so the meeting room could not \
                         be opened. Please try again."
                            .into(),
                    ));
                }
                (Some(session), Some(room.room_id))
            }
            None => (None, None),
        },
        Err(_) => (None, None),
    };
    let state = match &meeting {
        None => GateState::NotFound,
        Some(m) if m.cancelled_at.is_some() => GateState::Cancelled,
        Some(m) if m.ended_at.is_some() => GateState::Ended,
        Some(m) if !m.may_enter(&user.id, now, store::is_live(&pool, &m.id, now).await?) => {
            GateState::NotStarted
        }
        Some(_) => GateState::Room,
    };
    let status = match state {
        GateState::NotFound => StatusCode::NOT_FOUND,
        GateState::Cancelled | GateState::Ended => StatusCode::GONE,
        _ => StatusCode::OK,
    };
    let link = match (&room_id, &meeting) {
        (Some(room), _) => personal_room_link(&settings, room),
        (None, Some(m)) => meeting_link(&settings, &m.id),
        _ => String::new(),
    };
    let is_owner = meeting.as_ref().is_some_and(|m| m.is_owner(&user.id));
    let can_record = match &meeting {
        Some(m) if !is_owner => crate::recordings::store::is_allowed(&pool, &m.id).await?,
        _ => is_owner,
    };
    let page = MeetingPage {
        is_owner,
        can_record,
        media: media.client_config(),
        user,
        state,
        meeting,
        link,
        room_id,
    };
    let mut res = html_with_status(status, page.render())?;
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// `GET /meeting/{id}/ready`: polled by the "not started yet" page; 204 while waiting, a
/// refresh once the meeting may be entered (or is over, so the page can say so).
pub async fn ready(
    user: CurrentUser,
    pool: web::Data<Pool>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = meeting_id(&path)?;
    let meeting = store::find(&pool, &id)
        .await?
        .ok_or_else(|| AppError::NotFound("No meeting has that ID.".into()))?;
    let now = time::now();
    let over = meeting.ended_at.is_some() || meeting.cancelled_at.is_some();
    if over || meeting.may_enter(&user.id, now, store::is_live(&pool, &id, now).await?) {
        Ok(HttpResponse::Ok()
            .insert_header((htmx::HX_REFRESH, "true"))
            .finish())
    } else {
        Ok(HttpResponse::NoContent().finish())
    }
}
