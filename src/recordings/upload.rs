//! The slice upload protocol: numbered slices appended in order, idempotently; early slices
//! kept until their turn; limits that stop a recording while keeping what was saved; and a
//! sweeper that finalises recordings whose uploader vanished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::files::{Incoming, RecordingFiles};
use super::{MIN_FREE_DISK_BYTES, Recording, Status, store};
use crate::db::{self, LockGuard, LockKey, Pool};

/// Slices may run this far ahead of the next expected one; further is a broken uploader.
/// (The recorder sends one slice at a time; early ones only come from retries.)
pub const MAX_AHEAD: i64 = 4;
/// Slice bodies one recording may have arriving at once; more are asked to wait (429).
pub const MAX_INFLIGHT_PER_RECORDING: usize = 2;

/// What one account may keep, and have open, of built-in recordings.
#[derive(Debug, Clone, Copy)]
pub struct Quota {
    /// Largest single recording (`RECORDING_MAX_BYTES`).
    pub max_bytes: i64,
    /// All of one account's recordings together (`RECORDING_QUOTA_BYTES`).
    pub account_bytes: i64,
    /// Recordings one account may have running at once.
    pub open_per_account: i64,
}

/// What happened to a slice.
#[derive(Debug, PartialEq, Eq)]
pub enum SliceOutcome {
    /// Appended (with any early slices it unblocked); `bytes` is the file's size now.
    Acked { seq: i64, bytes: i64 },
    /// Already had it: acknowledged again, nothing written.
    Duplicate { seq: i64, bytes: i64 },
    /// Kept until the slices before it arrive.
    Pending { seq: i64 },
    /// Over the per-slice limit.
    TooLarge,
    /// Too many of this recording's slices arriving at once.
    Busy,
    /// A limit was hit: the recording was finished with what it had.
    LimitReached(String),
    /// The recording is no longer taking slices.
    Finished,
    /// Too far ahead of the next expected slice.
    TooFarAhead,
}

/// Runs uploads. One lock per recording keeps retried and concurrent slices in order: a lock in
/// this process, and on PostgreSQL a lock every instance honours too, so with several
/// instances on one shared `RECORDINGS_DIR` the instance holding a recording's lock is the only
/// one writing its file.
#[derive(Debug)]
pub struct Uploads {
    pub pool: Pool,
    pub files: RecordingFiles,
    pub quota: Quota,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    inflight: Arc<Mutex<HashMap<String, usize>>>,
}

/// One slice body arriving for a recording; its place is given back when dropped.
pub struct Arriving {
    inflight: Arc<Mutex<HashMap<String, usize>>>,
    recording: String,
}

impl Drop for Arriving {
    fn drop(&mut self) {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = inflight.get_mut(&self.recording) {
            *n -= 1;
            if *n == 0 {
                inflight.remove(&self.recording);
            }
        }
    }
}

impl Uploads {
    pub fn new(pool: Pool, files: RecordingFiles, quota: Quota) -> Self {
        Self {
            pool,
            files,
            quota,
            locks: Mutex::new(HashMap::new()),
            inflight: Arc::default(),
        }
    }

    /// A place for one more slice body of this recording, or `None` when it already has
    /// [`MAX_INFLIGHT_PER_RECORDING`] arriving (bodies go to disk before the recording's lock
    /// is taken, so this bounds what one uploader can have on disk at once).
    pub fn arriving(&self, recording: &str) -> Option<Arriving> {
        let mut inflight = self.inflight.lock().unwrap_or_else(|e| e.into_inner());
        let n = inflight.entry(recording.to_owned()).or_insert(0);
        if *n >= MAX_INFLIGHT_PER_RECORDING {
            return None;
        }
        *n += 1;
        Some(Arriving {
            inflight: self.inflight.clone(),
            recording: recording.to_owned(),
        })
    }

    /// Why this account may not start another recording now, if it may not.
    pub async fn may_start(&self, account: &str) -> anyhow::Result<Option<String>> {
        if store::open_count_by(&self.pool, account).await? >= self.quota.open_per_account {
            return Ok(Some(format!(
                "You are already recording {} meetings. Stop one of them first.",
                self.quota.open_per_account
            )));
        }
        if store::bytes_used_by(&self.pool, account).await? >= self.quota.account_bytes {
            return Ok(Some(format!(
                "Your recordings use all the space you have here ({}). Delete some to record \
                 again.",
                gigabytes(self.quota.account_bytes)
            )));
        }
        if self
            .files
            .free_bytes()
            .is_some_and(|free| free < MIN_FREE_DISK_BYTES)
        {
            return Ok(Some("The server is running out of disk space.".into()));
        }
        Ok(None)
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(id.to_owned()).or_default().clone()
    }

    /// Runs `work` holding the recording's locks: this process's, then every instance's.
    async fn locked<T>(
        &self,
        id: &str,
        work: impl AsyncFnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<T> {
        let lock = self.lock_for(id);
        let _held = lock.lock().await;
        let shared: LockGuard = db::lock::acquire(&self.pool, LockKey::Upload(id)).await?;
        let result = work().await;
        shared.release().await?;
        result
    }

    /// Takes slice `seq` of a recording that is known to exist and belong to the caller.
    /// Every byte it would keep counts against the limits before anything is kept: what the
    /// file holds, slices waiting for their turn, this one, the account's other recordings,
    /// and the free-disk floor.
    pub async fn put_slice(
        &self,
        recording: &str,
        seq: i64,
        slice: Incoming,
        now: i64,
    ) -> anyhow::Result<SliceOutcome> {
        self.locked(recording, async || {
            self.put_slice_locked(recording, seq, slice, now).await
        })
        .await
    }

    async fn put_slice_locked(
        &self,
        recording: &str,
        seq: i64,
        slice: Incoming,
        now: i64,
    ) -> anyhow::Result<SliceOutcome> {
        let Some(rec) = store::find(&self.pool, recording).await? else {
            return Ok(SliceOutcome::Finished);
        };
        if rec.status != Status::Recording {
            return Ok(SliceOutcome::Finished);
        }
        if seq < rec.next_seq {
            return Ok(SliceOutcome::Duplicate {
                seq,
                bytes: rec.byte_size,
            });
        }
        if seq - rec.next_seq > MAX_AHEAD {
            return Ok(SliceOutcome::TooFarAhead);
        }
        let pending = self.files.pending_bytes(recording).await as i64;
        if let Some(problem) = self
            .limit_problem(&rec, rec.byte_size + pending, slice.len)
            .await?
        {
            store::touch(&self.pool, recording, now).await?;
            self.close(&rec, None, now).await?;
            return Ok(SliceOutcome::LimitReached(problem));
        }
        if seq > rec.next_seq {
            self.files.store_pending(recording, seq, slice).await?;
            store::touch(&self.pool, recording, now).await?;
            return Ok(SliceOutcome::Pending { seq });
        }
        // Slices that waited for this one were counted when they came.
        let mut next = rec.next_seq;
        let mut size = rec.byte_size;
        let mut slice = Some(slice);
        while let Some(part) = slice.take() {
            size = self.files.append(recording, size as u64, part).await? as i64;
            next += 1;
            slice = self.files.take_pending(recording, next).await?;
        }
        store::advance(&self.pool, recording, next, size, now).await?;
        Ok(SliceOutcome::Acked { seq, bytes: size })
    }

    /// Which limit keeping `adding` more bytes would break, if any. `held` is what this
    /// recording holds already (file and waiting slices).
    async fn limit_problem(
        &self,
        rec: &Recording,
        held: i64,
        adding: u64,
    ) -> anyhow::Result<Option<String>> {
        let adding = adding as i64;
        if held + adding > self.quota.max_bytes {
            return Ok(Some(format!(
                "the recording reached its size limit ({})",
                gigabytes(self.quota.max_bytes)
            )));
        }
        if let Some(account) = rec.created_by.as_deref() {
            // This recording's file is in the account's total already; its waiting slices not.
            let used = store::bytes_used_by(&self.pool, account).await? + (held - rec.byte_size);
            if used + adding > self.quota.account_bytes {
                return Ok(Some(format!(
                    "your recordings reached the space you have here ({})",
                    gigabytes(self.quota.account_bytes)
                )));
            }
        }
        Ok(match self.files.free_bytes() {
            Some(free) if free < MIN_FREE_DISK_BYTES + adding as u64 => {
                Some("the server is running out of disk space".into())
            }
            _ => None,
        })
    }

    /// Deletes a built-in recording and its file, under its lock, so a slice arriving at the
    /// same moment cannot create the file again.
    pub async fn delete(&self, recording: &str) -> anyhow::Result<()> {
        self.locked(recording, async || {
            store::delete(&self.pool, recording).await?;
            self.files.remove(recording).await
        })
        .await
    }

    /// Finishes a recording (idempotent). `duration_ms` from the recorder; otherwise the span
    /// between its start and its last slice.
    pub async fn finish(
        &self,
        recording: &str,
        duration_ms: Option<i64>,
        now: i64,
    ) -> anyhow::Result<Option<Recording>> {
        self.locked(recording, async || {
            let Some(rec) = store::find(&self.pool, recording).await? else {
                return Ok(None);
            };
            if rec.status == Status::Recording {
                self.close(&rec, duration_ms, now).await?;
            }
            Ok(store::find(&self.pool, recording).await?)
        })
        .await
    }

    async fn close(
        &self,
        rec: &Recording,
        duration_ms: Option<i64>,
        now: i64,
    ) -> anyhow::Result<()> {
        let duration = duration_ms
            .filter(|d| *d > 0)
            .unwrap_or((rec.last_slice_at.max(rec.started_at) - rec.started_at) * 1000);
        // Slices beyond a gap can never be played in order: only the unbroken start counts.
        self.files.drop_pending(&rec.id).await;
        if store::finish(&self.pool, &rec.id, Some(duration), now).await? {
            let fixed = store::find(&self.pool, &rec.id).await?;
            if fixed.is_some_and(|r| r.byte_size > 0)
                && let Err(e) = self.files.write_duration(&rec.id, duration).await
            {
                tracing::warn!(error = %e, recording = %rec.id, "could not write the duration");
            }
            tracing::info!(recording = %rec.id, bytes = rec.byte_size, "recording finished");
        }
        Ok(())
    }

    /// Finishes recordings whose uploader has been silent too long; returns them.
    pub async fn sweep(&self, now: i64) -> anyhow::Result<Vec<Recording>> {
        let idle = store::idle(&self.pool, now - super::IDLE_TIMEOUT_SECS).await?;
        let mut done = Vec::new();
        for rec in idle {
            tracing::info!(recording = %rec.id, "finishing a recording whose uploader went away");
            if let Some(r) = self.finish(&rec.id, None, now).await? {
                done.push(r);
            }
        }
        Ok(done)
    }
}

/// "2 GB", "500 MB": a limit as people read it.
fn gigabytes(bytes: i64) -> String {
    if bytes >= 1_000_000_000 && bytes % 100_000_000 == 0 {
        let gb = bytes as f64 / 1e9;
        format!("{gb} GB")
    } else {
        format!("{} MB", bytes / 1_000_000)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn limits_read_like_people_write_them() {
        assert_eq!(super::gigabytes(2_000_000_000), "2 GB");
        assert_eq!(super::gigabytes(2_500_000_000), "2.5 GB");
        assert_eq!(super::gigabytes(1_000_000), "1 MB");
    }
}
