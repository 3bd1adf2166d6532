//! Several instances behind one address, on one PostgreSQL database.
//!
//! Everything instances must agree on lives in the database (meetings, sessions, the session
//! key, rate limits, locks). What cannot, the live state of a meeting's room (who is connected,
//! the mesh's signalling, an SFU's media), stays in one process: each room lives on exactly one
//! instance, recorded in `room_owner`, and every instance keeps a heartbeat in `instance`.
//!
//! - A participant's socket reaches whichever instance the proxy picked. That instance claims
//!   the room if nobody live holds it; if another instance does, it relays the socket there
//!   ([`relay`]): an internal hop, so browsers, cookies and the proxy need nothing, and media
//!   (an SFU's) goes to the instance that owns the room.
//! - An instance that dies stops its heartbeat; after [`DEAD_AFTER`] (sooner when a relay
//!   finds it unreachable) the next participant's instance takes the room over. The dead
//!   instance's rooms lose only their live state; clients reconnect as after a restart.
//! - An instance that cannot keep its heartbeat, or finds its claim taken, closes its copies
//!   of those rooms, so a room never runs twice.
//! - Commands for a room that arrive at another instance (the host ends the meeting through a
//!   page, a webhook ends it, a recording starts) travel by `NOTIFY` ([`events`]).
//!
//! On SQLite there is one instance: [`Cluster::single`], and all of this is skipped.

pub mod events;
pub mod registry;
pub mod relay;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use url::Url;

use crate::db::Pool;
pub use events::{Event, Publisher};

/// How often an instance refreshes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// An instance whose heartbeat is older than this is dead: its rooms may be taken over.
pub const DEAD_AFTER: Duration = Duration::from_secs(4);
/// When a relay cannot reach the owner at all, a heartbeat this old is enough to take over.
pub const UNREACHABLE_AFTER: Duration = Duration::from_secs(2);
/// Instances silent this long are removed from the table (with their claims).
pub const FORGET_AFTER: Duration = Duration::from_secs(60);

/// What the heartbeat needs of this instance's rooms (the meeting rooms' hub).
pub trait Rooms: Send + Sync + 'static {
    /// The meetings whose rooms run here now.
    fn local_rooms(&self) -> Vec<String>;
    /// Closes the room here without ending the meeting: its people reconnect, to whichever
    /// instance holds the room then.
    fn evict(&self, meeting_id: &str) -> impl Future<Output = ()> + Send;
}

/// Where a meeting's room lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// On this instance.
    Here,
    /// On another one, reached at this URL.
    There { instance: String, url: Url },
    /// Nowhere this instance can tell (it is leaving): try again.
    Unknown,
}

/// This instance among the others: alone, or one of several on a shared database.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    shared: Option<Arc<Shared>>,
}

#[derive(Debug)]
struct Shared {
    pool: Pool,
    id: String,
    url: Url,
    events: Publisher,
    /// Set when the instance starts leaving: it takes no new rooms.
    leaving: AtomicBool,
}

impl Cluster {
    /// The only instance (SQLite).
    pub fn single() -> Self {
        Self::default()
    }

    /// One of several instances on `pool`'s database, reached by the others at `url`.
    pub fn shared(pool: Pool, id: String, url: Url) -> Self {
        Self {
            shared: Some(Arc::new(Shared {
                events: Publisher::new(pool.clone(), id.clone()),
                pool,
                id,
                url,
                leaving: AtomicBool::new(false),
            })),
        }
    }

    /// True when other instances may share the database.
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// This instance's ID among the others (none when alone).
    pub fn id(&self) -> Option<&str> {
        self.shared.as_ref().map(|s| s.id.as_str())
    }

    /// Where the others reach this instance (none when alone).
    pub fn url(&self) -> Option<&Url> {
        self.shared.as_ref().map(|s| &s.url)
    }

    /// True once the instance started leaving (shutting down).
    pub fn is_leaving(&self) -> bool {
        self.shared
            .as_ref()
            .is_some_and(|s| s.leaving.load(Ordering::Relaxed))
    }

    /// Tells the other instances (nothing to do when alone).
    pub async fn publish(&self, event: Event) {
        if let Some(shared) = &self.shared {
            shared.events.publish(event).await;
        }
    }

    /// Where the meeting's room lives, claiming it for this instance if no live instance
    /// holds it.
    pub async fn owner(&self, meeting_id: &str) -> Result<Owner, sqlx::Error> {
        match &self.shared {
            None => Ok(Owner::Here),
            Some(shared) => registry::claim(shared, meeting_id, DEAD_AFTER).await,
        }
    }

    /// The room's owner could not be reached: takes the room over if its heartbeat is late
    /// (it is down, or on its way down).
    pub async fn take_over(&self, meeting_id: &str) -> Result<Owner, sqlx::Error> {
        match &self.shared {
            None => Ok(Owner::Here),
            Some(shared) => registry::claim(shared, meeting_id, UNREACHABLE_AFTER).await,
        }
    }

    /// The room's owner gave this instance's own address: it stopped, and this instance now
    /// listens where it did (a restart). Takes the room over at once.
    pub async fn take_over_from_predecessor(&self, meeting_id: &str) -> Result<Owner, sqlx::Error> {
        match &self.shared {
            None => Ok(Owner::Here),
            Some(shared) => registry::claim(shared, meeting_id, Duration::ZERO).await,
        }
    }
}
