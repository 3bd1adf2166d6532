//! What a room stores: attendance, the host's decisions and the chat. Written in order by one
//! task per room, off the room's loop, so a slow disk never delays signalling.

use tokio::sync::{mpsc, oneshot};

use crate::db::Pool;
use crate::meetings::access::{self, Decision};
use crate::meetings::chat::{self, ChatMessage};
use crate::meetings::store;

/// One thing for the room's writer to store.
pub enum Write {
    Join(String),
    Seen(Vec<String>),
    Leave(String),
    /// The host ended the meeting: write it, then let the room tell everyone.
    End {
        owner: String,
        done: oneshot::Sender<()>,
    },
    /// The host let someone in, or removed them (account, name).
    Decide(String, String, Decision),
    /// The host let a removed person back.
    Forget(String),
    Settings {
        waiting_room: bool,
        locked: bool,
    },
    Chat(ChatMessage),
    ChatDelete(i64),
    /// Answers once every write sent before it is done (writes are applied in order).
    Flush(oneshot::Sender<()>),
}

/// Starts the writer of one room's meeting.
pub fn spawn_writer(pool: Pool, meeting_id: String) -> mpsc::UnboundedSender<Write> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Write>();
    tokio::spawn(async move {
        while let Some(write) = rx.recv().await {
            let now = crate::time::now();
            let what = write.name();
            if let Err(e) = apply(&pool, &meeting_id, write, now).await {
                tracing::error!(error = %e, meeting = %meeting_id, what, "a room's write failed");
            }
        }
    });
    tx
}

impl Write {
    fn name(&self) -> &'static str {
        match self {
            Self::Join(_) | Self::Seen(_) | Self::Leave(_) => "attendance",
            Self::End { .. } => "end",
            Self::Decide(..) | Self::Forget(_) => "admission",
            Self::Settings { .. } => "settings",
            Self::Chat(_) | Self::ChatDelete(_) => "chat",
            Self::Flush(_) => "flush",
        }
    }
}

async fn apply(pool: &Pool, meeting: &str, write: Write, now: i64) -> Result<(), sqlx::Error> {
    match write {
        Write::Join(user) => store::record_join(pool, meeting, &user, now).await,
        Write::Leave(user) => store::record_leave(pool, meeting, &user, now).await,
        Write::Seen(users) => {
            let mut result = Ok(());
            for user in users {
                result = result.and(store::record_seen(pool, meeting, &user, now).await);
            }
            result
        }
        Write::End { owner, done } => {
            let result = store::end(pool, meeting, &owner, now).await;
            let _ = done.send(());
            if let Err(e) = result {
                tracing::error!(error = %e, meeting = %meeting, "failed to end meeting");
            }
            Ok(())
        }
        Write::Decide(user, name, decision) => {
            access::decide(pool, meeting, &user, &name, decision, now).await
        }
        Write::Forget(user) => access::forget(pool, meeting, &user).await,
        Write::Settings {
            waiting_room,
            locked,
        } => access::save_settings(pool, meeting, waiting_room, locked, now).await,
        Write::Chat(message) => chat::insert(pool, meeting, &message).await,
        Write::ChatDelete(seq) => chat::delete(pool, meeting, seq, now).await,
        Write::Flush(done) => {
            let _ = done.send(());
            Ok(())
        }
    }
}
