//! What the Join form accepts: a full link to this app, a path, or a bare meeting ID.

use url::Url;

use super::personal::normalize_room_id;

/// A meeting reference read from the Join form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MeetingLink {
    /// A meeting's UUID.
    Meeting(String),
    /// A personal room's room ID (`abc-defg-hij`).
    PersonalRoom(String),
}

/// Why the input is not a meeting reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("Paste a meeting link or a meeting ID.")]
    Empty,
    #[error("That link goes to another site. Paste a link to a meeting on this Yoom.")]
    ForeignSite,
    #[error("That is not a meeting link or meeting ID.")]
    NotAMeeting,
}

impl MeetingLink {
    /// Reads `input` against the app's public origin (`https://meet.example.com`) and, for a
    /// server reached under another name (a LAN address), the origin the request came in on.
    pub fn parse(input: &str, origins: &[&str]) -> Result<Self, LinkError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(LinkError::Empty);
        }
        if input.contains("://") {
            let url = Url::parse(input).map_err(|_| LinkError::NotAMeeting)?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(LinkError::NotAMeeting);
            }
            let origin = url.origin().ascii_serialization();
            if !origins.iter().any(|o| o.trim_end_matches('/') == origin) {
                return Err(LinkError::ForeignSite);
            }
            return Self::from_path(url.path());
        }
        if input.starts_with('/') {
            // A path, perhaps with a query (`?personal=true`) or fragment.
            let path = input.split(['?', '#']).next().unwrap_or_default();
            return Self::from_path(path);
        }
        if input.contains('/') {
            // A link without its scheme ("meet.example.com/meeting/…"): judge it by its host.
            return Self::parse(&format!("https://{input}"), origins).or_else(|e| match e {
                LinkError::ForeignSite => Self::parse(&format!("http://{input}"), origins),
                other => Err(other),
            });
        }
        Self::from_id(input)
    }

    fn from_path(path: &str) -> Result<Self, LinkError> {
        let rest = path
            .strip_prefix("/meeting/")
            .ok_or(LinkError::NotAMeeting)?;
        let id = rest.trim_end_matches('/');
        if id.contains('/') {
            return Err(LinkError::NotAMeeting);
        }
        Self::from_id(id)
    }

    /// A bare ID: a UUID, or a room ID (any case, spaces and dashes as people read them out).
    pub fn from_id(id: &str) -> Result<Self, LinkError> {
        if let Ok(uuid) = uuid::Uuid::parse_str(id) {
            return Ok(Self::Meeting(uuid.hyphenated().to_string()));
        }
        normalize_room_id(id)
            .map(Self::PersonalRoom)
            .ok_or(LinkError::NotAMeeting)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORIGINS: [&str; 2] = ["https://meet.example.com", "http://192.168.1.5:8080"];
    const ID: &str = "6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d";

    fn parse(s: &str) -> Result<MeetingLink, LinkError> {
        MeetingLink::parse(s, &ORIGINS)
    }

    #[test]
    fn links_paths_and_ids_are_all_accepted() {
        let m = MeetingLink::Meeting(ID.into());
        assert_eq!(
            parse(&format!("https://meet.example.com/meeting/{ID}")),
            Ok(m.clone())
        );
        assert_eq!(
            parse(&format!("  https://meet.example.com/meeting/{ID}?x=1  ")),
            Ok(m.clone())
        );
        assert_eq!(
            parse(&format!("http://192.168.1.5:8080/meeting/{ID}")),
            Ok(m.clone())
        );
        assert_eq!(
            parse(&format!("meet.example.com/meeting/{ID}")),
            Ok(m.clone())
        );
        assert_eq!(parse(&format!("/meeting/{ID}")), Ok(m.clone()));
        assert_eq!(parse(&format!("/meeting/{ID}/")), Ok(m.clone()));
        assert_eq!(parse(ID), Ok(m.clone()));
        assert_eq!(parse(&ID.to_uppercase()), Ok(m));
        let p = MeetingLink::PersonalRoom("xkd-pqmz-wra".into());
        assert_eq!(parse("xkd-pqmz-wra"), Ok(p.clone()));
        assert_eq!(parse("XKD PQMZ WRA"), Ok(p.clone()));
        assert_eq!(parse("xkdpqmzwra"), Ok(p.clone()));
        assert_eq!(
            parse("https://meet.example.com/meeting/xkd-pqmz-wra?personal=true"),
            Ok(p.clone())
        );
        assert_eq!(parse("/meeting/xkd-pqmz-wra?personal=true"), Ok(p));
    }

    #[test]
    fn other_sites_and_garbage_are_refused_with_the_reason() {
        assert_eq!(parse(""), Err(LinkError::Empty));
        assert_eq!(parse("   "), Err(LinkError::Empty));
        assert_eq!(
            parse(&format!("https://evil.example/meeting/{ID}")),
            Err(LinkError::ForeignSite)
        );
        assert_eq!(
            parse(&format!("http://meet.example.com/meeting/{ID}")),
            Err(LinkError::ForeignSite)
        );
        assert_eq!(
            parse(&format!("evil.example/meeting/{ID}")),
            Err(LinkError::ForeignSite)
        );
        assert_eq!(
            parse("https://meet.example.com/upcoming"),
            Err(LinkError::NotAMeeting)
        );
        assert_eq!(parse("/upcoming"), Err(LinkError::NotAMeeting));
        assert_eq!(
            parse(&format!("/meeting/{ID}/extra")),
            Err(LinkError::NotAMeeting)
        );
        assert_eq!(
            parse("javascript://meet.example.com/meeting/x"),
            Err(LinkError::NotAMeeting)
        );
        assert_eq!(parse("hello there"), Err(LinkError::NotAMeeting));
        assert_eq!(parse("123"), Err(LinkError::NotAMeeting));
        assert_eq!(
            parse("4821937561"),
            Err(LinkError::NotAMeeting),
            "old digit IDs"
        );
    }
}
