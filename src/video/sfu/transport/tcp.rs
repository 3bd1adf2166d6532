//! ICE over TCP (RFC 6544, passive side) for networks that block UDP: browsers connect to the
//! announced TCP candidate and send RFC 4571 frames. A connection's first frame must be a STUN
//! request naming a known peer, within [`FIRST_FRAME_TIMEOUT`].

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use str0m::net::Protocol;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};

use super::framing::Deframer;
use super::{Datagram, Route, Transport, stun};

/// ICE-TCP connections open at once; more wait in the kernel's backlog.
pub const MAX_TCP_CONNECTIONS: usize = 1024;
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
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = stop.changed() => break,
        };
        let (stream, _) = tokio::select! {
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
        let transport = transport.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            serve(transport, stream, stop).await;
            drop(permit);
        });
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
