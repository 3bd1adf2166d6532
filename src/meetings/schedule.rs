//! Reading what the schedule and instant-meeting forms send.

use chrono::NaiveDateTime;

use super::MAX_DESCRIPTION;

/// Scheduling further ahead than this is almost certainly a typo in the year.
const MAX_AHEAD_SECS: i64 = 5 * 366 * 24 * 60 * 60;
/// A time chosen a moment ago is not "in the past" yet: forms take time to fill in.
const PAST_GRACE_SECS: i64 = 60;
/// Real time zones are within UTC−12 and UTC+14.
const MAX_OFFSET_MINUTES: i64 = 14 * 60;

/// Problems with a schedule form, one per field.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ScheduleErrors {
    pub description: Option<String>,
    pub when: Option<String>,
}

impl ScheduleErrors {
    pub fn is_empty(&self) -> bool {
        self.description.is_none() && self.when.is_none()
    }
}

/// Cleans a description: trimmed, Windows line ends made plain, at most 500 characters, no
/// control characters but new lines and tabs.
pub fn clean_description(raw: &str) -> Result<String, String> {
    let text = raw.replace("\r\n", "\n").replace('\r', "\n");
    let text = text.trim();
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(format!(
            "A description has at most {MAX_DESCRIPTION} characters (this one has {}).",
            text.chars().count()
        ));
    }
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err("The description contains characters that cannot be shown.".into());
    }
    Ok(text.to_owned())
}

/// Turns the picker's local date-time and the browser's UTC offset into UTC seconds.
///
/// `local` is what `<input type="datetime-local">` sends (`2026-11-24T15:30`, seconds
/// optional); `tz_offset` is `Date.getTimezoneOffset()` for that moment: minutes to add to
/// local time to get UTC (−330 in India, 300 in New York in winter). Without it (no script)
/// the time is taken as UTC.
pub fn parse_start(local: &str, tz_offset: Option<&str>, now: i64) -> Result<i64, String> {
    let local = local.trim();
    if local.is_empty() {
        return Err("Please select a date and time".into());
    }
    let parsed = NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(local, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| {
            "That date and time could not be read. Pick one from the calendar.".to_string()
        })?;
    let offset_minutes = match tz_offset.map(str::trim).filter(|s| !s.is_empty()) {
        None => 0,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|m| m.abs() <= MAX_OFFSET_MINUTES)
            .ok_or_else(|| {
                "Your time zone could not be read. Reload the page and try again.".to_string()
            })?,
    };
    let starts_at = parsed.and_utc().timestamp() + offset_minutes * 60;
    if starts_at < now - PAST_GRACE_SECS {
        return Err("That time has already passed. Pick a time in the future.".into());
    }
    if starts_at > now + MAX_AHEAD_SECS {
        return Err("Pick a date within the next five years.".into());
    }
    Ok(starts_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23T12:00:00Z
    const NOW: i64 = 1_795_435_200;

    #[test]
    fn offsets_on_both_sides_of_utc() {
        // 15:30 in India (UTC+5:30, offset −330) is 10:00 UTC.
        let t = parse_start("2026-11-24T15:30", Some("-330"), NOW).unwrap();
        assert_eq!(crate::time::iso(t), "2026-11-24T10:00:00Z");
        // 15:30 in New York in winter (UTC−5, offset 300) is 20:30 UTC.
        let t = parse_start("2026-11-24T15:30", Some("300"), NOW).unwrap();
        assert_eq!(crate::time::iso(t), "2026-11-24T20:30:00Z");
        // No offset (no script): UTC.
        let t = parse_start("2026-11-24T15:30:00", None, NOW).unwrap();
        assert_eq!(crate::time::iso(t), "2026-11-24T15:30:00Z");
    }

    #[test]
    fn missing_malformed_past_and_far_dates_are_refused() {
        assert_eq!(
            parse_start("", None, NOW).unwrap_err(),
            "Please select a date and time"
        );
        for bad in [
            "tomorrow",
            "2026-13-01T10:00",
            "2026-11-24 10:00",
            "2026-11-24",
            "24/11/2026 10:00",
        ] {
            assert!(
                parse_start(bad, None, NOW)
                    .unwrap_err()
                    .contains("could not be read"),
                "{bad}"
            );
        }
        assert!(
            parse_start("2026-11-23T11:00", Some("0"), NOW)
                .unwrap_err()
                .contains("already passed")
        );
        assert!(
            parse_start("2040-01-01T00:00", Some("0"), NOW)
                .unwrap_err()
                .contains("five years")
        );
        assert!(
            parse_start("2026-11-24T10:00", Some("9999"), NOW)
                .unwrap_err()
                .contains("time zone")
        );
        assert!(
            parse_start("2026-11-24T10:00", Some("abc"), NOW)
                .unwrap_err()
                .contains("time zone")
        );
    }

    #[test]
    fn a_time_a_moment_ago_is_still_accepted() {
        assert!(parse_start("2026-11-23T11:59:30", Some("0"), NOW).is_ok());
    }

    #[test]
    fn descriptions_are_cleaned_and_bounded() {
        assert_eq!(
            clean_description("  Standup \r\n notes ").unwrap(),
            "Standup \n notes"
        );
        assert!(clean_description(&"x".repeat(500)).is_ok());
        assert!(
            clean_description(&"x".repeat(501))
                .unwrap_err()
                .contains("at most 500")
        );
        assert!(
            clean_description(&"é".repeat(500)).is_ok(),
            "characters, not bytes"
        );
        assert!(clean_description("bell\u{7}").is_err());
    }
}
