//! ICE over TCP (RFC 6544, passive side) for networks that block UDP: browsers connect to the
//! announced TCP candidate and send RFC 4571 frames. A connection's first frame must be a STUN
//! request naming a known peer, within [`FIRST_FRAME_TIMEOUT`].

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use str0m::net::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};

use super::framing::Deframer;
use super::{Datagram, Route, Transport, stun};

/// ICE-TCP connections open at once; more wait in the kernel's backlog.
pub const MAX_TCP_CONNECTIONS: usize = 1024;
/// ICE-TCP connections one address (an IPv6 /64) may hold at once: plenty for a household or
/// an office behind one NAT whose network blocks UDP, far from all of them, so a few hosts
/// holding connections open cannot lock everyone else out of the TCP fallback.
pub const MAX_TCP_CONNECTIONS_PER_ADDRESS: usize = 32;
/// How long a new connection may take to send its first (STUN) frame.
pub const FIRST_FRAME_TIMEOUT: Duration = Duration::from_secs(10);
/// Framed packets waiting to be written to one connection; more are dropped.
pub const TCP_WRITE_QUEUE: usize = 1024;
/// A connection that carried nothing for this long is closed (browsers check it every few
/// seconds).
pub const TCP_IDLE_TIMEOUT: Duration = Duration::from_secs(30);

pub(super) async fn accept(
    transport: Arc<Transport>,
    listener: std::net::TcpListener,
    mut stop: watch::Receiver<bool>,
) {
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(error = %e, "ICE-TCP listener could not be used");
            return;
        }
    };
    let permits = Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS));
    let per_address = Arc::new(PerAddress::default());
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::debug!(error = %e, "ICE-TCP accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stop.changed() => break,
        };
        let Some(slot) = per_address.take(crate::rate_limit::limit_key(peer.ip())) else {
            tracing::debug!(%peer, "ICE-TCP: too many connections from one address; closing");
            continue;
        };
        let transport = transport.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve(transport, stream, stop).await;
            drop((permit, slot));
        });
    }
}

/// Open connections per address key.
#[derive(Default)]
struct PerAddress(Mutex<HashMap<String, usize>>);

/// One open connection's place in [`PerAddress`], given back when dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    key: String,
}

impl PerAddress {
    fn take(self: &Arc<Self>, key: String) -> Option<AddressSlot> {
        let mut open = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(key.clone()).or_default();
        if *count >= MAX_TCP_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            table: self.clone(),
            key,
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.key);
            }
        }
    }
}

async fn serve(transport: Arc<Transport>, stream: TcpStream, mut stop: watch::Receiver<bool>) {
    let Ok(source) = stream.peer_addr() else {
        return;
    };
    let Some(destination) = transport.tcp_public else {
        return;
    };
    let _ = stream.set_nodelay(true);
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(TCP_WRITE_QUEUE);
    let write = async move {
        while let Some(frame) = rx.recv().await {
            if writer.write_all(&frame).await.is_err() {
                break;
            }
        }
    };
    let opened = Instant::now();
    let mut route: Option<Route> = None;
    let read = async {
        let mut deframer = Deframer::default();
        let mut buf = vec![0u8; 4096];
        loop {
            let wait = if route.is_some() {
                TCP_IDLE_TIMEOUT
            } else {
                FIRST_FRAME_TIMEOUT.saturating_sub(opened.elapsed())
            };
            let n = match tokio::time::timeout(wait, reader.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) | Err(_) => return,
                Ok(Ok(n)) => n,
            };
            deframer.push(&buf[..n]);
            loop {
                let packet = match deframer.next_frame() {
                    Ok(Some(p)) => p,
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(?e, %source, "ICE-TCP framing broken; closing");
                        return;
                    }
                };
                transport.counters.received.fetch_add(1, Ordering::Relaxed);
                if stun::is_stun(&packet) {
                    // Every STUN frame is routed by its ufrag (an ICE restart changes it).
                    match transport.route_tcp(source, &packet, &tx) {
                        Some(r) => route = Some(r),
                        None if route.is_none() => return,
                        None => {}
                    }
                }
                let Some(r) = &route else {
                    // Media before any STUN: not an ICE peer.
                    return;
                };
                transport.deliver(
                    r,
                    Datagram {
                        peer: r.peer,
                        proto: Protocol::Tcp,
                        source,
                        destination,
                        received: Instant::now(),
                        data: packet,
                    },
                );
            }
        }
    };
    tokio::select! {
        _ = read => {}
        _ = write => {}
        _ = stop.changed() => {}
    }
    transport.forget_tcp(source);
}

impl Transport {
    /// Routes a TCP connection by the ufrag in its STUN request and records where to write
    /// packets for its address.
    fn route_tcp(
        &self,
        source: std::net::SocketAddr,
        packet: &[u8],
        writer: &mpsc::Sender<Vec<u8>>,
    ) -> Option<Route> {
        let route = self.route(source, packet)?;
        self.table().tcp.insert(source, writer.clone());
        Some(route)
    }

    fn forget_tcp(&self, source: std::net::SocketAddr) {
        let mut table = self.table();
        table.tcp.remove(&source);
        if let Some(route) = table.by_addr.remove(&source)
            && let Some((_, addrs)) = table.of_peer.get_mut(&route.peer)
        {
            addrs.retain(|a| *a != source);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn one_address_holds_only_its_share_of_the_tcp_connections() {
        let transport = Transport::start(super::super::Listen {
            bind: "127.0.0.1".parse().unwrap(),
            public_ip: "127.0.0.1".parse().unwrap(),
            udp_port: None,
            tcp_port: Some(0),
        })
        .unwrap();
        let address = transport.tcp_public.unwrap();
        let mut held = Vec::new();
        for _ in 0..MAX_TCP_CONNECTIONS_PER_ADDRESS {
            held.push(TcpStream::connect(address).await.unwrap());
        }
        // One more from the same address is closed at once...
        let mut extra = TcpStream::connect(address).await.unwrap();
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), extra.read(&mut buf)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "closed: {read:?}");
        // ...while the ones it holds stay open (until their first frame is due).
        let read = tokio::time::timeout(Duration::from_millis(300), held[0].read(&mut buf)).await;
        assert!(read.is_err(), "still open");
        // A place given back can be taken again.
        drop(held.pop());
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut again = TcpStream::connect(address).await.unwrap();
        let read = tokio::time::timeout(Duration::from_millis(300), again.read(&mut buf)).await;
        assert!(read.is_err(), "open again");
    }

    #[test]
    fn places_are_counted_per_address_and_given_back() {
        let table = Arc::new(PerAddress::default());
        let slots: Vec<_> = (0..MAX_TCP_CONNECTIONS_PER_ADDRESS)
            .map(|_| table.take("10.0.0.1".into()).unwrap())
            .collect();
        assert!(table.take("10.0.0.1".into()).is_none());
        assert!(table.take("10.0.0.2".into()).is_some());
        drop(slots);
        assert!(table.0.lock().unwrap().get("10.0.0.1").is_none());
        assert!(table.take("10.0.0.1".into()).is_some());
    }
}
