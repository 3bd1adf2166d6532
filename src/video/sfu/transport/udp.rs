//! Reads the media UDP socket and hands each packet to its room.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use str0m::net::Protocol;
use tokio::sync::watch;

use super::{Datagram, Transport};

/// Largest datagram read; WebRTC keeps packets under the path MTU (about 1200–1500 bytes).
const MAX_DATAGRAM: usize = 2048;

pub(super) async fn receive(
    transport: Arc<Transport>,
    socket: std::net::UdpSocket,
    mut stop: watch::Receiver<bool>,
) {
    let socket = match tokio::net::UdpSocket::from_std(socket) {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "media UDP socket could not be read");
            return;
        }
    };
    let Some(destination) = transport.udp_public else {
        return;
    };
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (len, source) = tokio::select! {
            read = socket.recv_from(&mut buf) => match read {
                Ok(read) => read,
                // ICMP errors from earlier sends surface here on some systems; they are about
                // one peer, not the socket.
                Err(e) => {
                    tracing::debug!(error = %e, "media UDP read failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        transport.counters.received.fetch_add(1, Ordering::Relaxed);
        let packet = &buf[..len];
        let Some(route) = transport.route(source, packet) else {
            transport.counters.unrouted.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        transport.deliver(
            &route,
            Datagram {
                peer: route.peer,
                proto: Protocol::Udp,
                source,
                destination,
                received: Instant::now(),
                data: packet.to_vec(),
            },
        );
    }
}
