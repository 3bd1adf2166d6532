//! The Join modal: a link, a path or an ID, read and followed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::gate::{Target, visible_target};
use super::{html_with_status, redirect};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::limits::Limits;
use crate::meetings::link::{LinkError, MeetingLink};
use crate::rate_limit::describe_wait;
use crate::routes::{Shell, paths};
use crate::{htmx, render_block, render_page};

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

/// What the Join form says for a link or ID that leads nowhere this person may go: the same
/// for IDs that never existed and for meetings that are over and were never theirs.
const NO_SUCH_MEETING: &str = "No meeting has that link or ID. Check it and try again.";

/// `POST /meetings/join`: reads a link, path or ID and goes to that meeting. Every try counts
/// against the person's and their address's limit until it finds a meeting, whatever the
/// input was, so room IDs cannot be guessed by trying many.
pub async fn join(
    req: HttpRequest,
    user: CurrentUser,
    pool: web::Data<Pool>,
    settings: web::Data<Settings>,
    limits: web::Data<Limits>,
    form: web::Form<JoinForm>,
) -> Result<HttpResponse, AppError> {
    let (status, target) = match limits.join_try(&user.id, &req).await? {
        Err(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            Err(format!(
                "Too many tries at meeting links that did not work. Please wait {} and try again.",
                describe_wait(wait)
            )),
        ),
        Ok(counted) => {
            let found = find(&req, &pool, &settings, &user, &form.link).await?;
            if found.is_ok() {
                counted.found().await;
            }
            (StatusCode::UNPROCESSABLE_ENTITY, found)
        }
    };
    match target {
        Ok(location) => Ok(redirect(&req, &location)),
        Err(message) => {
            tracing::info!(user = %user.id, "join form: no meeting found");
            let modal = JoinModal {
                shell: Shell::new(user, paths::HOME),
                link: form.link.trim().to_owned(),
                error: Some(message),
            };
            let rendered = render_block!(htmx::is_htmx(req.headers()), modal, as_form);
            html_with_status(status, rendered)
        }
    }
}

/// The page a link leads to, or what to tell the person.
async fn find(
    req: &HttpRequest,
    pool: &Pool,
    settings: &Settings,
    user: &CurrentUser,
    link: &str,
) -> Result<Result<String, String>, AppError> {
    let info = req.connection_info().clone();
    let own = format!("{}://{}", info.scheme(), info.host());
    let configured = settings.origin();
    let parsed = match MeetingLink::parse(link, &[configured.as_str(), own.as_str()]) {
        Ok(parsed) => parsed,
        Err(e @ (LinkError::Empty | LinkError::ForeignSite | LinkError::NotAMeeting)) => {
            return Ok(Err(e.to_string()));
        }
    };
    let raw = match &parsed {
        MeetingLink::Meeting(id) | MeetingLink::PersonalRoom(id) => id.as_str(),
    };
    Ok(match visible_target(pool, raw, user).await? {
        Target::Meeting(m) => Ok(format!("/meeting/{}", m.id)),
        Target::Room { room, .. } => Ok(format!("/meeting/{}?personal=true", room.room_id)),
        Target::Nothing => Err(NO_SUCH_MEETING.to_owned()),
    })
}
