//! RFC 4571 framing for ICE over TCP: every packet (STUN, DTLS, RTP, RTCP) is sent as a 16-bit
//! big-endian length followed by that many bytes.

/// Largest packet accepted in a frame; WebRTC packets stay under the path MTU, so anything
/// bigger is a confused or hostile peer.
pub const MAX_FRAME: usize = 2048;

/// Why a stream of frames cannot be read any further.
#[derive(Debug, PartialEq, Eq)]
pub enum FramingError {
    /// A frame announced more than [`MAX_FRAME`] bytes.
    TooLarge(usize),
    /// An empty frame (no packet is empty).
    Empty,
}

/// Collects bytes read from a TCP stream and hands out whole frames.
#[derive(Debug, Default)]
pub struct Deframer {
    buffer: Vec<u8>,
}

impl Deframer {
    /// Appends bytes just read.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole frame's packet, if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, FramingError> {
        let Some(header) = self.buffer.get(..2) else {
            return Ok(None);
        };
        let len = usize::from(u16::from_be_bytes([header[0], header[1]]));
        if len == 0 {
            return Err(FramingError::Empty);
        }
        if len > MAX_FRAME {
            return Err(FramingError::TooLarge(len));
        }
        if self.buffer.len() < 2 + len {
            return Ok(None);
        }
        let packet = self.buffer[2..2 + len].to_vec();
        self.buffer.drain(..2 + len);
        Ok(Some(packet))
    }

    /// Bytes held waiting for the rest of a frame (at most one frame and its header).
    pub fn pending(&self) -> usize {
        self.buffer.len()
    }
}

/// One packet as a frame, or `None` when it cannot be framed (over 65535 bytes).
pub fn frame(packet: &[u8]) -> Option<Vec<u8>> {
    let len = u16::try_from(packet.len()).ok()?;
    let mut out = Vec::with_capacity(2 + packet.len());
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(packet);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_across_reads_and_joined_in_one_read_come_out_whole() {
        let mut stream = frame(b"hello").unwrap();
        stream.extend(frame(&[7u8; 300]).unwrap());
        stream.extend(frame(b"!").unwrap());
        let mut d = Deframer::default();
        let mut got = Vec::new();
        // One byte at a time: the worst a TCP stream can do.
        for byte in &stream {
            d.push(std::slice::from_ref(byte));
            while let Some(f) = d.next_frame().unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![b"hello".to_vec(), vec![7u8; 300], b"!".to_vec()]);
        assert_eq!(d.pending(), 0);
        // All at once.
        d.push(&stream);
        let mut n = 0;
        while d.next_frame().unwrap().is_some() {
            n += 1;
        }
        assert_eq!(n, 3);
    }

    #[test]
    fn oversized_and_empty_frames_end_the_stream() {
        let mut d = Deframer::default();
        d.push(&[0x08, 0x01]);
        assert_eq!(d.next_frame(), Err(FramingError::TooLarge(0x0801)));
        let mut d = Deframer::default();
        d.push(&[0, 0, 1]);
        assert_eq!(d.next_frame(), Err(FramingError::Empty));
        assert_eq!(frame(&vec![0u8; 70_000]), None);
        assert_eq!(frame(&[1, 2]).unwrap(), vec![0, 2, 1, 2]);
    }
}
