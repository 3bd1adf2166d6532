//! Writing the duration into a finished WebM. Browsers' MediaRecorder leaves it out, so players
//! show no length and a useless seek bar.
//!
//! The file is an upload: anything in it may be crafted. Parsing reads only through checked
//! offsets and `get`, so a lying size field makes the file "not understood" (left as it is),
//! never a read past the buffer, an overflow or a panic.

use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

const ID_SEGMENT: u32 = 0x1853_8067;
const ID_INFO: u32 = 0x1549_A966;
const ID_DURATION: u32 = 0x4489;
const ID_TIMECODE_SCALE: u32 = 0x2A_D7B1;
/// How much of the file's start is read to find the Info element (it comes first).
const HEAD_BYTES: usize = 64 * 1024;

/// An EBML element header.
struct Header {
    id: u32,
    /// Where its size field starts, and how long that field is.
    size_pos: usize,
    size_len: usize,
    /// Where its data starts.
    data: usize,
    /// Its data's size (`None` = unknown, allowed for Segment and Cluster).
    size: Option<u64>,
}

impl Header {
    /// Where its data ends, when that is known and inside `len` bytes.
    fn end(&self, len: usize) -> Option<usize> {
        let size = usize::try_from(self.size?).ok()?;
        self.data.checked_add(size).filter(|end| *end <= len)
    }
}

fn read_header(buf: &[u8], pos: usize) -> Option<Header> {
    let first = *buf.get(pos)?;
    let id_len = first.leading_zeros() as usize + 1;
    if id_len > 4 {
        return None;
    }
    let size_pos = pos.checked_add(id_len)?;
    let id = buf
        .get(pos..size_pos)?
        .iter()
        .fold(0u32, |a, b| (a << 8) | *b as u32);
    let s0 = *buf.get(size_pos)?;
    let size_len = s0.leading_zeros() as usize + 1;
    if size_len > 8 {
        return None;
    }
    let data = size_pos.checked_add(size_len)?;
    let bytes = buf.get(size_pos..data)?;
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
        data,
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

/// What to change in a file to give it a duration.
#[derive(Debug, PartialEq)]
enum Patch {
    /// Overwrite the existing Duration's value at this offset.
    InPlace { at: usize, bytes: Vec<u8> },
    /// Rewrite the file: `head` replaces the first `replaced` bytes, the rest follows as is.
    Rewrite { head: Vec<u8>, replaced: usize },
}

/// Works out the patch from the file's first bytes, or `None` for a shape not understood.
fn plan(head: &[u8], duration_ms: f64) -> Option<Patch> {
    let ebml = read_header(head, 0)?;
    let segment = read_header(head, ebml.end(head.len())?)?;
    if segment.id != ID_SEGMENT {
        return None;
    }
    // Find Info among the segment's first children.
    let mut pos = segment.data;
    let info = loop {
        let h = read_header(head, pos)?;
        if h.id == ID_INFO {
            break h;
        }
        pos = h.end(head.len())?;
    };
    let info_end = info.end(head.len())?;
    // Duration counts in TimecodeScale units (nanoseconds per unit; 1,000,000 by default).
    let mut scale = 1_000_000f64;
    let mut child = info.data;
    let mut existing = None;
    while child < info_end {
        let h = read_header(head, child)?;
        let end = h.end(info_end)?;
        let value = head.get(h.data..end)?;
        if h.id == ID_TIMECODE_SCALE && value.len() <= 8 {
            scale = value.iter().fold(0u64, |a, b| (a << 8) | *b as u64) as f64;
        }
        if h.id == ID_DURATION {
            existing = Some((h.data, value.len()));
        }
        child = end;
    }
    let units = duration_ms * 1_000_000.0 / scale.max(1.0);
    if let Some((at, size)) = existing {
        let bytes = match size {
            4 => (units as f32).to_be_bytes().to_vec(),
            8 => units.to_be_bytes().to_vec(),
            // Any other width is not a float Duration: leave the file alone.
            _ => return None,
        };
        return Some(Patch::InPlace { at, bytes });
    }
    let mut element = vec![0x44, 0x89, 0x88];
    element.extend_from_slice(&units.to_be_bytes());
    let new_info_size = info.size? + element.len() as u64;
    let info_size_field = encode_size(new_info_size, 8)?;
    let growth = (info_size_field.len() + element.len()) as u64 - info.size_len as u64;
    let segment_size_field = match segment.size {
        None => head.get(segment.size_pos..segment.data)?.to_vec(),
        Some(s) => encode_size(s.checked_add(growth)?, segment.size_len)?,
    };
    let mut out = Vec::with_capacity(head.len() + 32);
    out.extend_from_slice(head.get(..segment.size_pos)?);
    out.extend_from_slice(&segment_size_field);
    out.extend_from_slice(head.get(segment.data..info.size_pos)?);
    out.extend_from_slice(&info_size_field);
    out.extend_from_slice(head.get(info.data..info_end)?);
    out.extend_from_slice(&element);
    out.extend_from_slice(head.get(info_end..)?);
    Some(Patch::Rewrite {
        head: out,
        replaced: head.len(),
    })
}

/// Gives the WebM at `path` a duration. Returns false if the file is not a shape this
/// understands; the recording still plays then.
pub fn set_duration(path: &Path, duration_ms: f64) -> anyhow::Result<bool> {
    let mut file = std::fs::File::open(path)?;
    let mut head = Vec::with_capacity(HEAD_BYTES);
    (&mut file).take(HEAD_BYTES as u64).read_to_end(&mut head)?;
    match plan(&head, duration_ms) {
        None => Ok(false),
        Some(Patch::InPlace { at, bytes }) => {
            let mut f = std::fs::OpenOptions::new().write(true).open(path)?;
            f.seek(SeekFrom::Start(at as u64))?;
            f.write_all(&bytes)?;
            f.sync_data()?;
            Ok(true)
        }
        Some(Patch::Rewrite { head, replaced }) => {
            let tmp = path.with_extension("webm.tmp");
            let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            out.write_all(&head)?;
            file.seek(SeekFrom::Start(replaced as u64))?;
            std::io::copy(&mut file, &mut out)?;
            out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            std::fs::rename(&tmp, path)?;
            Ok(true)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

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
        let seg = read_header(bytes, ebml.end(bytes.len())?)?;
        let info = read_header(bytes, seg.data)?;
        let mut pos = info.data;
        while pos < info.end(bytes.len())? {
            let h = read_header(bytes, pos)?;
            if h.id == ID_DURATION {
                return Some(f64::from_be_bytes(
                    bytes.get(h.data..h.data + 8)?.try_into().ok()?,
                ));
            }
            pos = h.end(bytes.len())?;
        }
        None
    }

    #[test]
    fn the_duration_is_added_to_info_and_the_rest_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.webm");
        std::fs::write(&path, sample()).unwrap();
        assert_eq!(duration_of(&sample()), None);
        assert!(set_duration(&path, 5250.0).unwrap());
        let patched = std::fs::read(&path).unwrap();
        assert_eq!(duration_of(&patched), Some(5250.0));
        assert!(patched.ends_with(&[
            0x1F, 0x43, 0xB6, 0x75, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xA3, 0x81,
            0x00
        ]));
        // A second write overwrites instead of adding another element.
        assert!(set_duration(&path, 6000.0).unwrap());
        let again = std::fs::read(&path).unwrap();
        assert_eq!(again.len(), patched.len());
        assert_eq!(duration_of(&again), Some(6000.0));
    }

    #[test]
    fn files_that_are_not_webm_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.webm");
        std::fs::write(&path, b"not a webm file at all").unwrap();
        assert!(!set_duration(&path, 1000.0).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"not a webm file at all");
    }

    #[test]
    fn lying_sizes_are_refused_not_followed() {
        // The sample: EBML header 0..9, Segment header 9..21, Info header 21..26 (its size
        // byte at 25), Info's children 26..33, then a cluster.
        assert!(plan(&sample(), 1000.0).is_some());
        // Info claims more bytes than the file has.
        let mut v = sample();
        v[25] = 0xC0;
        assert_eq!(plan(&v, 1000.0), None);
        // The EBML header's size points far past the end (and near usize::MAX).
        let mut v = sample();
        v[4] = 0x01;
        v.splice(5..5, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE]);
        assert_eq!(plan(&v, 1000.0), None);
        // A one-byte "Duration": overwriting 8 bytes there would clobber what follows.
        let mut v = sample();
        v.splice(33..33, [0x44, 0x89, 0x81, 0x07]);
        v[25] = 0x8B;
        assert_eq!(plan(&v, 1000.0), None);
    }

    /// Mutations and truncations of a good file, and random bytes: parsing never panics, and a
    /// patch never refers outside what was read.
    #[test]
    fn crafted_uploads_never_panic() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let base = sample();
        for round in 0..50_000 {
            let mut v = if round % 10 == 0 {
                (0..rng.random_range(0..64)).map(|_| rng.random()).collect()
            } else {
                base.clone()
            };
            for _ in 0..rng.random_range(1..4) {
                if v.is_empty() {
                    break;
                }
                let i = rng.random_range(0..v.len());
                v[i] = rng.random();
            }
            if rng.random_bool(0.2) {
                v.truncate(rng.random_range(0..=v.len()));
            }
            match plan(&v, 1234.0) {
                Some(Patch::InPlace { at, bytes }) => assert!(at + bytes.len() <= v.len()),
                Some(Patch::Rewrite { replaced, .. }) => assert_eq!(replaced, v.len()),
                None => {}
            }
        }
    }
}
