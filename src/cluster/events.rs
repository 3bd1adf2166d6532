//! What one instance tells the others, over PostgreSQL's `LISTEN`/`NOTIFY`: a cache to forget,
//! or a command for a meeting's room, which lives on one instance only. Notifications are not
//! stored: an instance that is not listening at that moment (restarting, reconnecting) misses
//! them, so nothing here is the only record of anything; the database is.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::db::Pool;

/// The channel every instance listens on.
pub const CHANNEL: &str = "yoom_events";
/// How long a listener whose connection broke waits before connecting again.
const RECONNECT_AFTER: Duration = Duration::from_secs(1);

/// Something another instance should know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A meeting's recordings changed at the hosted provider (one arrived by webhook, one was
    /// deleted): forget when its listing was last fetched.
    RecordingsChanged { meeting: String },
    /// The meeting ended: its room tells everyone and closes.
    EndRoom { meeting: String },
    /// A recording of the meeting started or stopped (its room tells everyone).
    RecordingState {
        meeting: String,
        active: bool,
        name: String,
    },
    /// The host let everyone record, or stopped letting them.
    RecordingAllowed { meeting: String, allowed: bool },
}

/// An event as sent: who sent it, so an instance skips what it did itself.
#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    from: String,
    #[serde(flatten)]
    event: Event,
}

/// Sends events to the other instances.
#[derive(Debug, Clone)]
pub struct Publisher {
    pool: Pool,
    me: String,
}

impl Publisher {
    pub fn new(pool: Pool, me: String) -> Self {
        Self { pool, me }
    }

    /// Sends an event; a failure is logged (the event is a hint, see the module's note).
    pub async fn publish(&self, event: Event) {
        let payload = match serde_json::to_string(&Envelope {
            from: self.me.clone(),
            event,
        }) {
            Ok(payload) => payload,
            Err(e) => {
                tracing::error!(error = %e, "could not encode an event");
                return;
            }
        };
        if let Err(e) = sqlx::query("select pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(&payload)
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "could not tell the other instances");
        }
    }
}

/// Listens for the other instances' events for as long as the process runs, handing each to
/// `handle` in the order they came; reconnects when the connection breaks.
pub fn listen<F, Fut>(database_url: String, me: String, handle: F)
where
    F: Fn(Event) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        loop {
            let mut listener = match sqlx::postgres::PgListener::connect(&database_url).await {
                Ok(listener) => listener,
                Err(e) => {
                    tracing::warn!(error = %e, "could not listen for the other instances");
                    tokio::time::sleep(RECONNECT_AFTER).await;
                    continue;
                }
            };
            if let Err(e) = listener.listen(CHANNEL).await {
                tracing::warn!(error = %e, "could not listen for the other instances");
                tokio::time::sleep(RECONNECT_AFTER).await;
                continue;
            }
            loop {
                // `recv` reconnects by itself after a dropped connection (events sent meanwhile
                // are lost); an error here means reconnecting failed.
                let notification = match listener.recv().await {
                    Ok(notification) => notification,
                    Err(e) => {
                        tracing::warn!(error = %e, "lost the other instances' events");
                        tokio::time::sleep(RECONNECT_AFTER).await;
                        break;
                    }
                };
                match serde_json::from_str::<Envelope>(notification.payload()) {
                    Ok(envelope) if envelope.from == me => {}
                    Ok(envelope) => handle(envelope.event).await,
                    Err(e) => tracing::warn!(error = %e, "an event could not be read"),
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_travel_as_small_json_with_their_sender() {
        let text = serde_json::to_string(&Envelope {
            from: "a1".into(),
            event: Event::RecordingState {
                meeting: "m".into(),
                active: true,
                name: "Ada".into(),
            },
        })
        .unwrap();
        assert_eq!(
            text,
            r#"{"from":"a1","event":"recording_state","meeting":"m","active":true,"name":"Ada"}"#
        );
        let back: Envelope = serde_json::from_str(&text).unwrap();
        assert_eq!(back.from, "a1");
        assert!(matches!(
            back.event,
            Event::RecordingState { active: true, .. }
        ));
    }
}
