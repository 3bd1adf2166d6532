//! Built-in accounts: sign-up, sign-in and sign-out pages and their forms.
//!
//! Forms post with htmx and get the form back in place (status 422/429) with the message, or
//! an `HX-Redirect` on success. Without JavaScript the same handlers answer with whole pages
//! and a 303, so nothing depends on the script loading.

use actix_session::Session;
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::auth::local::{self, AuthLimits};
use crate::auth::{accounts, password, redirect};
use crate::db::Pool;
use crate::errors::AppError;
use crate::htmx;
use crate::paths;
use crate::rate_limit::{ClientAddress, describe_wait};

/// Longest accepted password: argon2 cost grows with input, and no one types more.
const MAX_PASSWORD: usize = 256;
const MIN_PASSWORD: usize = 8;
const MAX_USERNAME: usize = 32;
const MIN_USERNAME: usize = 3;
const MAX_DISPLAY_NAME: usize = 64;

#[derive(Debug, Default, Deserialize)]
pub struct ReturnTo {
    redirect_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    redirect_url: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct SignUpForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm_password: String,
    #[serde(default)]
    redirect_url: Option<String>,
}

#[derive(Template)]
#[template(path = "auth/sign_in.html", blocks = ["form"])]
struct SignInPage<'a> {
    username: &'a str,
    redirect_url: &'a str,
    error: Option<String>,
}

#[derive(Debug, Default)]
struct SignUpErrors {
    general: Option<String>,
    username: Option<String>,
    display_name: Option<String>,
    password: Option<String>,
    confirm_password: Option<String>,
}

impl SignUpErrors {
    fn is_empty(&self) -> bool {
        self.general.is_none()
            && self.username.is_none()
            && self.display_name.is_none()
            && self.password.is_none()
            && self.confirm_password.is_none()
    }
}

#[derive(Template)]
#[template(path = "auth/sign_up.html", blocks = ["form"])]
struct SignUpPage<'a> {
    username: &'a str,
    display_name: &'a str,
    redirect_url: &'a str,
    errors: SignUpErrors,
}

fn own_origin(req: &HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

fn return_path(req: &HttpRequest, raw: Option<&str>) -> String {
    redirect::safe_return_path(raw, Some(&own_origin(req)))
}

/// Renders a form page, or just its form for htmx, with a status.
fn form_response(
    req: &HttpRequest,
    status: StatusCode,
    full: impl FnOnce() -> askama::Result<String>,
    form: impl FnOnce() -> askama::Result<String>,
) -> Result<HttpResponse, AppError> {
    let body = if htmx::is_htmx(req.headers()) {
        form()
    } else {
        full()
    }
    .map_err(|e| AppError::Internal(anyhow::Error::new(e).context("Failed to render form")))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::VARY, "HX-Request"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// Sends the browser on after a successful sign-in or sign-up.
fn go_to(req: &HttpRequest, location: &str) -> HttpResponse {
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

async fn signed_in(session: &Session, pool: &Pool) -> bool {
    matches!(local::session_user(session, pool).await, Ok(Some(_)))
}

/// `GET /sign-in`
pub async fn sign_in_page(
    req: HttpRequest,
    session: Session,
    pool: web::Data<Pool>,
    query: web::Query<ReturnTo>,
) -> Result<HttpResponse, AppError> {
    let target = return_path(&req, query.redirect_url.as_deref());
    if signed_in(&session, &pool).await {
        return Ok(go_to(&req, &target));
    }
    let page = SignInPage {
        username: "",
        redirect_url: &target,
        error: None,
    };
    form_response(
        &req,
        StatusCode::OK,
        || page.render(),
        || page.as_form().render(),
    )
}

/// `POST /sign-in`
pub async fn sign_in(
    req: HttpRequest,
    session: Session,
    pool: web::Data<Pool>,
    limits: web::Data<AuthLimits>,
    address: web::Data<ClientAddress>,
    form: web::Form<SignInForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let target = return_path(&req, form.redirect_url.as_deref());
    let username = form.username.trim().to_owned();
    let refuse = |status: StatusCode, message: String| {
        let page = SignInPage {
            username: &username,
            redirect_url: &target,
            error: Some(message),
        };
        form_response(&req, status, || page.render(), || page.as_form().render())
    };

    if username.is_empty() || form.password.is_empty() {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Enter your username and password.".into(),
        );
    }
    if username.chars().count() > MAX_USERNAME || form.password.len() > MAX_PASSWORD {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That username or password is not right.".into(),
        );
    }

    // Counted before the password is checked (and given back on success): counting after
    // would let many requests in parallel all pass the check while their hashes run.
    let address_key = address.of(&req);
    let username_key = username.to_lowercase();
    let mut counted = limits.attempts_per_address.try_hit(&address_key).await?;
    if counted.is_ok() {
        counted = limits.attempts_per_username.try_hit(&username_key).await?;
        if counted.is_err() {
            limits.attempts_per_address.undo(&address_key).await;
        }
    }
    if let Err(wait) = counted {
        tracing::warn!(address = %address_key, "sign-in rate limit reached");
        return refuse(
            StatusCode::TOO_MANY_REQUESTS,
            format!(
                "Too many sign-in attempts. Please wait {} and try again.",
                describe_wait(wait)
            ),
        );
    }

    let found = accounts::find_for_sign_in(&pool, &username).await?;
    let (user, hash) = match found {
        Some((user, hash)) => (Some(user), hash),
        None => (None, None),
    };
    let ok = password::verify(form.password, hash).await?;
    let Some(user) = user.filter(|_| ok) else {
        return refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "That username or password is not right.".into(),
        );
    };
    // The account's own counter starts afresh; the address keeps its other attempts (so one
    // account an attacker owns cannot be used to clear the address's count).
    limits.attempts_per_username.reset(&username_key).await;
    limits.attempts_per_address.undo(&address_key).await;
    local::start_session(&session, &pool, &user).await?;
    tracing::info!(user = %user.id, "signed in");
    Ok(go_to(&req, &target))
}

/// `GET /sign-up`
pub async fn sign_up_page(
    req: HttpRequest,
    session: Session,
    pool: web::Data<Pool>,
    query: web::Query<ReturnTo>,
) -> Result<HttpResponse, AppError> {
    let target = return_path(&req, query.redirect_url.as_deref());
    if signed_in(&session, &pool).await {
        return Ok(go_to(&req, &target));
    }
    let page = SignUpPage {
        username: "",
        display_name: "",
        redirect_url: &target,
        errors: SignUpErrors::default(),
    };
    form_response(
        &req,
        StatusCode::OK,
        || page.render(),
        || page.as_form().render(),
    )
}

fn validate_sign_up(form: &SignUpForm, username: &str, display_name: &str) -> SignUpErrors {
    let mut errors = SignUpErrors::default();
    let name_len = username.chars().count();
    if username.is_empty() {
        errors.username = Some("Choose a username.".into());
    } else if !(MIN_USERNAME..=MAX_USERNAME).contains(&name_len) {
        errors.username = Some(format!(
            "A username has {MIN_USERNAME} to {MAX_USERNAME} characters."
        ));
    } else if !username
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
    {
        errors.username = Some("Use only letters, digits, dots, dashes and underscores.".into());
    }
    if display_name.is_empty() {
        errors.display_name = Some("Enter the name people will see.".into());
    } else if display_name.chars().count() > MAX_DISPLAY_NAME {
        errors.display_name = Some(format!(
            "A display name has at most {MAX_DISPLAY_NAME} characters."
        ));
    } else if display_name.chars().any(char::is_control) {
        errors.display_name = Some("A display name cannot contain control characters.".into());
    }
    let pw_len = form.password.chars().count();
    if form.password.is_empty() {
        errors.password = Some("Choose a password.".into());
    } else if pw_len < MIN_PASSWORD {
        errors.password = Some(format!(
            "A password needs at least {MIN_PASSWORD} characters."
        ));
    } else if form.password.len() > MAX_PASSWORD {
        errors.password = Some(format!("A password has at most {MAX_PASSWORD} characters."));
    }
    if form.confirm_password.is_empty() {
        errors.confirm_password = Some("Type the password again.".into());
    } else if form.confirm_password != form.password {
        errors.confirm_password = Some("The two passwords do not match.".into());
    }
    errors
}

/// `POST /sign-up`
pub async fn sign_up(
    req: HttpRequest,
    session: Session,
    pool: web::Data<Pool>,
    limits: web::Data<AuthLimits>,
    address: web::Data<ClientAddress>,
    form: web::Form<SignUpForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let target = return_path(&req, form.redirect_url.as_deref());
    let username = form.username.trim().to_owned();
    let display_name = form.display_name.trim().to_owned();
    let respond = |status: StatusCode, errors: SignUpErrors| {
        let page = SignUpPage {
            username: &username,
            display_name: &display_name,
            redirect_url: &target,
            errors,
        };
        form_response(&req, status, || page.render(), || page.as_form().render())
    };

    let errors = validate_sign_up(&form, &username, &display_name);
    if !errors.is_empty() {
        return respond(StatusCode::UNPROCESSABLE_ENTITY, errors);
    }
    let address_key = address.of(&req);
    if let Err(wait) = limits.sign_ups_per_address.try_hit(&address_key).await? {
        return respond(
            StatusCode::TOO_MANY_REQUESTS,
            SignUpErrors {
                general: Some(format!(
                    "Too many accounts were created from your network. Please wait {} and try again.",
                    describe_wait(wait)
                )),
                ..SignUpErrors::default()
            },
        );
    }

    let hash = password::hash(form.password).await?;
    match accounts::create_local(&pool, &username, &display_name, &hash).await {
        Ok(user) => {
            local::start_session(&session, &pool, &user).await?;
            tracing::info!(user = %user.id, "account created");
            Ok(go_to(&req, &target))
        }
        Err(accounts::CreateError::UsernameTaken) => respond(
            StatusCode::UNPROCESSABLE_ENTITY,
            SignUpErrors {
                username: Some("That username is taken. Try another one.".into()),
                ..SignUpErrors::default()
            },
        ),
        Err(accounts::CreateError::Database(e)) => Err(e.into()),
    }
}

/// `POST /sign-out`: ends the session on the server, so the cookie is worthless from now on
/// (also a copy of it taken earlier).
pub async fn sign_out(
    req: HttpRequest,
    session: Session,
    pool: web::Data<Pool>,
) -> Result<HttpResponse, AppError> {
    local::end_session(&session, &pool).await?;
    Ok(go_to(&req, paths::SIGN_IN))
}
