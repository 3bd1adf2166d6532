//! Stream Video's server-side REST API: typed requests and answers, typed errors, retries.
//!
//! Every call sends the server token in `Authorization` (no "Bearer"), `stream-auth-type: jwt`
//! and the API key as the `api_key` query parameter, as Stream's own server SDK does. Calls
//! that may safely be repeated are retried on 429 and 5xx (and when the connection could not
//! be made), with exponential backoff, or as long as the rate-limit headers say when they
//! say it.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use url::Url;

/// Every meeting is a call of Stream's `default` type.
pub const CALL_TYPE: &str = "default";
/// One attempt at a REST call may take this long, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

// ---- Requests -------------------------------------------------------------------------------

/// A user as Stream stores it: who appears in calls under which name and picture.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct UserRequest<'a> {
    pub id: &'a str,
    pub name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<&'a str>,
}

/// `POST /api/v2/users`: creates or replaces users, keyed by ID.
#[derive(Debug, Serialize)]
pub struct UpsertUsersRequest<'a> {
    pub users: BTreeMap<&'a str, UserRequest<'a>>,
}

/// `POST /api/v2/video/call/{type}/{id}`.
#[derive(Debug, Serialize)]
pub struct GetOrCreateCallRequest<'a> {
    pub data: CallRequest<'a>,
}

/// What a new call is created with.
#[derive(Debug, Serialize)]
pub struct CallRequest<'a> {
    pub created_by_id: &'a str,
    /// RFC 3339, UTC.
    pub starts_at: String,
    pub custom: CallCustom<'a>,
}

/// Our own fields on a call, shown by any Stream client (the original's `custom.description`).
#[derive(Debug, Serialize)]
pub struct CallCustom<'a> {
    pub description: &'a str,
}

// ---- Answers --------------------------------------------------------------------------------

/// A user in Stream's answers.
#[derive(Debug, Clone, Deserialize)]
pub struct UserResponse {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub image: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UpsertUsersResponse {
    #[serde(default)]
    pub users: BTreeMap<String, UserResponse>,
}

/// A call, with the fields we read.
#[derive(Debug, Clone, Deserialize)]
pub struct CallResponse {
    pub id: String,
    #[serde(default)]
    pub cid: String,
    #[serde(rename = "type", default)]
    pub call_type: String,
    #[serde(default, with = "date::option")]
    pub starts_at: Option<DateTime<Utc>>,
    #[serde(default, with = "date::option")]
    pub ended_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub custom: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub created_by: Option<UserResponse>,
}

#[derive(Debug, Deserialize)]
pub struct GetOrCreateCallResponse {
    /// False when the call already existed.
    #[serde(default)]
    pub created: bool,
    pub call: CallResponse,
}

/// An answer with nothing in it but the request's duration (`mark_ended`, `start_recording`,
/// `stop_recording`, deleting a recording).
#[derive(Debug, Deserialize)]
pub struct Acknowledged {}

/// One recording of a call.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct CallRecording {
    pub filename: String,
    pub url: String,
    #[serde(with = "date")]
    pub start_time: DateTime<Utc>,
    #[serde(with = "date")]
    pub end_time: DateTime<Utc>,
    #[serde(default)]
    pub session_id: String,
    #[serde(default)]
    pub recording_type: String,
}

#[derive(Debug, Deserialize)]
pub struct ListRecordingsResponse {
    #[serde(default)]
    pub recordings: Vec<CallRecording>,
}

/// Stream's dates come as RFC 3339 strings or as integer nanoseconds since the epoch.
pub mod date {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Nanos(i64),
        Float(f64),
        Text(String),
    }

    fn convert<E: Error>(raw: Raw) -> Result<DateTime<Utc>, E> {
        match raw {
            Raw::Nanos(n) => Ok(DateTime::from_timestamp_nanos(n)),
            Raw::Float(f) if f.is_finite() && f.abs() < i64::MAX as f64 => {
                Ok(DateTime::from_timestamp_nanos(f as i64))
            }
            Raw::Float(f) => Err(E::custom(format!("{f} is not a time"))),
            Raw::Text(s) => DateTime::parse_from_rfc3339(&s)
                .map(|d| d.with_timezone(&Utc))
                .map_err(|e| E::custom(format!("`{s}` is not an RFC 3339 time: {e}"))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        convert(Raw::deserialize(d)?)
    }

    pub mod option {
        use super::*;

        pub fn deserialize<'de, D: Deserializer<'de>>(
            d: D,
        ) -> Result<Option<DateTime<Utc>>, D::Error> {
            Option::<Raw>::deserialize(d)?.map(convert).transpose()
        }
    }
}

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
    fn from_headers(headers: &HeaderMap) -> Option<Self> {
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
    fn wait_after(&self, error: &StreamError, attempt: u32, now: i64) -> Option<Duration> {
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
enum Repeat {
    Safe,
    /// Starting or stopping a recording: a second attempt after one that did reach Stream
    /// would be refused ("already recording"), hiding the first one's success.
    Never,
}

// ---- The client -----------------------------------------------------------------------------

/// Stream's REST API for one app (API key).
#[derive(Debug, Clone)]
pub struct StreamClient {
    http: reqwest::Client,
    base_url: Url,
    api_key: String,
    authorization: HeaderValue,
    retry: RetryPolicy,
}

impl StreamClient {
    /// A client for `base_url` (e.g. `https://video.stream-io-api.com`) signing with the server
    /// token.
    pub fn new(base_url: Url, api_key: &str, server_token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("yoom/", env!("CARGO_PKG_VERSION")))
            .build()?;
        let mut authorization = HeaderValue::from_str(server_token)?;
        authorization.set_sensitive(true);
        Ok(Self {
            http,
            base_url,
            api_key: api_key.to_owned(),
            authorization,
            retry: RetryPolicy::default(),
        })
    }

    /// Replaces the retry policy (tests use short waits).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Creates or updates one user's name and picture.
    pub async fn upsert_user(
        &self,
        user: UserRequest<'_>,
    ) -> Result<UpsertUsersResponse, StreamError> {
        let body = UpsertUsersRequest {
            users: BTreeMap::from([(user.id, user)]),
        };
        self.send(
            Method::POST,
            &["api", "v2", "users"],
            Some(&body),
            Repeat::Safe,
        )
        .await
    }

    /// Gets the call `default:{id}`, creating it if it does not exist yet.
    pub async fn get_or_create_call(
        &self,
        id: &str,
        request: &GetOrCreateCallRequest<'_>,
    ) -> Result<GetOrCreateCallResponse, StreamError> {
        self.send(
            Method::POST,
            &["api", "v2", "video", "call", CALL_TYPE, id],
            Some(request),
            Repeat::Safe,
        )
        .await
    }

    /// Ends the call `default:{id}` for everyone in it.
    pub async fn mark_ended(&self, id: &str) -> Result<Acknowledged, StreamError> {
        self.call_action(id, "mark_ended", Repeat::Safe).await
    }

    /// Starts Stream's own (composite) recording of the call `default:{id}`.
    pub async fn start_recording(&self, id: &str) -> Result<Acknowledged, StreamError> {
        self.call_action(id, "start_recording", Repeat::Never).await
    }

    /// Stops the recording of the call `default:{id}`.
    pub async fn stop_recording(&self, id: &str) -> Result<Acknowledged, StreamError> {
        self.call_action(id, "stop_recording", Repeat::Never).await
    }

    /// `POST /api/v2/video/call/default/{id}/{action}` with an empty body.
    async fn call_action(
        &self,
        id: &str,
        action: &str,
        repeat: Repeat,
    ) -> Result<Acknowledged, StreamError> {
        self.send(
            Method::POST,
            &["api", "v2", "video", "call", CALL_TYPE, id, action],
            Some(&serde_json::json!({})),
            repeat,
        )
        .await
    }

    /// Deletes one recording of the call `default:{id}` (and its file, when Stream stores it).
    /// Repeating it is safe: a second attempt finds it gone.
    pub async fn delete_recording(
        &self,
        id: &str,
        session: &str,
        filename: &str,
    ) -> Result<Acknowledged, StreamError> {
        self.send::<_, ()>(
            Method::DELETE,
            &[
                "api",
                "v2",
                "video",
                "call",
                CALL_TYPE,
                id,
                session,
                "recordings",
                filename,
            ],
            None,
            Repeat::Safe,
        )
        .await
    }

    /// The recordings of the call `default:{id}`.
    pub async fn list_recordings(&self, id: &str) -> Result<ListRecordingsResponse, StreamError> {
        self.send::<_, ()>(
            Method::GET,
            &["api", "v2", "video", "call", CALL_TYPE, id, "recordings"],
            None,
            Repeat::Safe,
        )
        .await
    }

    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            // Segments are escaped here, so an ID can never change the path.
            path.pop_if_empty().extend(segments);
        }
        url.query_pairs_mut()
            .clear()
            .append_pair("api_key", &self.api_key);
        url
    }

    async fn send<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<&B>,
        repeat: Repeat,
    ) -> Result<T, StreamError> {
        let url = self.url(segments);
        let mut attempt = 1;
        loop {
            let result = self.once(method.clone(), url.clone(), body).await;
            let error = match result {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            let wait = match repeat {
                Repeat::Safe => self.retry.wait_after(&error, attempt, crate::time::now()),
                Repeat::Never => None,
            };
            let Some(wait) = wait else {
                return Err(error);
            };
            tracing::warn!(
                error = %error, %method, path = url.path(), attempt, wait_ms = wait.as_millis() as u64,
                "Stream request failed; trying again"
            );
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn once<T: DeserializeOwned, B: Serialize + ?Sized>(
        &self,
        method: Method,
        url: Url,
        body: Option<&B>,
    ) -> Result<T, StreamError> {
        let mut request = self
            .http
            .request(method, url)
            .header(header::AUTHORIZATION, self.authorization.clone())
            .header("stream-auth-type", "jwt")
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        let rate_limit = RateLimit::from_headers(response.headers());
        let bytes = response.bytes().await.map_err(transport_error)?;
        if !status.is_success() {
            return Err(api_error(status, rate_limit, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| StreamError::Decode(e.to_string()))
    }
}

fn transport_error(e: reqwest::Error) -> StreamError {
    if e.is_timeout() {
        StreamError::Timeout
    } else {
        StreamError::Connect(e)
    }
}

fn api_error(status: StatusCode, rate_limit: Option<RateLimit>, body: &[u8]) -> StreamError {
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
    fn dates_accept_rfc3339_and_integer_nanoseconds() {
        let json = r#"{"filename":"a.mp4","url":"https://x/a.mp4",
            "start_time":"2024-03-29T15:30:00.5Z","end_time":1711726260000000000}"#;
        let r: CallRecording = serde_json::from_str(json).unwrap();
        assert_eq!(r.start_time.to_rfc3339(), "2024-03-29T15:30:00.500+00:00");
        assert_eq!(r.end_time.timestamp(), 1_711_726_260);
        assert!(
            serde_json::from_str::<CallRecording>(&json.replace("1711726260000000000", "\"soon\""))
                .is_err()
        );
    }

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

    #[test]
    fn urls_escape_ids_and_carry_the_api_key() {
        let c = StreamClient::new(
            Url::parse("https://video.example.com/base/").unwrap(),
            "key&1",
            "token",
        )
        .unwrap();
        let u = c.url(&["api", "v2", "video", "call", "default", "a/b?c"]);
        assert_eq!(
            u.as_str(),
            "https://video.example.com/base/api/v2/video/call/default/a%2Fb%3Fc?api_key=key%261"
        );
    }
}
