//! Telling which peer a packet is for, before any peer has seen it.
//!
//! A browser's first packets are STUN binding requests whose USERNAME is `ours:theirs`; `ours`
//! is the ICE ufrag the server gave that peer in its SDP answer, unique per peer. Once a
//! request arrived from an address, the rest of that address's packets (DTLS, SRTP) follow it.

/// True when the packet looks like STUN (RFC 7983 demultiplexing: first byte 0–3, and the fixed
/// 20-byte header).
pub fn is_stun(packet: &[u8]) -> bool {
    packet.len() >= 20 && packet[0] < 4
}

/// The server's ufrag in a STUN request's USERNAME, if the packet is one. (STUN comes every
/// few seconds per peer, so the allocation does not matter.)
pub fn local_ufrag(packet: &[u8]) -> Option<String> {
    if !is_stun(packet) {
        return None;
    }
    let message = str0m::ice::StunMessage::parse(packet).ok()?;
    let (ours, _theirs) = message.split_username()?;
    Some(ours.to_owned())
}

/// A STUN binding request with this username, as a browser's ICE agent sends it (for tests).
#[cfg(test)]
pub(super) fn binding_request(username: &str) -> Vec<u8> {
    use str0m::ice::{StunMessage, TransId};
    let message = StunMessage::binding_request(username, TransId::new(), true, 0, 1, false);
    let mut buf = vec![0u8; 512];
    let n = message
        .to_bytes(Some(b"pass"), &mut buf, |_, _| [0; 20])
        .unwrap();
    buf.truncate(n);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_ufrag_is_read_from_a_binding_request() {
        let packet = binding_request("srvA:browserB");
        assert!(is_stun(&packet));
        assert_eq!(local_ufrag(&packet).as_deref(), Some("srvA"));
    }

    #[test]
    fn media_and_garbage_name_no_peer() {
        // DTLS (20–63), RTP (128–191) and a short packet.
        let mut dtls = vec![22u8; 40];
        dtls[1] = 0xfe;
        assert_eq!(local_ufrag(&dtls), None);
        assert_eq!(local_ufrag(&[0x80; 60]), None);
        assert_eq!(local_ufrag(&[0, 1, 0, 0]), None);
        // STUN-shaped but not STUN.
        assert_eq!(local_ufrag(&[0u8; 24]), None);
        // A request without a colon in its USERNAME.
        assert_eq!(local_ufrag(&binding_request("nocolon")), None);
    }
}
