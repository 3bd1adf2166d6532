//! The Join modal: a link, a path or an ID, read and followed.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::{html_with_status, redirect};
use crate::auth::CurrentUser;
use crate::config::Settings;
use crate::db::Pool;
use crate::errors::AppError;
use crate::meetings::link::{LinkError, MeetingLink};
use crate::meetings::{personal, store};
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
