//! The pages inside the app shell.

use actix_web::{HttpRequest, HttpResponse};
use askama::Template;

use super::{Shell, paths};
use crate::auth::CurrentUser;
use crate::errors::AppError;
use crate::render_page;

#[derive(Template)]
#[template(path = "pages/home.html", blocks = ["content"])]
struct HomePage {
    shell: Shell,
}

/// `GET /`
pub async fn home(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render_page!(
        req,
        HomePage {
            shell: Shell::new(user, paths::HOME),
        }
    )
}

#[derive(Template)]
#[template(path = "pages/list.html", blocks = ["content"])]
struct ListPage {
    shell: Shell,
    heading: &'static str,
    empty: &'static str,
}

/// `GET /upcoming`
pub async fn upcoming(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render_page!(
        req,
        ListPage {
            shell: Shell::new(user, paths::UPCOMING),
            heading: "Upcoming Meeting",
            empty: "No Upcoming Calls",
        }
    )
}

/// `GET /previous`
pub async fn previous(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render_page!(
        req,
        ListPage {
            shell: Shell::new(user, paths::PREVIOUS),
            heading: "Previous Calls",
            empty: "No Previous Calls",
        }
    )
}

/// `GET /recordings`
pub async fn recordings(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render_page!(
        req,
        ListPage {
            shell: Shell::new(user, paths::RECORDINGS),
            heading: "Recordings",
            empty: "No Recordings",
        }
    )
}

#[derive(Template)]
#[template(path = "pages/personal_room.html", blocks = ["content"])]
struct PersonalRoomPage {
    shell: Shell,
}

/// `GET /personal-room`
pub async fn personal_room(req: HttpRequest, user: CurrentUser) -> Result<HttpResponse, AppError> {
    render_page!(
        req,
        PersonalRoomPage {
            shell: Shell::new(user, paths::PERSONAL_ROOM),
        }
    )
}
