//! Why a call to Stream failed, and when trying again is worth it.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde::Deserialize;

use super::REQUEST_TIMEOUT;

// ---- Errors ---------------------------------------------------------------------------------

/// What the rate-limit headers of an answer said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: Option<u64>,
    pub remaining: Option<u64>,
    /// When the window resets, in seconds since the epoch.
    pub reset: Option<i64>,
    /// `Retry-After`, in seconds.
    pub retry_after: Option<u64>,
}

impl RateLimit {
    pub(super) fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
        };
        let rl = Self {
            limit: number("x-ratelimit-limit"),
            remaining: number("x-ratelimit-remaining"),
            reset: number("x-ratelimit-reset").and_then(|v| i64::try_from(v).ok()),
            retry_after: number("retry-after"),
        };
        (rl != Self::default()).then_some(rl)
    }

    /// How long the headers ask us to wait before trying again, if they say.
    fn wait(&self, now: i64) -> Option<Duration> {
        if let Some(secs) = self.retry_after {
            return Some(Duration::from_secs(secs));
        }
        self.reset
            .map(|reset| Duration::from_secs(u64::try_from(reset - now).unwrap_or(0)))
    }
}

/// Stream's error body.
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    #[serde(default)]
    code: Option<i64>,
    #[serde(default)]
    message: String,
    #[serde(default, rename = "StatusCode", alias = "status_code")]
    status_code: Option<u16>,
}

/// Why a call to Stream failed.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// Stream answered with an error.
    #[error("Stream answered {status}{}: {message}", code.map(|c| format!(" (code {c})")).unwrap_or_default())]
    Api {
        /// The HTTP status.
        status: u16,
        /// Stream's own error code, when the body had one.
        code: Option<i64>,
        message: String,
        rate_limit: Option<RateLimit>,
    },
    /// No answer within [`REQUEST_TIMEOUT`].
    #[error("Stream did not answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
    /// The request could not be sent (DNS, refused connection, TLS).
    #[error("Stream could not be reached")]
    Connect(#[source] reqwest::Error),
    /// Stream's answer was not what its API describes.
    #[error("Stream's answer could not be read: {0}")]
    Decode(String),
}

impl StreamError {
    /// The HTTP status Stream answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

// ---- Retries --------------------------------------------------------------------------------

/// When and how often to try again.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub attempts: u32,
    /// Wait before the second attempt; doubled for each one after.
    pub first_backoff: Duration,
    /// The longest we wait for a rate limit to reset: beyond this the caller (a person
    /// waiting on a page) is better told now.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            first_backoff: Duration::from_millis(200),
            max_wait: Duration::from_secs(3),
        }
    }
}

impl RetryPolicy {
    /// How long to wait before attempt `attempt + 1` after `error`, or `None` to give up.
    pub(super) fn wait_after(
        &self,
        error: &StreamError,
        attempt: u32,
        now: i64,
    ) -> Option<Duration> {
        if attempt >= self.attempts {
            return None;
        }
        let backoff = self.first_backoff * 2u32.saturating_pow(attempt - 1);
        let wait = match error {
            StreamError::Api {
                status, rate_limit, ..
            } if *status == 429 || *status >= 500 => rate_limit
                .and_then(|rl| rl.wait(now))
                .map(|w| w.max(self.first_backoff))
                .unwrap_or(backoff),
            // Nothing reached Stream, so nothing can have happened twice.
            StreamError::Connect(_) => backoff,
            // A timeout has used up the time a person is willing to wait; 4xx will not change.
            _ => return None,
        };
        (wait <= self.max_wait).then_some(wait)
    }
}

/// Whether a call may be sent again without changing its effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Repeat {
    Safe,
    /// Starting or stopping a recording: a second attempt after one that did reach Stream
    /// would be refused ("already recording"), hiding the first one's success.
    Never,
}

pub(super) fn transport_error(e: reqwest::Error) -> StreamError {
    if e.is_timeout() {
        StreamError::Timeout
    } else {
        StreamError::Connect(e)
    }
}

pub(super) fn api_error(
    status: StatusCode,
    rate_limit: Option<RateLimit>,
    body: &[u8],
) -> StreamError {
    match serde_json::from_slice::<ApiErrorBody>(body) {
        Ok(e) => StreamError::Api {
            status: e.status_code.unwrap_or(status.as_u16()),
            code: e.code,
            message: e.message,
            rate_limit,
        },
        Err(_) => StreamError::Api {
            status: status.as_u16(),
            code: None,
            message: status
                .canonical_reason()
                .unwrap_or("unexpected answer")
                .to_owned(),
            rate_limit,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_body_becomes_a_typed_error() {
        let e = api_error(
            StatusCode::BAD_REQUEST,
            None,
            br#"{"code":4,"message":"GetOrCreateCall failed","StatusCode":400,"duration":"0.1ms"}"#,
        );
        match e {
            StreamError::Api {
                status,
                code,
                message,
                ..
            } => {
                assert_eq!((status, code), (400, Some(4)));
                assert_eq!(message, "GetOrCreateCall failed");
            }
            other => panic!("{other:?}"),
        }
        let e = api_error(StatusCode::BAD_GATEWAY, None, b"<html>");
        assert_eq!(e.status(), Some(502));
    }

    fn api(status: u16, rate_limit: Option<RateLimit>) -> StreamError {
        StreamError::Api {
            status,
            code: None,
            message: String::new(),
            rate_limit,
        }
    }

    #[test]
    fn retries_follow_status_backoff_and_rate_limit_headers() {
        let p = RetryPolicy::default();
        assert_eq!(
            p.wait_after(&api(503, None), 1, 0),
            Some(Duration::from_millis(200))
        );
        assert_eq!(
            p.wait_after(&api(500, None), 2, 0),
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            p.wait_after(&api(500, None), 3, 0),
            None,
            "three attempts in all"
        );
        assert_eq!(p.wait_after(&api(400, None), 1, 0), None);
        assert_eq!(p.wait_after(&api(404, None), 1, 0), None);
        assert_eq!(p.wait_after(&StreamError::Timeout, 1, 0), None);
        let reset = |at| RateLimit {
            reset: Some(at),
            ..RateLimit::default()
        };
        assert_eq!(
            p.wait_after(&api(429, Some(reset(102))), 1, 100),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            p.wait_after(&api(429, Some(reset(160))), 1, 100),
            None,
            "too long to wait"
        );
        let retry_after = RateLimit {
            retry_after: Some(1),
            ..RateLimit::default()
        };
        assert_eq!(
            p.wait_after(&api(429, Some(retry_after)), 1, 0),
            Some(Duration::from_secs(1))
        );
    }
}
