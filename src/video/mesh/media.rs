//! A room's media: relayed between browsers (the mesh: the room only passes signalling on), or
//! forwarded by the built-in SFU's engine, which the room task owns and drives. Everything the
//! room asks of its media goes through here, so the room itself does not care which it is.

use std::sync::Arc;

use super::protocol::{PeerInfo, TileSize};
use crate::video::sfu::Sfu;
use crate::video::sfu::engine::{Effects, MediaState, RoomEngine, Tile, Wake};

/// Tiles one layout message may list; a page shows at most a few dozen.
pub const MAX_LAYOUT_TILES: usize = 64;

pub enum RoomMedia {
    /// Browsers send media to each other.
    Relay,
    /// The server forwards media.
    Sfu(Box<RoomEngine>),
}

impl RoomMedia {
    pub fn new(sfu: Option<&Arc<Sfu>>) -> Self {
        match sfu {
            Some(sfu) => Self::Sfu(Box::new(RoomEngine::new(sfu.clone()))),
            None => Self::Relay,
        }
    }

    /// The engine's next packet or timer; never, for a relay.
    pub async fn wake(&mut self) -> Wake {
        match self {
            Self::Sfu(engine) => engine.wake().await,
            Self::Relay => std::future::pending().await,
        }
    }

    pub fn woke(&mut self, wake: Wake) -> Effects {
        match self {
            Self::Sfu(engine) => engine.handle(wake),
            Self::Relay => Effects::default(),
        }
    }

    /// Someone is in the room now and may receive and send media.
    pub fn joined(&mut self, info: &PeerInfo) {
        if let Self::Sfu(engine) = self {
            engine.add_peer(&info.id, state_of(info));
        }
    }

    pub fn left(&mut self, peer: &str) -> Effects {
        match self {
            Self::Sfu(engine) => engine.remove_peer(peer),
            Self::Relay => Effects::default(),
        }
    }

    pub fn media_state(&mut self, info: &PeerInfo) {
        if let Self::Sfu(engine) = self {
            engine.media_state(&info.id, state_of(info));
        }
    }

    /// `None` when the room has no media server to offer to.
    pub fn offer(&mut self, peer: &str, sdp: &str) -> Option<Effects> {
        match self {
            Self::Sfu(engine) => Some(engine.offer(peer, sdp)),
            Self::Relay => None,
        }
    }

    /// False when the room has no media server to tell.
    pub fn layout(&mut self, peer: &str, tiles: Vec<TileSize>) -> bool {
        match self {
            Self::Sfu(engine) => {
                let tiles = tiles
                    .into_iter()
                    .take(MAX_LAYOUT_TILES)
                    .map(|t| Tile {
                        peer: t.id,
                        height: t.height,
                    })
                    .collect();
                engine.layout(peer, tiles);
                true
            }
            Self::Relay => false,
        }
    }
}

fn state_of(info: &PeerInfo) -> MediaState {
    MediaState {
        audio: info.audio,
        video: info.video,
        screen: info.screen,
    }
}
