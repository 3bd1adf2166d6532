//! Recording files under `DATA_DIR/recordings`: crash-safe appends, slices that arrived early,
//! free-space checks, and writing the duration into a finished WebM.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The recordings folder.
#[derive(Debug, Clone)]
pub struct RecordingFiles {
    dir: PathBuf,
}

impl RecordingFiles {
    pub fn new(data_dir: &Path) -> anyhow::Result<Self> {
        let dir = data_dir.join("recordings");
        std::fs::create_dir_all(&dir)
            .with_context(|| format!("Failed to create {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// The file of a recording (IDs are UUIDs checked by the caller, never user paths).
    pub fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.webm"))
    }

    fn part(&self, id: &str, seq: i64) -> PathBuf {
        self.dir.join(format!("{id}.parts")).join(format!("{seq}"))
    }

    /// Appends a slice so that the file is exactly `expected_len + bytes.len()` long and on
    /// disk before returning. A longer file (a crash after an append whose acknowledgement was
    /// never recorded) is cut back first, so a retried slice is never written twice.
    pub async fn append(&self, id: &str, expected_len: u64, bytes: Vec<u8>) -> anyhow::Result<u64> {
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
            file.write_all(&bytes)?;
            file.sync_data()?;
            Ok(expected_len + bytes.len() as u64)
        })
        .await
        .context("append task failed")?
    }

    /// Keeps a slice that arrived before an earlier one.
    pub async fn store_pending(&self, id: &str, seq: i64, bytes: Vec<u8>) -> anyhow::Result<()> {
        let path = self.part(id, seq);
        tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let tmp = path.with_extension("tmp");
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            std::fs::rename(&tmp, &path)?;
            Ok(())
        })
        .await
        .context("pending slice task failed")?
    }

    /// Takes a slice that was kept for later, if it is there.
    pub async fn take_pending(&self, id: &str, seq: i64) -> anyhow::Result<Option<Vec<u8>>> {
        let path = self.part(id, seq);
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                let _ = tokio::fs::remove_file(&path).await;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("Failed to read {}", path.display())),
        }
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
        tokio::task::spawn_blocking(move || webm_set_duration(&path, duration_ms as f64))
            .await
            .context("duration task failed")?
    }
}

const ID_SEGMENT: u32 = 0x1853_8067;
const ID_INFO: u32 = 0x1549_A966;
const ID_DURATION: u32 = 0x4489;
const ID_TIMECODE_SCALE: u32 = 0x2A_D7B1;

/// An EBML element header: id, where its size field starts and how long it is, data start,
/// data size (None = unknown).
struct Header {
    id: u32,
    size_pos: usize,
    size_len: usize,
    data: usize,
    size: Option<u64>,
}

fn read_header(buf: &[u8], pos: usize) -> Option<Header> {
    let first = *buf.get(pos)?;
    let id_len = first.leading_zeros() as usize + 1;
    if id_len > 4 {
        return None;
    }
    let id = buf
        .get(pos..pos + id_len)?
        .iter()
        .fold(0u32, |a, b| (a << 8) | *b as u32);
    let size_pos = pos + id_len;
    let s0 = *buf.get(size_pos)?;
    let size_len = s0.leading_zeros() as usize + 1;
    if size_len > 8 {
        return None;
    }
    let bytes = buf.get(size_pos..size_pos + size_len)?;
    let mask = if size_len == 8 { 0 } else { 0xFFu8 >> size_len };
    let mut value = (bytes[0] & mask) as u64;
    for b in &bytes[1..] {
        value = (value << 8) | *b as u64;
    }
    let all_ones = value == (1u64 << (7 * size_len)) - 1;
    Some(Header {
        id,
        size_pos,
        size_len,
        data: size_pos + size_len,
        size: if all_ones { None } else { Some(value) },
    })
}

fn encode_size(value: u64, len: usize) -> Option<Vec<u8>> {
    if len == 0 || len > 8 || value >= (1u64 << (7 * len)) - 1 {
        return None;
    }
    let mut out = vec![0u8; len];
    let mut v = value;
    for i in (0..len).rev() {
        out[i] = (v & 0xFF) as u8;
        v >>= 8;
    }
    out[0] |= 0x80 >> (len - 1);
    Some(out)
}

fn webm_set_duration(path: &Path, duration_ms: f64) -> anyhow::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut head = vec![0u8; 64 * 1024];
    let n = file.read(&mut head)?;
    head.truncate(n);
    let Some(ebml) = read_header(&head, 0) else {
        return Ok(false);
    };
    let Some(ebml_size) = ebml.size else {
        return Ok(false);
    };
    let Some(segment) = read_header(&head, ebml.data + ebml_size as usize) else {
        return Ok(false);
    };
    if segment.id != ID_SEGMENT {
        return Ok(false);
    }
    // Find Info among the segment's first children.
    let mut pos = segment.data;
    let info = loop {
        let Some(h) = read_header(&head, pos) else {
            return Ok(false);
        };
        if h.id == ID_INFO {
            break h;
        }
        let Some(size) = h.size else { return Ok(false) };
        pos = h.data + size as usize;
    };
    let Some(info_size) = info.size else {
        return Ok(false);
    };
    let info_end = info.data + info_size as usize;
    if info_end > head.len() {
        return Ok(false);
    }
    // Duration counts in TimecodeScale units (nanoseconds per unit; 1,000,000 by default).
    let mut scale = 1_000_000f64;
    let mut child = info.data;
    let mut existing = None;
    while child < info_end {
        let Some(h) = read_header(&head, child) else {
            return Ok(false);
        };
        let Some(size) = h.size else { return Ok(false) };
        if h.id == ID_TIMECODE_SCALE && size <= 8 {
            scale = head[h.data..h.data + size as usize]
                .iter()
                .fold(0u64, |a, b| (a << 8) | *b as u64) as f64;
        }
        if h.id == ID_DURATION {
            existing = Some((h.data, size));
        }
        child = h.data + size as usize;
    }
    let units = duration_ms * 1_000_000.0 / scale.max(1.0);
    if let Some((at, size)) = existing {
        // Overwrite in place.
        let bytes = if size == 4 {
            (units as f32).to_be_bytes().to_vec()
        } else {
            units.to_be_bytes().to_vec()
        };
        let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
        f.seek(SeekFrom::Start(at as u64))?;
        f.write_all(&bytes)?;
        f.sync_data()?;
        return Ok(true);
    }
    let mut element = vec![0x44, 0x89, 0x88];
    element.extend_from_slice(&units.to_be_bytes());
    let new_info_size = info_size + element.len() as u64;
    let Some(info_size_field) = encode_size(new_info_size, 8) else {
        return Ok(false);
    };
    let growth = (info_size_field.len() + element.len()) as u64 - info.size_len as u64;
    let segment_size_field = match segment.size {
        None => head[segment.size_pos..segment.data].to_vec(),
        Some(s) => match encode_size(s + growth, segment.size_len) {
            Some(f) => f,
            None => return Ok(false),
        },
    };
    let tmp = path.with_extension("webm.tmp");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
    out.write_all(&head[..segment.size_pos])?;
    out.write_all(&segment_size_field)?;
    out.write_all(&head[segment.data..info.size_pos])?;
    out.write_all(&info_size_field)?;
    out.write_all(&head[info.data..info_end])?;
    out.write_all(&element)?;
    out.write_all(&head[info_end..])?;
    std::io::copy(&mut file, &mut out)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EBML header, a Segment of unknown size, Info with a TimecodeScale, then a "cluster".
    fn sample() -> Vec<u8> {
        let mut v = vec![0x1A, 0x45, 0xDF, 0xA3, 0x84, 0x42, 0x86, 0x81, 0x01];
        v.extend_from_slice(&[
            0x18, 0x53, 0x80, 0x67, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        v.extend_from_slice(&[
            0x15, 0x49, 0xA9, 0x66, 0x87, 0x2A, 0xD7, 0xB1, 0x83, 0x0F, 0x42, 0x40,
        ]);
        v.extend_from_slice(&[
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA3, 0x81,
            0x00,
        ]);
        v
    }

    fn duration_of(bytes: &[u8]) -> Option<f64> {
        let ebml = read_header(bytes, 0)?;
        let seg = read_header(bytes, ebml.data + ebml.size? as usize)?;
        let info = read_header(bytes, seg.data)?;
        let mut pos = info.data;
        while pos < info.data + info.size? as usize {
            let h = read_header(bytes, pos)?;
            if h.id == ID_DURATION {
                return Some(f64::from_be_bytes(
                    bytes[h.data..h.data + 8].try_into().ok()?,
                ));
            }
            pos = h.data + h.size? as usize;
        }
        None
    }

    #[test]
    fn the_duration_is_added_to_info_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.webm");
        std::fs::write(&path, sample()).unwrap();
        assert_eq!(duration_of(&sample()), None);
        assert!(webm_set_duration(&path, 5250.0).unwrap());
        let patched = std::fs::read(&path).unwrap();
        assert_eq!(duration_of(&patched), Some(5250.0));
        assert!(patched.ends_with(&[
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA3, 0x81,
            0x00
        ]));
        // A second write overwrites instead of adding another element.
        assert!(webm_set_duration(&path, 6000.0).unwrap());
        let again = std::fs::read(&path).unwrap();
        assert_eq!(again.len(), patched.len());
        assert_eq!(duration_of(&again), Some(6000.0));
    }

    #[test]
    fn files_that_are_not_webm_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.webm");
        std::fs::write(&path, b"not a webm file at all").unwrap();
        assert!(!webm_set_duration(&path, 1000.0).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"not a webm file at all");
    }

    #[tokio::test]
    async fn an_append_after_a_lost_acknowledgement_is_not_doubled() {
        let dir = tempfile::tempdir().unwrap();
        let files = RecordingFiles::new(dir.path()).unwrap();
        assert_eq!(files.append("r", 0, b"abc".to_vec()).await.unwrap(), 3);
        // The server wrote "def" but crashed before recording it: the file is 6 long, the
        // database says 3; the client sends "def" again.
        files.append("r", 3, b"def".to_vec()).await.unwrap();
        assert_eq!(files.append("r", 3, b"def".to_vec()).await.unwrap(), 6);
        assert_eq!(std::fs::read(files.path("r")).unwrap(), b"abcdef");
        assert!(files.free_bytes().unwrap() > 0);
    }
}
