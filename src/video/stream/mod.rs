//! Stream Video as the media backend: user tokens for the browser client, the server-side REST
//! calls that keep Stream's calls in step with our meetings, and webhook verification.
//!
//! The database stays the system of record; Stream is told about meetings (created, ended) and
//! tells us about attendance and recordings by webhook.

pub mod call_type;
pub mod client;
pub mod deliveries;
pub mod moderation;
pub mod token;
pub mod webhook;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use url::Url;

use crate::auth::CurrentUser;
use crate::cluster::Cluster;
use crate::config::StreamSettings;
use crate::meetings::Meeting;
use crate::rate_limit::Limiter;
use client::{CallCustom, CallRecording, CallRequest, GetOrCreateCallRequest, StreamClient};
pub use client::{RetryPolicy, StreamError};
pub use token::UserToken;

/// People one meeting's room holds in Stream mode (Stream carries the media and has its own
/// limits; the room carries the waiting room, the host's controls and the chat).
pub const ROOM_MAX_PARTICIPANTS: usize = 1000;

/// A failed profile upsert is tried again after this long, not on every token request.
const UPSERT_RETRY_AFTER: Duration = Duration::from_secs(60);

/// A meeting's recordings as Stream listed them are taken as current for this long: a page
/// of recordings reloaded, or opened by several attendees, asks Stream once.
pub const RECORDINGS_FRESH_FOR: Duration = Duration::from_secs(30);
/// The same for a meeting that ended over an hour ago: nothing new is recorded there, and a
/// new recording of it (a late `recording_ready`) arrives by webhook, which clears this.
pub const SETTLED_RECORDINGS_FRESH_FOR: Duration = Duration::from_secs(600);
/// Listings remembered at most (old ones are dropped first).
const RECORDINGS_LISTED_MAX: usize = 4096;

/// Hosts the browser client talks to: the coordinator (`*.stream-io-api.com`) and the SFUs and
/// location hint (`*.stream-io-video.com`), over https and WebSockets.
pub const STREAM_HOSTS: [&str; 4] = [
    "https://*.stream-io-api.com",
    "wss://*.stream-io-api.com",
    "https://*.stream-io-video.com",
    "wss://*.stream-io-video.com",
];

/// Where Stream's recordings are served from (`https://<region>.stream-io-cdn.com/…`).
pub const STREAM_RECORDINGS_CDN: &str = "https://*.stream-io-cdn.com";

/// A person's name and picture as last sent to Stream.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Profile {
    name: String,
    image: Option<String>,
}

#[derive(Debug)]
struct Synced {
    profile: Profile,
    ok: bool,
    at: Instant,
}

/// Stream mode's state: the signer, the REST client and what it has told Stream already.
#[derive(Debug)]
pub struct StreamMedia {
    api_key: String,
    base_url: Url,
    signer: token::Signer,
    client: StreamClient,
    /// Users whose current profile Stream has (or was refused recently), by ID.
    synced: Mutex<HashMap<String, Synced>>,
    token_limiter: Limiter,
    /// When each meeting's recordings were last listed from Stream, by meeting ID. Each
    /// instance keeps its own; what makes one out of date reaches the others as an event.
    listed: Mutex<HashMap<String, Instant>>,
    cluster: Cluster,
}

impl StreamMedia {
    /// Stream mode; `pool` decides where the token limit counts (see [`Limiter::new`]), and
    /// `cluster` is who hears that a listing is out of date.
    pub fn new(
        settings: &StreamSettings,
        pool: &crate::db::Pool,
        cluster: Cluster,
    ) -> anyhow::Result<Self> {
        let signer = token::Signer::new(settings.secret.clone());
        let client = StreamClient::new(
            settings.base_url.clone(),
            &settings.api_key,
            &signer.server_token(),
        )?;
        Ok(Self {
            api_key: settings.api_key.clone(),
            base_url: settings.base_url.clone(),
            signer,
            client,
            synced: Mutex::new(HashMap::new()),
            // The browser client asks once per page and again about once an hour; the default
            // of sixty a minute leaves room for reloads and retries, not for a loop.
            token_limiter: Limiter::new(
                "stream_token",
                settings.token_requests_per_minute,
                Duration::from_secs(60),
                pool,
            ),
            listed: Mutex::new(HashMap::new()),
            cluster,
        })
    }

    /// Replaces the REST client's retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.client = self.client.with_retry(retry);
        self
    }

    /// The public API key (safe to show to browsers).
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// Where the browser client finds Stream's coordinator: `STREAM_BASE_URL` + `/video`, as
    /// Stream's own client defaults to for the default base URL.
    pub fn coordinator_url(&self) -> String {
        format!("{}/video", self.base_url.as_str().trim_end_matches('/'))
    }

    /// `connect-src` additions for the CSP: Stream's hosts and the configured base URL.
    pub fn csp_connect_sources(&self) -> Vec<String> {
        let mut sources: Vec<String> = STREAM_HOSTS.iter().map(|s| s.to_string()).collect();
        let origin = self.base_url.origin().ascii_serialization();
        let ws = origin
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        for s in [origin, ws] {
            if !sources.contains(&s) {
                sources.push(s);
            }
        }
        sources
    }

    /// Counts a token request for this person; `Ok(Err(wait))` when they are over the limit.
    pub async fn check_token_rate(
        &self,
        user_id: &str,
    ) -> Result<Result<(), Duration>, sqlx::Error> {
        self.token_limiter.try_hit(user_id).await
    }

    /// A user token for this person, issued now.
    pub fn user_token(&self, user_id: &str, now: i64) -> UserToken {
        self.signer.user_token(user_id, now)
    }

    /// A token for this person that admits them to the meeting's call only.
    pub fn call_token(&self, user_id: &str, meeting_id: &str, now: i64) -> UserToken {
        self.signer.call_token(
            user_id,
            &[format!("{}:{meeting_id}", client::CALL_TYPE)],
            now,
        )
    }

    /// Makes sure Stream has this person's current name and picture: upserts them the first
    /// time, and again when they changed. Costs nothing on the usual path (a map look-up).
    pub async fn sync_user(&self, user: &CurrentUser) -> Result<(), StreamError> {
        let fresh = {
            let synced = self.synced.lock().unwrap_or_else(|e| e.into_inner());
            synced.get(&user.id).is_some_and(|s| {
                s.profile.name == user.display_name
                    && s.profile.image == user.image_url
                    && (s.ok || s.at.elapsed() < UPSERT_RETRY_AFTER)
            })
        };
        if fresh {
            return Ok(());
        }
        let profile = Profile {
            name: user.display_name.clone(),
            image: user.image_url.clone(),
        };
        let result = self
            .client
            .upsert_user(client::UserRequest {
                id: &user.id,
                name: &profile.name,
                image: profile.image.as_deref(),
            })
            .await
            .map(|_| ());
        if let Err(e) = &result {
            tracing::warn!(user = %user.id, error = %e, "Failed to upsert the user to Stream");
        }
        self.synced
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                user.id.clone(),
                Synced {
                    profile,
                    ok: result.is_ok(),
                    at: Instant::now(),
                },
            );
        result
    }

    /// Creates the meeting's call on Stream (`default:{id}`), owned by its host.
    pub async fn create_call(
        &self,
        meeting: &Meeting,
        owner: &CurrentUser,
    ) -> Result<(), StreamError> {
        // Stream refuses a call created by a user it does not know.
        self.sync_user(owner).await?;
        let request = GetOrCreateCallRequest {
            data: CallRequest {
                created_by_id: &owner.id,
                starts_at: crate::time::iso(meeting.starts_at),
                custom: CallCustom {
                    description: &meeting.description,
                },
            },
        };
        let answer = self
            .client
            .get_or_create_call(&meeting.id, &request)
            .await?;
        tracing::info!(meeting = %meeting.id, created = answer.created, "Stream call ready");
        Ok(())
    }

    /// Ends the meeting's call for everyone in it.
    pub async fn end_call(&self, meeting_id: &str) -> Result<(), StreamError> {
        self.client.mark_ended(meeting_id).await.map(|_| ())
    }

    /// Starts Stream's cloud recording of the meeting's call.
    pub async fn start_recording(&self, meeting_id: &str) -> Result<(), StreamError> {
        self.client.start_recording(meeting_id).await.map(|_| ())
    }

    /// Stops the cloud recording of the meeting's call.
    pub async fn stop_recording(&self, meeting_id: &str) -> Result<(), StreamError> {
        self.client.stop_recording(meeting_id).await.map(|_| ())
    }

    /// Deletes one recording from Stream. One Stream no longer has counts as deleted.
    pub async fn delete_recording(
        &self,
        meeting_id: &str,
        session: &str,
        filename: &str,
    ) -> Result<(), StreamError> {
        let result = match self
            .client
            .delete_recording(meeting_id, session, filename)
            .await
        {
            Err(e) if e.status() == Some(404) => Ok(()),
            other => other.map(|_| ()),
        };
        // Whatever happened, the next listing asks Stream again (on every instance).
        self.forget_listing(meeting_id).await;
        result
    }

    /// The recordings Stream holds of a meeting. A call Stream does not know (a meeting made
    /// before the server used Stream) has none.
    pub async fn list_recordings(
        &self,
        meeting_id: &str,
    ) -> Result<Vec<CallRecording>, StreamError> {
        let recordings = match self.client.list_recordings(meeting_id).await {
            Ok(answer) => answer.recordings,
            Err(e) if e.status() == Some(404) => Vec::new(),
            Err(e) => return Err(e),
        };
        let mut listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        if listed.len() >= RECORDINGS_LISTED_MAX {
            listed.retain(|_, at| at.elapsed() < SETTLED_RECORDINGS_FRESH_FOR);
            if listed.len() >= RECORDINGS_LISTED_MAX {
                listed.clear();
            }
        }
        listed.insert(meeting_id.to_owned(), Instant::now());
        Ok(recordings)
    }

    /// The meetings among `ids` whose recordings were not listed within the time given with
    /// each, in the order given.
    pub fn recordings_due(&self, ids: Vec<(String, Duration)>) -> Vec<String> {
        let listed = self.listed.lock().unwrap_or_else(|e| e.into_inner());
        ids.into_iter()
            .filter(|(id, fresh_for)| listed.get(id).is_none_or(|at| at.elapsed() >= *fresh_for))
            .map(|(id, _)| id)
            .collect()
    }

    /// Makes the next listing of a meeting's recordings ask Stream, on every instance (one was
    /// added or removed).
    pub async fn forget_listing(&self, meeting_id: &str) {
        self.forget_listing_here(meeting_id);
        let meeting = meeting_id.to_owned();
        self.cluster
            .publish(crate::cluster::Event::RecordingsChanged { meeting })
            .await;
    }

    /// Makes this instance's next listing of a meeting's recordings ask Stream.
    pub fn forget_listing_here(&self, meeting_id: &str) {
        self.listed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(meeting_id);
    }

    /// Whether a webhook's `X-Signature` is ours, over the bytes Stream signed.
    pub fn verify_webhook(&self, signed_bytes: &[u8], signature: &str) -> bool {
        self.signer.verify_body(signed_bytes, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn media() -> StreamMedia {
        sqlx::any::install_default_drivers();
        let pool = crate::db::Pool::connect_lazy("sqlite::memory:").unwrap();
        StreamMedia::new(
            &StreamSettings {
                api_key: "key123".into(),
                secret: SecretString::from("secret456-unique"),
                base_url: Url::parse("http://127.0.0.1:9/").unwrap(),
                token_requests_per_minute: 60,
                restrict_calls: false,
            },
            &pool,
            Cluster::single(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn debug_output_shows_neither_the_secret_nor_the_server_token() {
        let m = media();
        let debug = format!("{m:?}");
        assert!(!debug.contains("secret456-unique"), "{debug}");
        assert!(!debug.contains(&m.signer.server_token()), "{debug}");
        assert!(debug.contains("key123"));
    }

    #[tokio::test]
    async fn each_meeting_is_due_once_its_own_freshness_has_passed() {
        let m = media();
        let a_minute_ago = Instant::now() - Duration::from_secs(60);
        {
            let mut listed = m.listed.lock().unwrap();
            listed.insert("recent".into(), a_minute_ago);
            listed.insert("settled".into(), a_minute_ago);
            listed.insert("just".into(), Instant::now());
        }
        let due = m.recordings_due(vec![
            ("recent".into(), RECORDINGS_FRESH_FOR),
            ("settled".into(), SETTLED_RECORDINGS_FRESH_FOR),
            ("just".into(), RECORDINGS_FRESH_FOR),
            ("never".into(), SETTLED_RECORDINGS_FRESH_FOR),
        ]);
        assert_eq!(due, ["recent", "never"]);
        m.forget_listing_here("just");
        assert_eq!(
            m.recordings_due(vec![("just".into(), SETTLED_RECORDINGS_FRESH_FOR)]),
            ["just"]
        );
    }

    #[tokio::test]
    async fn the_browser_client_and_the_csp_follow_the_base_url() {
        let m = media();
        assert_eq!(m.coordinator_url(), "http://127.0.0.1:9/video");
        let csp = m.csp_connect_sources();
        assert!(csp.contains(&"http://127.0.0.1:9".to_owned()), "{csp:?}");
        assert!(csp.contains(&"ws://127.0.0.1:9".to_owned()), "{csp:?}");
        assert!(csp.contains(&"wss://*.stream-io-video.com".to_owned()));
    }
}
