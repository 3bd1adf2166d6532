//! Recording files under `DATA_DIR/recordings`: crash-safe appends, slices that arrived early,
//! free-space checks, and writing the duration into a finished WebM.

use std::io::{Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// Where slices are written while they arrive, before they are appended or kept.
const INCOMING: &str = "incoming";
/// An arriving body older than this was left by a server that stopped mid-upload.
const STALE_INCOMING: std::time::Duration = std::time::Duration::from_secs(3600);

/// The recordings folder.
#[derive(Debug, Clone)]
pub struct RecordingFiles {
    dir: PathBuf,
}

/// A slice's body in a file of its own, removed when dropped unless it was moved elsewhere.
#[derive(Debug)]
pub struct Incoming {
    path: Option<PathBuf>,
    pub len: u64,
}

impl Incoming {
    fn path(&self) -> PathBuf {
        self.path.clone().unwrap_or_default()
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if let Some(path) = self.path.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// What [`RecordingFiles::receive`] made of a body.
#[derive(Debug)]
pub enum Received {
    Slice(Incoming),
    TooLarge,
}

impl RecordingFiles {
    /// Keeps recordings in `dir` (`RECORDINGS_DIR`), created if missing.
    pub fn new(dir: &Path) -> anyhow::Result<Self> {
        let dir = dir.to_path_buf();
        std::fs::create_dir_all(dir.join(INCOMING))
            .with_context(|| format!("Failed to create {}", dir.display()))?;
        // Bodies that were arriving when a server stopped are of no use now. Only old ones go:
        // another server sharing this folder may be receiving some right now.
        if let Ok(entries) = std::fs::read_dir(dir.join(INCOMING)) {
            for entry in entries.flatten() {
                let stale = entry
                    .metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > STALE_INCOMING);
                if stale {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        Ok(Self { dir })
    }

    /// The file of a recording (IDs are UUIDs checked by the caller, never user paths).
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.webm"))
    }

    fn part(&self, id: &str, seq: i64) -> PathBuf {
        self.dir.join(format!("{id}.parts")).join(format!("{seq}"))
    }

    /// Writes a slice's body to a file of its own as it arrives, never holding more than one
    /// chunk in memory. `TooLarge` (and nothing kept) once it passes `limit` bytes.
    pub async fn receive<S, E>(&self, mut body: S, limit: usize) -> anyhow::Result<Received>
    where
        S: futures_util::Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use futures_util::StreamExt;
        use tokio::io::AsyncWriteExt;
        let incoming = Incoming {
            path: Some(
                self.dir
                    .join(INCOMING)
                    .join(uuid::Uuid::new_v4().simple().to_string()),
            ),
            len: 0,
        };
        let mut incoming = incoming;
        let path = incoming.path.clone().unwrap_or_default();
        let mut file = tokio::fs::File::create(&path)
            .await
            .with_context(|| format!("Failed to create {}", path.display()))?;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| anyhow::anyhow!("the upload broke off: {e}"))?;
            if incoming.len as usize + chunk.len() > limit {
                // `incoming` removes the file when dropped.
                return Ok(Received::TooLarge);
            }
            file.write_all(&chunk).await?;
            incoming.len += chunk.len() as u64;
        }
        file.flush().await?;
        Ok(Received::Slice(incoming))
    }

    /// Appends a received slice so that the file is exactly `expected_len + slice.len` long
    /// and on disk before returning. A longer file (a crash after an append whose
    /// acknowledgement was never recorded) is cut back first, so a retried slice is never
    /// written twice. The slice's own file is removed.
    pub async fn append(
        &self,
        id: &str,
        expected_len: u64,
        slice: Incoming,
    ) -> anyhow::Result<u64> {
        let path = self.path(id);
        tokio::task::spawn_blocking(move || -> anyhow::Result<u64> {
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .read(true)
                .write(true)
                .open(&path)
                .with_context(|| format!("Failed to open {}", path.display()))?;
            let len = file.metadata()?.len();
            if len < expected_len {
                anyhow::bail!(
                    "{} is shorter ({len}) than recorded ({expected_len})",
                    path.display()
                );
            }
            if len > expected_len {
                file.set_len(expected_len)?;
            }
            file.seek(SeekFrom::Start(expected_len))?;
            let mut source = std::fs::File::open(slice.path())?;
            let copied = std::io::copy(&mut source, &mut file)?;
            file.sync_data()?;
            Ok(expected_len + copied)
        })
        .await
        .context("append task failed")?
    }

    /// Keeps a slice that arrived before an earlier one (on disk, so it survives a restart).
    pub async fn store_pending(
        &self,
        id: &str,
        seq: i64,
        mut slice: Incoming,
    ) -> anyhow::Result<()> {
        let target = self.part(id, seq);
        let source = slice.path.take().unwrap_or_default();
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            let kept = (|| -> anyhow::Result<()> {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                std::fs::File::open(&source)?.sync_data()?;
                std::fs::rename(&source, &target)?;
                Ok(())
            })();
            if kept.is_err() {
                let _ = std::fs::remove_file(&source);
            }
            kept
        })
        .await
        .context("pending slice task failed")?
    }

    /// Takes a slice that was kept for later, if it is there.
    pub async fn take_pending(&self, id: &str, seq: i64) -> anyhow::Result<Option<Incoming>> {
        let path = self.part(id, seq);
        match tokio::fs::metadata(&path).await {
            Ok(meta) => Ok(Some(Incoming {
                path: Some(path),
                len: meta.len(),
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("Failed to read {}", path.display())),
        }
    }

    /// Bytes held in slices kept for later.
    pub async fn pending_bytes(&self, id: &str) -> u64 {
        let dir = self.dir.join(format!("{id}.parts"));
        let Ok(mut entries) = tokio::fs::read_dir(&dir).await else {
            return 0;
        };
        let mut total = 0;
        while let Ok(Some(entry)) = entries.next_entry().await {
            if let Ok(meta) = entry.metadata().await {
                total += meta.len();
            }
        }
        total
    }

    /// Drops slices that can never be used (beyond a gap when the recording ends).
    pub async fn drop_pending(&self, id: &str) {
        let _ = tokio::fs::remove_dir_all(self.dir.join(format!("{id}.parts"))).await;
    }

    /// Removes a recording's file and anything kept for it.
    pub async fn remove(&self, id: &str) -> anyhow::Result<()> {
        self.drop_pending(id).await;
        match tokio::fs::remove_file(self.path(id)).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).context("Failed to delete the recording file"),
        }
    }

    /// Bytes available to us on the recordings' disk.
    pub fn free_bytes(&self) -> Option<u64> {
        use std::os::unix::ffi::OsStrExt;
        let c_path = std::ffi::CString::new(self.dir.as_os_str().as_bytes()).ok()?;
        let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
        // SAFETY: a valid NUL-terminated path and a zeroed out-struct of the right type.
        if unsafe { libc::statvfs(c_path.as_ptr(), &mut stat) } != 0 {
            return None;
        }
        Some(stat.f_bavail as u64 * stat.f_frsize as u64)
    }

    /// Writes the duration into a finished WebM (browsers' MediaRecorder leaves it out, so
    /// players show no length and a useless seek bar). Returns false if the file is not a
    /// shape this understands; the recording still plays then.
    pub async fn write_duration(&self, id: &str, duration_ms: i64) -> anyhow::Result<bool> {
        let path = self.path(id);
        tokio::task::spawn_blocking(move || super::webm::set_duration(&path, duration_ms as f64))
            .await
            .context("duration task failed")?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn received(files: &RecordingFiles, bytes: &'static [u8]) -> Incoming {
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(
            actix_web::web::Bytes::from_static(bytes),
        )]);
        match files.receive(body, 1024).await.unwrap() {
            Received::Slice(slice) => slice,
            Received::TooLarge => panic!("too large"),
        }
    }

    #[tokio::test]
    async fn an_append_after_a_lost_acknowledgement_is_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let files = RecordingFiles::new(dir.path()).unwrap();
        let abc = received(&files, b"abc").await;
        assert_eq!(files.append("r", 0, abc).await.unwrap(), 3);
        // The server wrote "def" but crashed before recording it: the file is 6 long, the
        // database says 3; the client sends "def" again.
        files
            .append("r", 3, received(&files, b"def").await)
            .await
            .unwrap();
        let again = received(&files, b"def").await;
        assert_eq!(files.append("r", 3, again).await.unwrap(), 6);
        assert_eq!(std::fs::read(files.path("r")).unwrap(), b"abcdef");
        assert!(files.free_bytes().unwrap() > 0);
        // Nothing is left behind where bodies arrive.
        assert_eq!(
            std::fs::read_dir(dir.path().join("incoming"))
                .unwrap()
                .count(),
            0
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_and_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let files = RecordingFiles::new(dir.path()).unwrap();
        let chunks =
            (0..10).map(|_| Ok::<_, std::io::Error>(actix_web::web::Bytes::from(vec![7u8; 300])));
        let got = files
            .receive(futures_util::stream::iter(chunks), 1024)
            .await
            .unwrap();
        assert!(matches!(got, Received::TooLarge));
        assert_eq!(
            std::fs::read_dir(dir.path().join("incoming"))
                .unwrap()
                .count(),
            0
        );
    }
}
