//! HTTP routes: thin handlers over the domain modules. Paths live in [`paths`].

pub mod accounts;
pub mod health;
pub mod meetings;
pub mod pages;
pub mod recordings;
pub mod signal;
pub mod token;
pub mod webhooks;

use actix_web::HttpResponse;
use actix_web::http::header;

use crate::auth::CurrentUser;
use crate::errors::AppError;

pub use crate::paths;

/// One sidebar entry.
pub struct NavItem {
    pub label: &'static str,
    pub path: &'static str,
    pub icon: &'static str,
    pub active: bool,
}

const NAV: [(&str, &str, &str); 5] = [
    ("Home", paths::HOME, "icons/home.svg"),
    ("Upcoming", paths::UPCOMING, "icons/upcoming.svg"),
    ("Previous", paths::PREVIOUS, "icons/previous.svg"),
    ("Recordings", paths::RECORDINGS, "icons/recordings.svg"),
    (
        "Personal Room",
        paths::PERSONAL_ROOM,
        "icons/personal-room.svg",
    ),
];

/// What the app shell (navbar, sidebar, user menu) needs from every page.
pub struct Shell {
    pub user: CurrentUser,
    /// Path of the sidebar entry to highlight.
    pub active: &'static str,
}

impl Shell {
    pub fn new(user: CurrentUser, active: &'static str) -> Self {
        Self { user, active }
    }

    /// The sidebar, with the current page marked.
    pub fn nav(&self) -> Vec<NavItem> {
        NAV.iter()
            .map(|&(label, path, icon)| NavItem {
                label,
                path,
                icon,
                active: path == self.active,
            })
            .collect()
    }
}

/// An HTML response from a rendered template; varies on `HX-Request` because the same URL
/// answers htmx with a fragment and a browser with a page.
pub fn html(rendered: askama::Result<String>) -> Result<HttpResponse, AppError> {
    let body = rendered
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("Failed to render page")))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::VARY, "HX-Request"))
        .insert_header((header::CACHE_CONTROL, "no-cache, private"))
        .body(body))
}

/// Renders a page struct whole, or only one of its blocks for an htmx request: `content` by
/// default, or the block whose `as_…` method is named (`render_page!(req, modal, as_form)`).
#[macro_export]
macro_rules! render_page {
    ($req:expr, $page:expr) => {
        $crate::render_page!($req, $page, as_content)
    };
    ($req:expr, $page:expr, $block:ident) => {
        $crate::routes::html($crate::render_block!(
            $crate::htmx::is_htmx($req.headers()),
            $page,
            $block
        ))
    };
}

/// The rendered block (`as_…`) of a template when `partial` is true, the whole page otherwise.
#[macro_export]
macro_rules! render_block {
    ($partial:expr, $page:expr, $block:ident) => {{
        let page = &$page;
        if $partial {
            askama::Template::render(&page.$block())
        } else {
            askama::Template::render(page)
        }
    }};
}

/// The public sign-in, sign-up and sign-out routes of the identity mode.
pub fn configure_public(identity: &crate::auth::Identity, cfg: &mut actix_web::web::ServiceConfig) {
    use crate::auth::{Identity, clerk};
    use actix_web::web;
    match identity {
        Identity::Local => {
            cfg.route(paths::SIGN_IN, web::get().to(accounts::sign_in_page))
                .route(paths::SIGN_IN, web::post().to(accounts::sign_in))
                .route(paths::SIGN_UP, web::get().to(accounts::sign_up_page))
                .route(paths::SIGN_UP, web::post().to(accounts::sign_up))
                .route(paths::SIGN_OUT, web::post().to(accounts::sign_out));
        }
        Identity::Clerk(clerk) => {
            // The built-in account forms are not routed: Clerk owns sign-in and sign-up.
            cfg.app_data(web::Data::from(clerk.clone()))
                .route(paths::SIGN_IN, web::get().to(clerk::pages::sign_in_page))
                .route(paths::SIGN_UP, web::get().to(clerk::pages::sign_up_page))
                .route(paths::SIGN_OUT, web::post().to(clerk::pages::sign_out));
        }
    }
}

/// Routes that need a signed-in user (mounted behind `auth::require_user`).
pub fn configure_private(cfg: &mut actix_web::web::ServiceConfig) {
    use actix_web::web;
    cfg.route(paths::HOME, web::get().to(pages::home))
        .route(paths::UPCOMING, web::get().to(pages::upcoming))
        .route(paths::PREVIOUS, web::get().to(pages::previous))
        .route(paths::RECORDINGS, web::get().to(recordings::list))
        .route(paths::PERSONAL_ROOM, web::get().to(pages::personal_room))
        .route(paths::INSTANT, web::get().to(meetings::instant_modal))
        .route(paths::INSTANT, web::post().to(meetings::create_instant))
        .route(paths::SCHEDULE, web::get().to(meetings::schedule_modal))
        .route(paths::SCHEDULE, web::post().to(meetings::schedule))
        .route(paths::JOIN, web::get().to(meetings::join_modal))
        .route(paths::JOIN, web::post().to(meetings::join))
        .route(paths::MEETING, web::get().to(meetings::meeting_page))
        .route(paths::MEETING_READY, web::get().to(meetings::ready))
        .route(paths::MEETING_ENTER, web::post().to(meetings::enter))
        .route(paths::MEETING_CALENDAR, web::get().to(meetings::calendar))
        .route(paths::MEETING_CHAT, web::get().to(meetings::transcript))
        .route(
            paths::MEETING_CHAT_TEXT,
            web::get().to(meetings::transcript_text),
        )
        .route(paths::MEETING_CANCEL, web::post().to(meetings::cancel))
        .route(paths::MEETING_END, web::post().to(meetings::end))
        .route(paths::MEETING_SIGNAL, web::get().to(signal::signal))
        .route(
            "/meeting/{id}/recordings",
            web::post().to(recordings::start),
        )
        .route(
            "/meeting/{id}/recordings/stop",
            web::post().to(recordings::stop),
        )
        .route(
            "/meeting/{id}/recording-permission",
            web::post().to(recordings::permission),
        )
        // The body streams to disk; its size is checked as it arrives.
        .route(
            "/recordings/{id}/slices/{seq}",
            web::put().to(recordings::put_slice),
        )
        .route(
            "/recordings/{id}/finish",
            web::post().to(recordings::finish),
        )
        .route("/recordings/{id}", web::get().to(recordings::page))
        .route("/recordings/{id}/file", web::get().to(recordings::file))
        .route(
            "/recordings/{id}/delete",
            web::post().to(recordings::delete),
        )
        .route(
            "/recordings/{id}/share/revoke",
            web::post().to(recordings::revoke_share_links),
        )
        .route(paths::MEETING_PRESENCE, web::post().to(meetings::presence))
        .route(paths::API_TOKEN, web::get().to(token::token));
}
