//! Static files, embedded in the binary, served under content-hashed URLs.
//!
//! Templates ask [`url`] for `/static/<path>?v=<hash>`. A request whose `v` matches the file's
//! current hash may be cached for a year (`immutable`); anything else (an old hash, a module
//! imported by a relative path) is answered with `no-cache` and an `ETag`, so a changed file
//! is never served stale.

use std::collections::HashMap;
use std::sync::OnceLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use rust_embed::Embed;

use crate::errors::AppError;

#[derive(Embed)]
#[folder = "static/"]
struct Static;

/// Short content hash of every embedded file, computed once.
fn hashes() -> &'static HashMap<String, String> {
    static HASHES: OnceLock<HashMap<String, String>> = OnceLock::new();
    HASHES.get_or_init(|| {
        Static::iter()
            .filter_map(|path| {
                let file = Static::get(&path)?;
                let hash = hex::encode(&file.metadata.sha256_hash()[..6]);
                Some((path.into_owned(), hash))
            })
            .collect()
    })
}

/// The cache-busting URL of an embedded file. Unknown paths still get a URL (so a typo shows
/// up as a 404 in the browser, not as a broken template).
pub fn url(path: &str) -> String {
    match hashes().get(path) {
        Some(hash) => format!("/static/{path}?v={hash}"),
        None => format!("/static/{path}"),
    }
}

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /static/{path}`.
pub async fn serve(
    req: HttpRequest,
    path: web::Path<String>,
    query: web::Query<Version>,
) -> Result<HttpResponse, AppError> {
    let path = path.into_inner();
    let file = Static::get(&path)
        .ok_or_else(|| AppError::NotFound("This file could not be found.".into()))?;
    let hash = hashes()
        .get(&path)
        .cloned()
        .unwrap_or_else(|| hex::encode(&file.metadata.sha256_hash()[..6]));
    let etag = format!("\"{hash}\"");
    let cache = if query.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
    {
        return Ok(HttpResponse::NotModified()
            .insert_header((header::ETAG, etag))
            .insert_header((header::CACHE_CONTROL, cache))
            .finish());
    }
    let mime = mime_guess::from_path(&path).first_or_octet_stream();
    let content_type = match mime.type_() {
        mime_guess::mime::TEXT | mime_guess::mime::APPLICATION
            if mime.subtype() != mime_guess::mime::OCTET_STREAM =>
        {
            format!("{mime}; charset=utf-8")
        }
        _ => mime.to_string(),
    };
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_str(&content_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream")),
        ))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CACHE_CONTROL, cache))
        .body(file.data.into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_files_get_a_hashed_url() {
        let u = url("css/app.css");
        assert!(u.starts_with("/static/css/app.css?v="), "{u}");
        assert_eq!(u.len(), "/static/css/app.css?v=".len() + 12);
    }

    #[test]
    fn vendored_htmx_is_embedded_with_its_licence() {
        assert!(Static::get("vendor/htmx/htmx.min.js").is_some());
        assert!(Static::get("vendor/htmx/LICENSE").is_some());
    }
}
