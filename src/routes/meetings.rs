//! Meeting actions: the three modals (instant, schedule, join), cancel, end, the calendar file
//! and the `/meeting/{id}` gate.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{Shell, paths};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::link::{LinkError, MeetingLink};
use crate::meetings::schedule::{self, ScheduleErrors};
use crate::meetings::{Meeting, MeetingKind, ics, personal, store};
use crate::time;
use crate::video::Media;
use crate::{htmx, render_block, render_page};

/// Public links to meetings, built from `BASE_URL`.
pub fn meeting_link(settings: &Settings, id: &str) -> String {
    format!("{}/meeting/{id}", settings.origin())
}

/// The invite link of a personal room.
pub fn personal_room_link(settings: &Settings, room_id: &str) -> String {
    format!("{}/meeting/{room_id}?personal=true", settings.origin())
}

/// An HTML answer with a status, for forms coming back with their messages.
fn html_with_status(
    status: StatusCode,
    rendered: askama::Result<String>,
) -> Result<HttpResponse, AppError> {
    let mut res = super::html(rendered)?;
    *res.status_mut() = status;
    Ok(res)
}

/// Sends the browser to `location`: `HX-Redirect` for htmx, 303 otherwise.
fn redirect(req: &HttpRequest, location: &str) -> HttpResponse {
    if htmx::is_htmx(req.headers()) {
        HttpResponse::Ok()
            .insert_header((htmx::HX_REDIRECT, location))
            .finish()
    } else {
        HttpResponse::SeeOther()
            .insert_header((header::LOCATION, location))
            .finish()
    }
}

/// Asks the page (through `HX-Trigger`) to show a toast.
fn add_toast(res: &mut HttpResponse, message: &str) {
    let value = serde_json::json!({ "toast": { "message": message } }).to_string();
    if let Ok(value) = header::HeaderValue::from_str(&value) {
        res.headers_mut()
            .insert(header::HeaderName::from_static(htmx::HX_TRIGGER), value);
    }
}

// ---- Instant meeting ------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "modals/instant.html", blocks = ["modal", "form"])]
struct InstantModal {
    shell: Shell,
    description: String,
    error: Option<String>,
}

/// `GET /meetings/instant`: the "Start an Instant Meeting" modal.
pub async fn instant_modal(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let modal = InstantModal {
        shell: Shell::new(user, paths::HOME),
        description: String::new(),
        error: None,
    };
    render_page!(req, modal, as_modal)
}

#[derive(Debug, Deserialize)]
pub struct InstantForm {
    #[serde(default)]
    description: String,
}

/// What a person is told when the media provider would not create the meeting's call.
const CREATE_FAILED: &str = "Failed to create Meeting: the video service could not be reached. \
     Please try again.";

/// Tells the media provider about a meeting just stored; if it refuses, the meeting is removed
/// again so no half-made meeting stays in the lists.
async fn announce_meeting(
    pool: &Pool,
    media: &Media,
    meeting: &Meeting,
    owner: &CurrentUser,
) -> Result<(), ()> {
    let Err(error) = media.meeting_created(meeting, owner).await else {
        return Ok(());
    };
    tracing::error!(meeting = %meeting.id, error = ?error, "the media provider refused the meeting; removing it");
    if let Err(e) = store::delete_unused(pool, &meeting.id).await {
        tracing::error!(meeting = %meeting.id, error = ?e, "Failed to remove the half-made meeting");
    }
    Err(())
}

/// `POST /meetings/instant`: creates a meeting that starts now and goes straight to it.
pub async fn create_instant(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    form: web::Form<InstantForm>,
) -> Result<HttpResponse, AppError> {
    let description = match schedule::clean_description(&form.description) {
        Ok(d) if d.is_empty() => "Instant Meeting".to_owned(),
        Ok(d) => d,
        Err(message) => {
            let modal = InstantModal {
                description: form.description.clone(),
                shell: Shell::new(user, paths::HOME),
                error: Some(message),
            };
            let rendered = render_block!(htmx::is_htmx(req.headers()), modal, as_form);
            return html_with_status(StatusCode::UNPROCESSABLE_ENTITY, rendered);
        }
    };
    let now = time::now();
    let meeting = store::create(
        &pool,
        &user.id,
        &description,
        MeetingKind::Instant,
        now,
        now,
    )
    .await?;
    if announce_meeting(&pool, &media, &meeting, &user)
        .await
        .is_err()
    {
        let is_htmx = htmx::is_htmx(req.headers());
        let modal = InstantModal {
            description: form.description.clone(),
            shell: Shell::new(user, paths::HOME),
            error: Some(CREATE_FAILED.into()),
        };
        let rendered = render_block!(is_htmx, modal, as_form);
        let mut res = html_with_status(StatusCode::SERVICE_UNAVAILABLE, rendered)?;
        if is_htmx {
            add_toast(&mut res, "Failed to create Meeting");
        }
        return Ok(res);
    }
    tracing::info!(meeting = %meeting.id, owner = %user.id, "instant meeting created");
    Ok(redirect(&req, &format!("/meeting/{}", meeting.id)))
}

// ---- Scheduled meeting ----------------------------------------------------------------------

#[derive(Template)]
#[template(path = "modals/schedule.html", blocks = ["modal", "form"])]
struct ScheduleModal {
    shell: Shell,
    description: String,
    when: String,
    errors: ScheduleErrors,
    /// A problem with the whole form rather than one field.
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "modals/scheduled.html", blocks = ["modal"])]
struct ScheduledModal {
    shell: Shell,
    meeting: Meeting,
    link: String,
}

/// `GET /meetings/schedule`: the "Create Meeting" modal, fresh every time.
pub async fn schedule_modal(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let modal = ScheduleModal {
        shell: Shell::new(user, paths::HOME),
        description: String::new(),
        when: String::new(),
        errors: ScheduleErrors::default(),
        error: None,
    };
    render_page!(req, modal, as_modal)
}

#[derive(Debug, Deserialize)]
pub struct ScheduleForm {
    #[serde(default)]
    description: String,
    #[serde(default)]
    starts_at: String,
    #[serde(default)]
    tz_offset: Option<String>,
}

/// `POST /meetings/schedule`: creates the meeting and shows "Meeting Created" with its link.
pub async fn schedule(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    media: web::Data<Media>,
    form: web::Form<ScheduleForm>,
) -> Result<HttpResponse, AppError> {
    let now = time::now();
    let description = schedule::clean_description(&form.description);
    let starts_at = schedule::parse_start(&form.starts_at, form.tz_offset.as_deref(), now);
    let (description, starts_at) = match (description, starts_at) {
        (Ok(d), Ok(s)) => (d, s),
        (d, s) => {
            let is_htmx = htmx::is_htmx(req.headers());
            let errors = ScheduleErrors {
                description: d.err(),
                when: s.err(),
            };
            let message = errors
                .when
                .clone()
                .or(errors.description.clone())
                .unwrap_or_default();
            let modal = ScheduleModal {
                shell: Shell::new(user, paths::HOME),
                description: form.description.clone(),
                when: form.starts_at.clone(),
                errors,
                error: None,
            };
            let rendered = render_block!(is_htmx, modal, as_form);
            let mut res = html_with_status(StatusCode::UNPROCESSABLE_ENTITY, rendered)?;
            if is_htmx {
                add_toast(&mut res, &message);
            }
            return Ok(res);
        }
    };
    let meeting = store::create(
        &pool,
        &user.id,
        &description,
        MeetingKind::Scheduled,
        starts_at,
        now,
    )
    .await?;
    if announce_meeting(&pool, &media, &meeting, &user)
        .await
        .is_err()
    {
        let is_htmx = htmx::is_htmx(req.headers());
        let modal = ScheduleModal {
            shell: Shell::new(user, paths::HOME),
            description: form.description.clone(),
            when: form.starts_at.clone(),
            errors: ScheduleErrors::default(),
            error: Some(CREATE_FAILED.into()),
        };
        let rendered = render_block!(is_htmx, modal, as_form);
        let mut res = html_with_status(StatusCode::SERVICE_UNAVAILABLE, rendered)?;
        if is_htmx {
            add_toast(&mut res, "Failed to create Meeting");
        }
        return Ok(res);
    }
    tracing::info!(meeting = %meeting.id, owner = %user.id, "meeting scheduled");
    let link = meeting_link(&settings, &meeting.id);
    let modal = ScheduledModal {
        shell: Shell::new(user, paths::HOME),
        meeting,
        link,
    };
    if htmx::is_htmx(req.headers()) {
        // The form asked to swap itself; the success view replaces the whole modal instead.
        let mut res = super::html(modal.as_modal().render())?;
        let headers = res.headers_mut();
        headers.insert(
            header::HeaderName::from_static(htmx::HX_RETARGET),
            header::HeaderValue::from_static("#modal"),
        );
        headers.insert(
            header::HeaderName::from_static(htmx::HX_RESWAP),
            header::HeaderValue::from_static("innerHTML"),
        );
        add_toast(&mut res, "Meeting Created");
        Ok(res)
    } else {
        html_with_status(StatusCode::CREATED, modal.render())
    }
}

// ---- Join -----------------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "modals/join.html", blocks = ["modal", "form"])]
struct JoinModal {
    shell: Shell,
    link: String,
    error: Option<String>,
}

/// `GET /meetings/join`: the "Type the link here" modal.
pub async fn join_modal(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let modal = JoinModal {
        shell: Shell::new(user, paths::HOME),
        link: String::new(),
        error: None,
    };
    render_page!(req, modal, as_modal)
}

#[derive(Debug, Deserialize)]
pub struct JoinForm {
    #[serde(default)]
    link: String,
}

/// `POST /meetings/join`: reads a link, path or ID and goes to that meeting.
pub async fn join(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    form: web::Form<JoinForm>,
) -> Result<HttpResponse, AppError> {
    let info = req.connection_info().clone();
    let own = format!("{}://{}", info.scheme(), info.host());
    let configured = settings.origin();
    let parsed = MeetingLink::parse(&form.link, &[configured.as_str(), own.as_str()]);
    let target = match parsed {
        Ok(MeetingLink::Meeting(id)) => match store::find(&pool, &id).await? {
            Some(m) => Ok(format!("/meeting/{}", m.id)),
            None => Err("No meeting has that ID. Check the link and try again.".to_string()),
        },
        Ok(MeetingLink::PersonalRoom(room)) => match personal::find(&pool, &room).await? {
            Some(r) => Ok(format!("/meeting/{}?personal=true", r.room_id)),
            None => Err("No meeting room has that ID. Check the number and try again.".to_string()),
        },
        Err(e @ (LinkError::Empty | LinkError::ForeignSite | LinkError::NotAMeeting)) => {
            Err(e.to_string())
        }
    };
    match target {
        Ok(location) => Ok(redirect(&req, &location)),
        Err(message) => {
            let modal = JoinModal {
                shell: Shell::new(user, paths::HOME),
                link: form.link.trim().to_owned(),
                error: Some(message),
            };
            let rendered = render_block!(htmx::is_htmx(req.headers()), modal, as_form);
            html_with_status(StatusCode::UNPROCESSABLE_ENTITY, rendered)
        }
    }
}

// ---- Cancel, end, calendar ------------------------------------------------------------------

fn meeting_id(raw: &str) -> Result<String, AppError> {
    uuid::Uuid::parse_str(raw)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| AppError::NotFound("No meeting has that ID.".into()))
}

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
    path: web::Path<String>,
) -> Result<HttpResponse, AppError> {
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
