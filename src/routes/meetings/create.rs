//! Creating meetings: the instant and schedule modals and their forms.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{
    CREATE_FAILED, add_toast, announce_meeting, html_with_status, meeting_link, redirect,
    too_many_meetings_message,
};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::limits::Limits;
use crate::meetings::schedule::{self, ScheduleErrors};
use crate::meetings::{Meeting, MeetingKind, store};
use crate::routes::{Shell, paths};
use crate::time;
use crate::video::Media;
use crate::{htmx, render_block, render_page};

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

/// `POST /meetings/instant`: creates a meeting that starts now and goes straight to it.
pub async fn create_instant(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    media: web::Data<Media>,
    limits: web::Data<Limits>,
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
    if let Err(wait) = limits.meetings_created.try_hit(&user.id) {
        let modal = InstantModal {
            description: form.description.clone(),
            shell: Shell::new(user, paths::HOME),
            error: Some(too_many_meetings_message(wait)),
        };
        let rendered = render_block!(htmx::is_htmx(req.headers()), modal, as_form);
        return html_with_status(StatusCode::TOO_MANY_REQUESTS, rendered);
    }
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
    /// The "Waiting room" box is ticked.
    waiting_room: bool,
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
        // A scheduled meeting's link travels: by default, nobody gets in unseen.
        waiting_room: true,
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
    /// A ticked "Waiting room" box sends `on`; an unticked one sends nothing.
    #[serde(default)]
    waiting_room: Option<String>,
}

impl ScheduleForm {
    fn waiting_room(&self) -> bool {
        self.waiting_room.is_some()
    }
}

impl ScheduleModal {
    /// The form again, as it was sent, with what went wrong.
    fn again(
        user: CurrentUser,
        form: &ScheduleForm,
        errors: ScheduleErrors,
        error: Option<String>,
    ) -> Self {
        Self {
            shell: Shell::new(user, paths::HOME),
            description: form.description.clone(),
            when: form.starts_at.clone(),
            waiting_room: form.waiting_room(),
            errors,
            error,
        }
    }
}

/// `POST /meetings/schedule`: creates the meeting and shows "Meeting Created" with its link.
pub async fn schedule(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    media: web::Data<Media>,
    limits: web::Data<Limits>,
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
            let modal = ScheduleModal::again(user, &form, errors, None);
            let rendered = render_block!(is_htmx, modal, as_form);
            let mut res = html_with_status(StatusCode::UNPROCESSABLE_ENTITY, rendered)?;
            if is_htmx {
                add_toast(&mut res, &message);
            }
            return Ok(res);
        }
    };
    if let Err(wait) = limits.meetings_created.try_hit(&user.id) {
        let is_htmx = htmx::is_htmx(req.headers());
        let message = too_many_meetings_message(wait);
        let modal = ScheduleModal::again(
            user,
            &form,
            ScheduleErrors::default(),
            Some(message.clone()),
        );
        let rendered = render_block!(is_htmx, modal, as_form);
        let mut res = html_with_status(StatusCode::TOO_MANY_REQUESTS, rendered)?;
        if is_htmx {
            add_toast(&mut res, &message);
        }
        return Ok(res);
    }
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
        let modal = ScheduleModal::again(
            user,
            &form,
            ScheduleErrors::default(),
            Some(CREATE_FAILED.into()),
        );
        let rendered = render_block!(is_htmx, modal, as_form);
        let mut res = html_with_status(StatusCode::SERVICE_UNAVAILABLE, rendered)?;
        if is_htmx {
            add_toast(&mut res, "Failed to create Meeting");
        }
        return Ok(res);
    }
    crate::meetings::access::save_settings(&pool, &meeting.id, form.waiting_room(), false, now)
        .await?;
    tracing::info!(meeting = %meeting.id, owner = %user.id, waiting_room = form.waiting_room(), "meeting scheduled");
    let link = meeting_link(&settings, &meeting.id);
    let modal = ScheduledModal {
        shell: Shell::new(user, paths::HOME),
        meeting,
        link,
    };
    if htmx::is_htmx(req.headers()) {
        // The form asked to swap itself; the success view replaces the whole modal instead.
        let mut res = crate::routes::html(modal.as_modal().render())?;
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
