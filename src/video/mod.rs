//! Media: how meetings carry audio and video. The built-in WebRTC mesh today; a hosted
//! provider is another variant of [`Media`].

/// The media mode chosen at start-up.
#[derive(Debug, Clone)]
pub enum Media {
    /// Browsers connect to each other directly; the server only relays signalling.
    Mesh,
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
            Self::Mesh => ClientConfig { adapter: "mesh" },
        }
    }

    /// Tells connected participants that the host ended the meeting.
    pub async fn meeting_ended(&self, _meeting_id: &str) {
        match self {
            Self::Mesh => {}
        }
    }
}
