//! The `instance` and `room_owner` tables: who is running, and which of them holds each room.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use url::Url;

use super::{Cluster, DEAD_AFTER, FORGET_AFTER, HEARTBEAT, Owner, Rooms, Shared};

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn millis(d: Duration) -> i64 {
    d.as_millis() as i64
}

/// Records this instance as running (again).
async fn register(shared: &Shared) -> Result<(), sqlx::Error> {
    let now = now_ms();
    sqlx::query(
        "insert into instance (id, url, heartbeat_at, started_at, created_at) \
         values ($1, $2, $3, $3, $3) on conflict (id) do update set heartbeat_at = $3, url = $2",
    )
    .bind(&shared.id)
    .bind(shared.url.as_str())
    .bind(now)
    .execute(&shared.pool)
    .await?;
    Ok(())
}

/// Registers the instance before it serves anything.
pub async fn join(cluster: &Cluster) -> Result<(), sqlx::Error> {
    match &cluster.shared {
        Some(shared) => register(shared).await,
        None => Ok(()),
    }
}

/// Claims the room unless an instance whose heartbeat is younger than `dead_after` holds it.
pub(super) async fn claim(
    shared: &Shared,
    meeting_id: &str,
    dead_after: Duration,
) -> Result<Owner, sqlx::Error> {
    if shared.leaving.load(Ordering::Relaxed) {
        return lookup(shared, meeting_id).await;
    }
    let now = now_ms();
    let claimed: Result<Option<String>, sqlx::Error> = sqlx::query_scalar(
        "insert into room_owner (meeting_id, instance_id, claimed_at, created_at) \
         values ($1, $2, $3, $3) on conflict (meeting_id) do update \
         set instance_id = excluded.instance_id, claimed_at = excluded.claimed_at \
         where room_owner.instance_id = excluded.instance_id or not exists ( \
           select 1 from instance i where i.id = room_owner.instance_id and i.heartbeat_at >= $4) \
         returning instance_id",
    )
    .bind(meeting_id)
    .bind(&shared.id)
    .bind(now)
    .bind(now - millis(dead_after))
    .fetch_optional(&shared.pool)
    .await;
    match claimed {
        Ok(Some(_)) => Ok(Owner::Here),
        Ok(None) => lookup(shared, meeting_id).await,
        // This instance's own row is gone (it was taken for dead): the heartbeat puts it back.
        Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => Ok(Owner::Unknown),
        Err(e) => Err(e),
    }
}

/// Who holds the room, without claiming it.
async fn lookup(shared: &Shared, meeting_id: &str) -> Result<Owner, sqlx::Error> {
    let row: Option<(String, String)> = sqlx::query_as(
        "select i.id, i.url from room_owner r join instance i on i.id = r.instance_id \
         where r.meeting_id = $1",
    )
    .bind(meeting_id)
    .fetch_optional(&shared.pool)
    .await?;
    Ok(match row {
        Some((instance, _)) if instance == shared.id => Owner::Here,
        Some((instance, url)) => match Url::parse(&url) {
            Ok(url) => Owner::There { instance, url },
            Err(_) => Owner::Unknown,
        },
        None => Owner::Unknown,
    })
}

/// The rooms the database says this instance holds.
async fn held_rooms(shared: &Shared) -> Result<HashSet<String>, sqlx::Error> {
    let rows: Vec<String> =
        sqlx::query_scalar("select meeting_id from room_owner where instance_id = $1")
            .bind(&shared.id)
            .fetch_all(&shared.pool)
            .await?;
    Ok(rows.into_iter().collect())
}

/// One beat: refreshes this instance's heartbeat (registering again if it was taken for
/// dead), closes the rooms it no longer holds, and forgets instances long silent.
async fn beat(shared: &Shared, hub: &impl Rooms, beats: u64) -> Result<(), sqlx::Error> {
    let refreshed = sqlx::query("update instance set heartbeat_at = $2 where id = $1")
        .bind(&shared.id)
        .bind(now_ms())
        .execute(&shared.pool)
        .await?
        .rows_affected();
    if refreshed == 0 {
        tracing::warn!(instance = %shared.id, "this instance was taken for dead; registering again");
        register(shared).await?;
    }
    let local = hub.local_rooms();
    if !local.is_empty() {
        let held = held_rooms(shared).await?;
        for meeting in local.iter().filter(|m| !held.contains(*m)) {
            tracing::warn!(meeting = %meeting, "another instance holds this room now; closing it here");
            hub.evict(meeting).await;
        }
    }
    // Every so often, whoever beats removes instances silent for long (and their claims).
    if beats.is_multiple_of(30) {
        sqlx::query("delete from instance where heartbeat_at < $1")
            .bind(now_ms() - millis(FORGET_AFTER))
            .execute(&shared.pool)
            .await?;
    }
    Ok(())
}

/// Keeps this instance's heartbeat for as long as it runs. An instance that cannot reach the
/// database for [`DEAD_AFTER`] may have lost its rooms to others: it closes them (their
/// people reconnect, to whichever instance holds the room then).
pub fn spawn_heartbeat(cluster: &Cluster, hub: Arc<impl Rooms>) {
    let Some(shared) = cluster.shared.clone() else {
        return;
    };
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(HEARTBEAT);
        let mut last_ok = Instant::now();
        let mut beats = 0u64;
        loop {
            tick.tick().await;
            if shared.leaving.load(Ordering::Relaxed) {
                break;
            }
            beats += 1;
            match beat(&shared, hub.as_ref(), beats).await {
                Ok(()) => last_ok = Instant::now(),
                Err(e) => {
                    tracing::error!(error = %e, "heartbeat failed");
                    if last_ok.elapsed() > DEAD_AFTER {
                        for meeting in hub.local_rooms() {
                            hub.evict(&meeting).await;
                        }
                    }
                }
            }
        }
    });
}

/// Leaves the others: this instance takes no new rooms, gives up the ones it holds (its row
/// and its claims go) and closes them here, so their people reconnect to another instance at
/// once instead of after [`DEAD_AFTER`].
pub async fn leave(cluster: &Cluster, hub: &impl Rooms) {
    let Some(shared) = &cluster.shared else {
        return;
    };
    shared.leaving.store(true, Ordering::Relaxed);
    if let Err(e) = sqlx::query("delete from instance where id = $1")
        .bind(&shared.id)
        .execute(&shared.pool)
        .await
    {
        tracing::error!(error = %e, "could not leave the instance table");
    }
    for meeting in hub.local_rooms() {
        hub.evict(&meeting).await;
    }
    tracing::info!(instance = %shared.id, "left the other instances; rooms handed over");
}
