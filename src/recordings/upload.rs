//! The slice upload protocol: numbered slices appended in order, idempotently; early slices
//! kept until their turn; limits that stop a recording while keeping what was saved; and a
//! sweeper that finalises recordings whose uploader vanished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::files::RecordingFiles;
use super::{MAX_SLICE_BYTES, MIN_FREE_DISK_BYTES, Recording, Status, store};
use crate::db::Pool;

/// Slices may run this far ahead of the next expected one; further is a broken uploader.
const MAX_AHEAD: i64 = 64;

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
    /// A limit was hit: the recording was finished with what it had.
    LimitReached(String),
    /// The recording is no longer taking slices.
    Finished,
    /// Too far ahead of the next expected slice.
    TooFarAhead,
}

/// Runs uploads. One lock per recording keeps retried and concurrent slices in order.
#[derive(Debug)]
pub struct Uploads {
    pub pool: Pool,
    pub files: RecordingFiles,
    pub max_bytes: i64,
    locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl Uploads {
    pub fn new(pool: Pool, files: RecordingFiles, max_bytes: i64) -> Self {
        Self {
            pool,
            files,
            max_bytes,
            locks: Mutex::new(HashMap::new()),
        }
    }

    fn lock_for(&self, id: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        if locks.len() > 1024 {
            locks.retain(|_, l| Arc::strong_count(l) > 1);
        }
        locks.entry(id.to_owned()).or_default().clone()
    }

    /// Takes slice `seq` of a recording that is known to exist and belong to the caller.
    pub async fn put_slice(
        &self,
        recording: &str,
        seq: i64,
        bytes: Vec<u8>,
        now: i64,
    ) -> anyhow::Result<SliceOutcome> {
        if bytes.len() > MAX_SLICE_BYTES {
            return Ok(SliceOutcome::TooLarge);
        }
        let lock = self.lock_for(recording);
        let _held = lock.lock().await;
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
        if seq > rec.next_seq {
            if seq - rec.next_seq > MAX_AHEAD {
                return Ok(SliceOutcome::TooFarAhead);
            }
            self.files.store_pending(recording, seq, bytes).await?;
            store::touch(&self.pool, recording, now).await?;
            return Ok(SliceOutcome::Pending { seq });
        }
        let mut next = rec.next_seq;
        let mut size = rec.byte_size;
        let mut slice = Some(bytes);
        while let Some(bytes) = slice.take() {
            if let Some(problem) = self.limit_problem(size, bytes.len()) {
                store::advance(&self.pool, recording, next, size, now).await?;
                self.close(&rec, None, now).await?;
                return Ok(SliceOutcome::LimitReached(problem));
            }
            size = self.files.append(recording, size as u64, bytes).await? as i64;
            next += 1;
            slice = self.files.take_pending(recording, next).await?;
        }
        store::advance(&self.pool, recording, next, size, now).await?;
        Ok(SliceOutcome::Acked { seq, bytes: size })
    }

    fn limit_problem(&self, size: i64, adding: usize) -> Option<String> {
        if size + adding as i64 > self.max_bytes {
            return Some(format!(
                "the recording reached its size limit ({} MB)",
                self.max_bytes / 1_000_000
            ));
        }
        match self.files.free_bytes() {
            Some(free) if free < MIN_FREE_DISK_BYTES + adding as u64 => {
                Some("the server is running out of disk space".into())
            }
            _ => None,
        }
    }

    /// Finishes a recording (idempotent). `duration_ms` from the recorder; otherwise the span
    /// between its start and its last slice.
    pub async fn finish(
        &self,
        recording: &str,
        duration_ms: Option<i64>,
        now: i64,
    ) -> anyhow::Result<Option<Recording>> {
        let lock = self.lock_for(recording);
        let _held = lock.lock().await;
        let Some(rec) = store::find(&self.pool, recording).await? else {
            return Ok(None);
        };
        if rec.status == Status::Recording {
            self.close(&rec, duration_ms, now).await?;
        }
        Ok(store::find(&self.pool, recording).await?)
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
