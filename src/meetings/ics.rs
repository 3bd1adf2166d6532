//! iCalendar (RFC 5545) files for "Add to calendar".

use super::{DEFAULT_LENGTH_SECS, Meeting};
use crate::time::to_datetime;

fn stamp(seconds: i64) -> String {
    to_datetime(seconds).format("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes a TEXT value: backslash, semicolon, comma and new lines.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// Folds a content line at 75 octets (never inside a UTF-8 character), CRLF-terminated.
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

/// A calendar with one event for the meeting, its link as URL, location and description.
pub fn calendar(meeting: &Meeting, link: &str, host: &str, now: i64) -> String {
    let lines = [
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//Yoom//Meetings//EN".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        "BEGIN:VEVENT".into(),
        format!("UID:{}@{}", meeting.id, escape(host)),
        format!("DTSTAMP:{}", stamp(now)),
        format!("DTSTART:{}", stamp(meeting.starts_at)),
        format!("DTEND:{}", stamp(meeting.starts_at + DEFAULT_LENGTH_SECS)),
        format!("SUMMARY:{}", escape(meeting.title())),
        format!(
            "DESCRIPTION:{}",
            escape(&format!("Join the Yoom meeting: {link}"))
        ),
        format!("LOCATION:{}", escape(link)),
        format!("URL:{link}"),
        "END:VEVENT".into(),
        "END:VCALENDAR".into(),
    ];
    let mut out = String::new();
    for line in &lines {
        fold(line, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meetings::MeetingKind;

    fn meeting(description: &str) -> Meeting {
        Meeting {
            id: "6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d".into(),
            owner_id: "o".into(),
            description: description.into(),
            kind: MeetingKind::Scheduled,
            starts_at: 1_795_435_200,
            created_at: 0,
            ended_at: None,
            cancelled_at: None,
        }
    }

    #[test]
    fn the_event_has_utc_times_the_title_and_the_link() {
        let link = "https://meet.example.com/meeting/6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d";
        let ics = calendar(
            &meeting("Plan; review, ship\nnow"),
            link,
            "meet.example.com",
            1_795_400_000,
        );
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.contains("DTSTART:20261123T120000Z\r\n"));
        assert!(ics.contains("DTEND:20261123T130000Z\r\n"));
        assert!(ics.contains("SUMMARY:Plan\\; review\\, ship\\nnow\r\n"));
        assert!(ics.contains("UID:6f1c1f1e-5d0a-4d0b-9a57-1f0b1b2b3c4d@meet.example.com"));
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("URL:{link}\r\n")));
        assert!(ics.ends_with("END:VCALENDAR\r\n"));
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
    }

    #[test]
    fn long_lines_fold_between_characters() {
        let ics = calendar(&meeting(&"é".repeat(200)), "https://x", "x", 0);
        for line in ics.split("\r\n") {
            assert!(line.len() <= 75);
        }
        let unfolded = ics.replace("\r\n ", "");
        assert!(unfolded.contains(&format!("SUMMARY:{}", "é".repeat(200))));
    }
}
