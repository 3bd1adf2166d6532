//! Where to send a user after signing in: only ever a path on this site.

/// The sign-in page with a return path, e.g. `/sign-in?redirect_url=%2Fupcoming`.
pub fn sign_in_url(sign_in: &str, wanted: &str) -> String {
    let wanted = safe_return_path(Some(wanted), None);
    if wanted == "/" {
        return sign_in.to_owned();
    }
    let encoded: String = url::form_urlencoded::byte_serialize(wanted.as_bytes()).collect();
    format!("{sign_in}?redirect_url={encoded}")
}

/// A same-origin path to return to, or `/` for anything else.
///
/// Accepts a path (`/upcoming?x=1`) or a full URL on our own origin (as htmx's
/// `HX-Current-URL` sends it). Refuses other sites, protocol-relative `//host`, `/\host`
/// (which browsers treat as `//host`), control characters and non-http schemes: an open
/// redirect would let a phishing link borrow our sign-in page.
pub fn safe_return_path(raw: Option<&str>, own_origin: Option<&str>) -> String {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return "/".into();
    };
    if raw.chars().any(|c| c.is_control()) {
        return "/".into();
    }
    let path = if raw.starts_with('/') {
        raw.to_owned()
    } else {
        match url::Url::parse(raw) {
            Ok(u)
                if matches!(u.scheme(), "http" | "https")
                    && own_origin.is_some_and(|o| u.origin().ascii_serialization() == o) =>
            {
                match u.query() {
                    Some(q) => format!("{}?{q}", u.path()),
                    None => u.path().to_owned(),
                }
            }
            _ => return "/".into(),
        }
    };
    if path.starts_with("//") || path.starts_with("/\\") {
        return "/".into();
    }
    // Never send someone back to the sign-in or sign-up forms themselves.
    if path.starts_with("/sign-in") || path.starts_with("/sign-up") {
        return "/".into();
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    const OWN: Option<&str> = Some("http://localhost:8080");

    #[test]
    fn paths_on_this_site_are_kept() {
        assert_eq!(safe_return_path(Some("/upcoming"), OWN), "/upcoming");
        assert_eq!(
            safe_return_path(Some("/meeting/abc?personal=true"), OWN),
            "/meeting/abc?personal=true"
        );
        assert_eq!(
            safe_return_path(Some("http://localhost:8080/previous?page=2"), OWN),
            "/previous?page=2"
        );
    }

    #[test]
    fn anything_else_goes_home() {
        for bad in [
            "https://evil.example",
            "https://evil.example/upcoming",
            "//evil.example",
            "/\\evil.example",
            "javascript:alert(1)",
            "evil.example",
            "/x\r\nLocation: https://evil.example",
            "",
            "   ",
            "/sign-in?redirect_url=/x",
        ] {
            assert_eq!(safe_return_path(Some(bad), OWN), "/", "{bad:?}");
        }
        assert_eq!(safe_return_path(None, OWN), "/");
    }

    #[test]
    fn sign_in_urls_encode_the_return_path() {
        assert_eq!(
            sign_in_url("/sign-in", "/upcoming"),
            "/sign-in?redirect_url=%2Fupcoming"
        );
        assert_eq!(sign_in_url("/sign-in", "/"), "/sign-in");
        assert_eq!(sign_in_url("/sign-in", "//evil.example"), "/sign-in");
    }
}
