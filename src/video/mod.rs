//! Media: how meetings carry audio and video. The built-in SFU (the server forwards media), the
//! built-in WebRTC mesh (browsers send to each other), or Stream Video as a hosted provider.
//! Handlers ask [`Media`]; they never look at the mode themselves.

pub mod mesh;
pub mod sfu;
pub mod stream;

use std::sync::Arc;
use std::time::Duration;

use crate::auth::CurrentUser;
use crate::meetings::Meeting;

/// The media mode chosen at start-up.
#[derive(Debug, Clone)]
pub enum Media {
    /// Browsers connect to each other directly; the server only relays signalling.
    Mesh(Arc<mesh::Hub>),
    /// Each browser connects to the server, which forwards media; its rooms (the same as the
    /// mesh's) own each meeting's forwarding engine.
    Sfu(Arc<mesh::Hub>),
    /// Stream Video carries the media; the server issues tokens and keeps calls in step. Its
    /// rooms carry the waiting room, the host's controls and the chat (not the media).
    Stream {
        stream: Arc<stream::StreamMedia>,
        rooms: Arc<mesh::Hub>,
    },
}

/// What the meeting page needs to know to start its media adapter. Nothing secret.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Which adapter module the page loads (`sfu`, `mesh` or `stream`).
    pub adapter: &'static str,
    /// The adapter's module and the modules it imports (in `static/js/meeting/`), fetched as
    /// the page loads so joining does not wait for them one after the other.
    pub preload: &'static [&'static str],
    /// Most people a room holds (mesh rooms are capped; 0 means no cap of ours).
    pub max_participants: usize,
    /// Stream's public API key.
    pub api_key: Option<String>,
    /// Where the Stream browser client finds the coordinator.
    pub coordinator_url: Option<String>,
}

/// Why a media request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum MediaError {
    /// The request only makes sense with a hosted provider.
    #[error("This server runs meetings on its built-in media, without a hosted video service.")]
    NotHosted,
    /// Too many token requests from one person.
    #[error("Too many requests for a video token.")]
    RateLimited(Duration),
    /// The hosted provider refused or could not be reached.
    #[error(transparent)]
    Provider(#[from] stream::StreamError),
    /// The database failed (counting the request, for instance).
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<MediaError> for crate::errors::AppError {
    fn from(e: MediaError) -> Self {
        use crate::errors::AppError;
        match e {
            MediaError::NotHosted => AppError::NotFound(e.to_string()),
            MediaError::RateLimited(wait) => AppError::TooManyRequests {
                message: format!(
                    "Too many requests for a video token. Try again in {}.",
                    crate::rate_limit::describe_wait(wait)
                ),
                retry_after: wait.as_secs().max(1),
            },
            MediaError::Database(db) => db.into(),
            MediaError::Provider(cause) => {
                tracing::error!(error = ?cause, "Stream request failed");
                AppError::Unavailable(
                    "The video service could not be reached. Please try again.".into(),
                )
            }
        }
    }
}

/// What `GET /api/token?meeting=…` answers: everything the browser client needs, and nothing
/// secret.
#[derive(Debug, serde::Serialize)]
pub struct TokenGrant {
    pub api_key: String,
    pub token: String,
    pub user: TokenUser,
    /// When the token stops being valid, in seconds since the epoch.
    pub expires_at: i64,
}

#[derive(Debug, serde::Serialize)]
pub struct TokenUser {
    pub id: String,
    pub name: String,
    pub image: Option<String>,
}

impl Media {
    pub fn client_config(&self) -> ClientConfig {
        match self {
            Self::Sfu(hub) => ClientConfig {
                adapter: "sfu",
                preload: &["sfu.js", "mesh.js", "room-adapter.js"],
                max_participants: hub.max_participants,
                api_key: None,
                coordinator_url: None,
            },
            Self::Mesh(hub) => ClientConfig {
                adapter: "mesh",
                preload: &["mesh.js", "room-adapter.js"],
                max_participants: hub.max_participants,
                api_key: None,
                coordinator_url: None,
            },
            Self::Stream { stream, .. } => ClientConfig {
                adapter: "stream",
                preload: &[],
                max_participants: 0,
                api_key: Some(stream.api_key().to_owned()),
                coordinator_url: Some(stream.coordinator_url()),
            },
        }
    }

    /// `connect-src` additions for the CSP in this mode.
    pub fn csp_connect_sources(&self) -> Vec<String> {
        match self {
            Self::Mesh(_) | Self::Sfu(_) => Vec::new(),
            Self::Stream { stream, .. } => stream.csp_connect_sources(),
        }
    }

    /// A meeting was just stored: the provider learns about it. On an error the caller removes
    /// the meeting again, so no half-made meeting is left behind.
    pub async fn meeting_created(
        &self,
        meeting: &Meeting,
        owner: &CurrentUser,
    ) -> Result<(), MediaError> {
        match self {
            Self::Mesh(_) | Self::Sfu(_) => Ok(()),
            Self::Stream { stream, .. } => Ok(stream.create_call(meeting, owner).await?),
        }
    }

    /// The host ended the meeting: tells everyone in it.
    pub async fn meeting_ended(&self, meeting_id: &str) -> Result<(), MediaError> {
        match self {
            Self::Mesh(hub) | Self::Sfu(hub) => {
                hub.end(meeting_id).await;
                Ok(())
            }
            Self::Stream { stream, rooms } => {
                rooms.end(meeting_id).await;
                Ok(stream.end_call(meeting_id).await?)
            }
        }
    }

    /// Applies what another instance said (see [`crate::cluster::events`]) to this one.
    pub async fn apply(&self, event: crate::cluster::Event) {
        use crate::cluster::Event;
        use mesh::protocol::ServerMessage;
        let rooms = self.rooms();
        match event {
            Event::RecordingsChanged { meeting } => {
                if let Some(stream) = self.stream() {
                    stream.forget_listing_here(&meeting);
                }
            }
            Event::EndRoom { meeting } => {
                rooms.end_here(&meeting).await;
            }
            Event::RecordingState {
                meeting,
                active,
                name,
            } => {
                let message = ServerMessage::Recording { active, name };
                rooms.broadcast_here(&meeting, message).await;
            }
            Event::RecordingAllowed { meeting, allowed } => {
                let message = ServerMessage::RecordingPermission { allowed };
                rooms.broadcast_here(&meeting, message).await;
            }
        }
    }

    /// A token for the browser client of this person that admits them to one meeting's call
    /// only (Stream mode only); the caller has checked that they were let in. Counts against
    /// the person's rate limit; upserts their profile to Stream the first time and after
    /// changes.
    pub async fn call_token(
        &self,
        user: &CurrentUser,
        meeting_id: &str,
    ) -> Result<TokenGrant, MediaError> {
        let Self::Stream { stream, .. } = self else {
            return Err(MediaError::NotHosted);
        };
        stream
            .check_token_rate(&user.id)
            .await?
            .map_err(MediaError::RateLimited)?;
        // A failed upsert must not keep people out of calls: the browser client sends the
        // same name and picture when it connects. It is logged and tried again later.
        let _ = stream.sync_user(user).await;
        let token = stream.call_token(&user.id, meeting_id, crate::time::now());
        Ok(TokenGrant {
            api_key: stream.api_key().to_owned(),
            token: token.token,
            user: TokenUser {
                id: user.id.clone(),
                name: user.display_name.clone(),
                image: user.image_url.clone(),
            },
            expires_at: token.expires_at,
        })
    }

    /// Starts the provider's own (cloud) recording of a meeting. `Ok(false)` on the mesh, where
    /// a participant's browser records and uploads instead.
    pub async fn start_cloud_recording(&self, meeting_id: &str) -> Result<bool, MediaError> {
        match self {
            Self::Mesh(_) | Self::Sfu(_) => Ok(false),
            Self::Stream { stream, .. } => {
                stream.start_recording(meeting_id).await?;
                Ok(true)
            }
        }
    }

    /// Stops the provider's cloud recording of a meeting (there is none on the mesh).
    pub async fn stop_cloud_recording(&self, meeting_id: &str) -> Result<(), MediaError> {
        match self {
            Self::Mesh(_) | Self::Sfu(_) => Err(MediaError::NotHosted),
            Self::Stream { stream, .. } => Ok(stream.stop_recording(meeting_id).await?),
        }
    }

    /// Tells the people in a meeting that a recording started or stopped.
    pub async fn recording_changed(&self, meeting_id: &str, active: bool, name: &str) {
        match self {
            // Stream clients learn about recordings from Stream itself.
            Self::Stream { .. } => {}
            Self::Mesh(hub) | Self::Sfu(hub) => {
                let message = mesh::protocol::ServerMessage::Recording {
                    active,
                    name: name.to_owned(),
                };
                hub.broadcast(meeting_id, message).await;
            }
        }
    }

    /// Tells the people in a meeting whether everyone may record now.
    pub async fn recording_permission_changed(&self, meeting_id: &str, allowed: bool) {
        match self {
            Self::Stream { .. } => {}
            Self::Mesh(hub) | Self::Sfu(hub) => {
                let message = mesh::protocol::ServerMessage::RecordingPermission { allowed };
                hub.broadcast(meeting_id, message).await;
            }
        }
    }

    /// `media-src` additions for the CSP in this mode: where provider recordings play from.
    pub fn csp_media_sources(&self) -> Vec<String> {
        match self {
            Self::Mesh(_) | Self::Sfu(_) => Vec::new(),
            Self::Stream { .. } => vec![stream::STREAM_RECORDINGS_CDN.to_owned()],
        }
    }

    /// The meeting rooms (who is in, who waits, the host's controls, the chat), in every mode.
    pub fn rooms(&self) -> &Arc<mesh::Hub> {
        match self {
            Self::Mesh(hub) | Self::Sfu(hub) => hub,
            Self::Stream { rooms, .. } => rooms,
        }
    }

    /// The Stream state, when meetings run on Stream.
    pub fn stream(&self) -> Option<&Arc<stream::StreamMedia>> {
        match self {
            Self::Stream { stream, .. } => Some(stream),
            Self::Mesh(_) | Self::Sfu(_) => None,
        }
    }
}
