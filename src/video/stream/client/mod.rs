//! Stream Video's server-side REST API: typed requests and answers, typed errors, retries.
//!
//! Every call sends the server token in `Authorization` (no "Bearer"), `stream-auth-type: jwt`
//! and the API key as the `api_key` query parameter, as Stream's own server SDK does. Calls
//! that may safely be repeated are retried on 429 and 5xx (and when the connection could not
//! be made), with exponential backoff, or as long as the rate-limit headers say when they
//! say it.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{self, HeaderValue};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

/// Every meeting is a call of Stream's `default` type.
pub const CALL_TYPE: &str = "default";
/// Stream records a call as one composed video (its other types record each participant).
pub const RECORDING_TYPE: &str = "composite";
/// How this server names itself to Stream, as Stream's SDKs do (`stream-node-<version>`).
pub const CLIENT_NAME: &str = concat!("yoom-", env!("CARGO_PKG_VERSION"));
/// One attempt at a REST call may take this long, connection included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

mod error;
mod models;

pub use error::*;
pub use models::*;

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
        self.call_action(id, &["mark_ended"], Repeat::Safe).await
    }

    /// Starts Stream's composite recording of the call `default:{id}`
    /// (`…/recordings/composite/start`, as Stream's Node SDK calls it since 0.7.49; the older
    /// `…/start_recording` was removed from Stream's API).
    pub async fn start_recording(&self, id: &str) -> Result<Acknowledged, StreamError> {
        self.call_action(id, &["recordings", RECORDING_TYPE, "start"], Repeat::Never)
            .await
    }

    /// Stops the composite recording of the call `default:{id}`.
    pub async fn stop_recording(&self, id: &str) -> Result<Acknowledged, StreamError> {
        self.call_action(id, &["recordings", RECORDING_TYPE, "stop"], Repeat::Never)
            .await
    }

    /// `POST /api/v2/video/call/default/{id}/{action…}` with an empty body.
    async fn call_action(
        &self,
        id: &str,
        action: &[&str],
        repeat: Repeat,
    ) -> Result<Acknowledged, StreamError> {
        let mut path = vec!["api", "v2", "video", "call", CALL_TYPE, id];
        path.extend_from_slice(action);
        self.send(Method::POST, &path, Some(&serde_json::json!({})), repeat)
            .await
    }

    /// Removes someone from the call `default:{id}` and blocks them from joining it again
    /// (a kick alone does not stop a rejoin).
    pub async fn kick_user(&self, id: &str, user_id: &str) -> Result<Acknowledged, StreamError> {
        let body = serde_json::json!({ "user_id": user_id, "block": true });
        self.call_post(id, "kick", &body).await
    }

    /// Lets a blocked person join the call `default:{id}` again.
    pub async fn unblock_user(&self, id: &str, user_id: &str) -> Result<Acknowledged, StreamError> {
        let body = serde_json::json!({ "user_id": user_id });
        self.call_post(id, "unblock", &body).await
    }

    /// Mutes these people's microphones in the call `default:{id}` (Stream enforces it; they
    /// may unmute themselves).
    pub async fn mute_users(
        &self,
        id: &str,
        user_ids: &[String],
    ) -> Result<Acknowledged, StreamError> {
        let body = serde_json::json!({ "user_ids": user_ids, "audio": true });
        self.call_post(id, "mute_users", &body).await
    }

    /// `POST /api/v2/video/call/default/{id}/{action}` with a JSON body; safe to repeat.
    async fn call_post(
        &self,
        id: &str,
        action: &str,
        body: &serde_json::Value,
    ) -> Result<Acknowledged, StreamError> {
        self.send(
            Method::POST,
            &["api", "v2", "video", "call", CALL_TYPE, id, action],
            Some(body),
            Repeat::Safe,
        )
        .await
    }

    /// The roles and capabilities of a call type (`default`).
    pub async fn get_call_type(&self, name: &str) -> Result<CallTypeResponse, StreamError> {
        self.send::<_, ()>(
            Method::GET,
            &["api", "v2", "video", "calltypes", name],
            None,
            Repeat::Safe,
        )
        .await
    }

    /// Replaces the capabilities of the roles named in `grants` for a call type.
    pub async fn update_call_type_grants(
        &self,
        name: &str,
        grants: &BTreeMap<String, Vec<String>>,
    ) -> Result<CallTypeResponse, StreamError> {
        self.send(
            Method::PUT,
            &["api", "v2", "video", "calltypes", name],
            Some(&serde_json::json!({ "grants": grants })),
            Repeat::Safe,
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
            .header("x-stream-client", CLIENT_NAME)
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

#[cfg(test)]
mod tests {
    use super::*;

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
