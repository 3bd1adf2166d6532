//! Media: how meetings carry audio and video. The built-in WebRTC mesh today; a hosted
//! provider is another variant of [`Media`].

pub mod mesh;

use std::sync::Arc;

/// The media mode chosen at start-up.
#[derive(Debug, Clone)]
pub enum Media {
    /// Browsers connect to each other directly; the server only relays signalling.
    Mesh(Arc<mesh::Hub>),
}

/// What the meeting page needs to know to start its media adapter.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Which adapter module the page loads (`mesh`).
    pub adapter: &'static str,
    /// Most people a room holds (mesh rooms are capped).
    pub max_participants: usize,
}

impl Media {
    pub fn client_config(&self) -> ClientConfig {
        match self {
            Self::Mesh(hub) => ClientConfig {
                adapter: "mesh",
                max_participants: hub.max_participants,
            },
        }
    }

    /// Tells connected participants that the host ended the meeting.
    pub async fn meeting_ended(&self, meeting_id: &str) {
        match self {
            Self::Mesh(hub) => hub.end(meeting_id).await,
        }
    }

    /// Tells the people in a meeting that a recording started or stopped.
    pub async fn recording_changed(&self, meeting_id: &str, active: bool, name: &str) {
        match self {
            Self::Mesh(hub) => {
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
            Self::Mesh(hub) => {
                let message = mesh::protocol::ServerMessage::RecordingPermission { allowed };
                hub.broadcast(meeting_id, message).await;
            }
        }
    }

    /// The signalling hub, when meetings run on the mesh.
    pub fn mesh_hub(&self) -> Option<&Arc<mesh::Hub>> {
        match self {
            Self::Mesh(hub) => Some(hub),
        }
    }
}
