//! Host decisions Stream must enforce, since its calls do not pass through our rooms: a
//! removed person is kicked and blocked (and unblocked when let back), a mute request is
//! Stream's server-side mute. Done one at a time, off the rooms' loops; a failure is logged
//! (the room has already refused the person, and its page has been told).

use std::sync::Arc;

use tokio::sync::mpsc;

use super::StreamMedia;
use crate::video::mesh::Moderation;

/// Carries out host decisions at Stream as they come.
pub fn spawn(stream: Arc<StreamMedia>, mut decisions: mpsc::UnboundedReceiver<Moderation>) {
    tokio::spawn(async move {
        while let Some(decision) = decisions.recv().await {
            let result = match &decision {
                Moderation::Remove {
                    meeting_id,
                    user_id,
                } => stream.client.kick_user(meeting_id, user_id).await,
                Moderation::AllowBack {
                    meeting_id,
                    user_id,
                } => stream.client.unblock_user(meeting_id, user_id).await,
                Moderation::Mute {
                    meeting_id,
                    user_ids,
                    ..
                } if !user_ids.is_empty() => stream.client.mute_users(meeting_id, user_ids).await,
                Moderation::Mute { .. } => continue,
            };
            match result {
                Ok(_) => tracing::info!(?decision, "Stream carried out a host decision"),
                Err(e) => {
                    tracing::error!(?decision, error = %e, "Stream did not carry out a host decision")
                }
            }
        }
    });
}
