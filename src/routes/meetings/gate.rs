//! The `/meeting/{id}` gate: not found, cancelled, ended, not started yet, or the room.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

use super::{announce_meeting, html_with_status, meeting_id, meeting_link, personal_room_link};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::htmx;
use crate::limits::Limits;
use crate::meetings::link::MeetingLink;
use crate::meetings::{Meeting, attendance, personal, store};
use crate::rate_limit::describe_wait;
use crate::time;
use crate::video::Media;

// ---- The gate -------------------------------------------------------------------------------

/// What the `/meeting/{id}` page shows before any media.
enum GateState {
    /// No such meeting, or one that is over and was never this person's: the same answer,
    /// so the page tells nobody which IDs are real.
    NotFound,
    Cancelled,
    Ended,
    NotStarted,
    Room,
    /// Too many tries at IDs that were not meetings.
    TooManyTries(String),
}

#[derive(Template)]
#[template(path = "pages/meeting.html")]
struct MeetingPage {
    user: CurrentUser,
    state: GateState,
    meeting: Option<Meeting>,
    /// The meeting's ID; empty for a personal room with no session open yet (the page opens
    /// one with a POST when the person joins).
    meeting_id: String,
    title: String,
    is_owner: bool,
    /// The host's account ID: the meeting's owner, or the personal room's account. The media
    /// adapter takes the host from here (a hosted provider's call creator is not it).
    host_id: String,
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

/// What a meeting link leads to.
pub(super) enum Target {
    Meeting(Meeting),
    /// A personal room, with its session if one is open, and its owner's name.
    Room {
        room: personal::PersonalRoom,
        session: Option<Meeting>,
        owner: CurrentUser,
    },
    Nothing,
}

/// Where a meeting link leads, as this person may know it: a meeting that is over and was
/// never theirs (not its host, never in it) is the same as no meeting at all.
pub(super) async fn visible_target(
    pool: &Pool,
    raw: &str,
    user: &CurrentUser,
) -> Result<Target, AppError> {
    Ok(match target(pool, raw).await? {
        Target::Meeting(m)
            if (m.cancelled_at.is_some() || m.ended_at.is_some())
                && !m.is_owner(&user.id)
                && !attendance::attended(pool, &m.id, &user.id).await? =>
        {
            Target::Nothing
        }
        other => other,
    })
}

async fn target(pool: &Pool, raw: &str) -> Result<Target, AppError> {
    Ok(match MeetingLink::from_id(raw) {
        Ok(MeetingLink::Meeting(id)) => store::find(pool, &id)
            .await?
            .map_or(Target::Nothing, Target::Meeting),
        Ok(MeetingLink::PersonalRoom(room_id)) => match personal::find(pool, &room_id).await? {
            Some(room) => match crate::auth::accounts::find_by_id(pool, &room.account_id).await? {
                Some(owner) => {
                    let session = personal::current_session(pool, &room).await?;
                    Target::Room {
                        room,
                        session,
                        owner,
                    }
                }
                None => Target::Nothing,
            },
            None => Target::Nothing,
        },
        Err(_) => Target::Nothing,
    })
}

/// The title of a personal room.
fn room_topic(owner: &CurrentUser) -> String {
    format!("{}'s Meeting Room", owner.display_name)
}

/// `GET /meeting/{id}`: a meeting by UUID, or a personal room by its room ID. Looking changes
/// nothing: a personal room's session is opened by [`enter`] when someone joins.
pub async fn meeting_page(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    media: web::Data<Media>,
    limits: web::Data<Limits>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let raw = path.into_inner();
    let now = time::now();
    let target = match limits.join_try(&user.id, &req) {
        Err(wait) => Err(wait),
        Ok(counted) => {
            let target = visible_target(&pool, &raw, &user).await?;
            if !matches!(target, Target::Nothing) {
                counted.found();
            }
            Ok(target)
        }
    };
    let (state, meeting, title, room_id, is_owner, host_id) = match target {
        Err(wait) => (
            too_many_tries(wait),
            None,
            String::new(),
            None,
            false,
            String::new(),
        ),
        Ok(Target::Nothing) => (
            GateState::NotFound,
            None,
            String::new(),
            None,
            false,
            String::new(),
        ),
        Ok(Target::Room {
            room,
            session,
            owner,
        }) => {
            let is_owner = room.account_id == user.id;
            (
                GateState::Room,
                session,
                room_topic(&owner),
                Some(room.room_id),
                is_owner,
                room.account_id,
            )
        }
        Ok(Target::Meeting(m)) => {
            let is_owner = m.is_owner(&user.id);
            let state = if m.cancelled_at.is_some() {
                GateState::Cancelled
            } else if m.ended_at.is_some() {
                GateState::Ended
            } else if !m.may_enter(&user.id, now, store::is_live(&pool, &m.id, now).await?) {
                GateState::NotStarted
            } else {
                GateState::Room
            };
            let title = m.title().to_owned();
            let host_id = m.owner_id.clone();
            (state, Some(m), title, None, is_owner, host_id)
        }
    };
    let status = match state {
        GateState::NotFound => StatusCode::NOT_FOUND,
        GateState::Cancelled | GateState::Ended => StatusCode::GONE,
        GateState::TooManyTries(_) => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::OK,
    };
    let link = match (&room_id, &meeting) {
        (Some(room), _) => personal_room_link(&settings, room),
        (None, Some(m)) => meeting_link(&settings, &m.id),
        _ => String::new(),
    };
    let can_record = match &meeting {
        Some(m) if !is_owner => crate::recordings::store::is_allowed(&pool, &m.id).await?,
        _ => is_owner,
    };
    let page = MeetingPage {
        is_owner,
        host_id,
        can_record,
        media: media.client_config(),
        user,
        state,
        meeting_id: meeting.as_ref().map(|m| m.id.clone()).unwrap_or_default(),
        meeting,
        title,
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

fn too_many_tries(wait: std::time::Duration) -> GateState {
    GateState::TooManyTries(format!(
        "Too many tries at meeting links that did not work. Please wait {} and try again.",
        describe_wait(wait)
    ))
}

/// `POST /meeting/{room}/enter`: someone joins a personal room; its session is opened now if
/// none is (and the hosted provider told of it). Answers the session's meeting ID.
pub async fn enter(
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    limits: web::Data<Limits>,
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let not_found = || AppError::NotFound("No meeting room has that ID.".into());
    let Ok(MeetingLink::PersonalRoom(room_id)) = MeetingLink::from_id(&path) else {
        return Err(not_found());
    };
    let room = personal::find(&pool, &room_id)
        .await?
        .ok_or_else(not_found)?;
    let owner = crate::auth::accounts::find_by_id(&pool, &room.account_id)
        .await?
        .ok_or_else(not_found)?;
    let session = match personal::current_session(&pool, &room).await? {
        Some(session) => session,
        None => {
            // A new session is a new meeting (and a call at the provider): counted like one.
            limits
                .meetings_created
                .try_hit(&user.id)
                .map_err(super::too_many_meetings)?;
            let (session, opened) =
                personal::open_session(&pool, &room, &room_topic(&owner)).await?;
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
            session
        }
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({ "meetingId": session.id })))
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
