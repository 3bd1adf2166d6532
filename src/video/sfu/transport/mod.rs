//! The SFU's sockets: one UDP socket for every peer's media and an ICE-TCP listener as the
//! fallback, both read on a thread of their own ("media I/O") so a busy web server never delays
//! a packet. Each packet is handed to its room's engine through that room's bounded channel;
//! rooms write back straight to the sockets.
//!
//! Which room a packet is for: STUN binding requests name the peer by the ICE ufrag the
//! server gave it ([`stun::local_ufrag`]); their source address is then learnt, and the peer's
//! DTLS and SRTP packets from that address follow. Rooms register ufrags as they answer offers
//! and unregister peers as they go, so the tables hold only peers that exist.

pub mod budget;
pub mod framing;
mod outbox;
pub mod stun;
mod tcp;
mod udp;

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use anyhow::Context;
pub use outbox::Outbox;
use str0m::net::Protocol;
use tokio::sync::{mpsc, watch};

/// Addresses one peer may send from at once (host and reflexive candidates of each network
/// the browser is on, and a few more after a network change); the oldest is forgotten first.
pub const MAX_ADDRESSES_PER_PEER: usize = 8;
/// Packets waiting for one room's engine; beyond this they are dropped (and counted), as a
/// congested router would, rather than held in memory.
pub const ROOM_PACKET_QUEUE: usize = 4096;
/// Socket buffer sizes asked of the kernel (it may give less): a keyframe for many subscribers
/// leaves in one burst.
const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// A packet read from a socket, for one peer of one room.
#[derive(Debug)]
pub struct Datagram {
    /// The peer it was routed to (see [`Transport::new_token`]).
    pub peer: u64,
    pub proto: Protocol,
    pub source: SocketAddr,
    /// The announced address it was sent to (what the peer's ICE agent knows us by).
    pub destination: SocketAddr,
    pub received: Instant,
    pub data: Vec<u8>,
}

/// Where a peer's packets go.
#[derive(Clone)]
struct Route {
    room: mpsc::Sender<Datagram>,
    peer: u64,
    /// What the peer may still send (shared by every address and ufrag of the peer).
    budget: Arc<Mutex<budget::Budget>>,
}

#[derive(Default)]
struct Table {
    by_ufrag: HashMap<String, Route>,
    by_addr: HashMap<SocketAddr, Route>,
    /// Per peer: its ufrags and learnt addresses, so leaving removes them all.
    of_peer: HashMap<u64, (Vec<String>, Vec<SocketAddr>)>,
    /// Open ICE-TCP connections by remote address: where framed packets for them go.
    tcp: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
}

/// Counters for logs and the load benchmark.
#[derive(Debug, Default)]
pub struct Counters {
    pub received: AtomicU64,
    pub unrouted: AtomicU64,
    pub dropped_room_full: AtomicU64,
    /// Packets dropped because their peer sent more than its budget.
    pub over_budget: AtomicU64,
    pub sent: AtomicU64,
    pub sent_bytes: AtomicU64,
    pub dropped_send: AtomicU64,
}

/// The sockets and routing tables, shared by the media I/O thread and every room.
pub struct Transport {
    table: Mutex<Table>,
    udp: Option<UdpSocket>,
    /// Addresses announced in candidates.
    pub udp_public: Option<SocketAddr>,
    pub tcp_public: Option<SocketAddr>,
    pub counters: Counters,
    next_token: AtomicU64,
    shutdown: watch::Sender<bool>,
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transport")
            .field("udp_public", &self.udp_public)
            .field("tcp_public", &self.tcp_public)
            .finish_non_exhaustive()
    }
}

/// What the transport listens on.
#[derive(Debug, Clone, Copy)]
pub struct Listen {
    pub bind: std::net::IpAddr,
    pub public_ip: std::net::IpAddr,
    pub udp_port: Option<u16>,
    pub tcp_port: Option<u16>,
}

impl Transport {
    /// Binds the sockets (so a port in use stops start-up) and starts the media I/O thread.
    pub fn start(listen: Listen) -> anyhow::Result<Arc<Self>> {
        let udp = match listen.udp_port {
            Some(port) => Some(bind_udp(SocketAddr::new(listen.bind, port))?),
            None => None,
        };
        let tcp = match listen.tcp_port {
            Some(port) => {
                let addr = SocketAddr::new(listen.bind, port);
                let listener = std::net::TcpListener::bind(addr)
                    .with_context(|| format!("Failed to listen for ICE over TCP on {addr}"))?;
                listener.set_nonblocking(true)?;
                Some(listener)
            }
            None => None,
        };
        let udp_public = udp
            .as_ref()
            .map(|s| {
                s.local_addr()
                    .map(|a| SocketAddr::new(listen.public_ip, a.port()))
            })
            .transpose()?;
        let tcp_public = tcp
            .as_ref()
            .map(|s| {
                s.local_addr()
                    .map(|a| SocketAddr::new(listen.public_ip, a.port()))
            })
            .transpose()?;
        let reader = udp.as_ref().map(UdpSocket::try_clone).transpose()?;
        let (shutdown, stop) = watch::channel(false);
        let transport = Arc::new(Self {
            table: Mutex::new(Table::default()),
            udp,
            udp_public,
            tcp_public,
            counters: Counters::default(),
            next_token: AtomicU64::new(1),
            shutdown,
        });
        let io = transport.clone();
        std::thread::Builder::new()
            .name("yoom-media-io".into())
            .spawn(move || {
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        tracing::error!(error = %e, "media I/O runtime did not start");
                        return;
                    }
                };
                runtime.block_on(async move {
                    let mut tasks = Vec::new();
                    if let Some(socket) = reader {
                        tasks.push(tokio::spawn(udp::receive(io.clone(), socket, stop.clone())));
                    }
                    if let Some(listener) = tcp {
                        tasks.push(tokio::spawn(tcp::accept(
                            io.clone(),
                            listener,
                            stop.clone(),
                        )));
                    }
                    for task in tasks {
                        let _ = task.await;
                    }
                });
            })
            .context("Failed to start the media I/O thread")?;
        Ok(transport)
    }

    /// Stops reading the sockets (the server is stopping); they close once rooms let go.
    pub fn stop(&self) {
        let _ = self.shutdown.send(true);
    }

    fn table(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A token naming a new peer in the routing tables.
    pub fn new_token(&self) -> u64 {
        self.next_token.fetch_add(1, Ordering::Relaxed)
    }

    /// Routes STUN carrying `ufrag` (and what follows from its addresses) to `room` as `peer`.
    /// An ICE restart's new ufrag replaces the old one (the addresses learnt stay).
    pub fn register(&self, ufrag: &str, peer: u64, room: &mpsc::Sender<Datagram>) {
        let mut table = self.table();
        // An ICE restart keeps the budget: restarting cannot refill it.
        let budget = table
            .of_peer
            .get(&peer)
            .and_then(|(ufrags, _)| ufrags.first())
            .and_then(|u| table.by_ufrag.get(u))
            .map(|r| r.budget.clone())
            .unwrap_or_else(|| Arc::new(Mutex::new(budget::Budget::new(Instant::now()))));
        let route = Route {
            room: room.clone(),
            peer,
            budget,
        };
        let old = std::mem::replace(
            &mut table.of_peer.entry(peer).or_default().0,
            vec![ufrag.to_owned()],
        );
        for stale in old {
            table.by_ufrag.remove(&stale);
        }
        table.by_ufrag.insert(ufrag.to_owned(), route);
    }

    /// Forgets a peer: its ufrags, its addresses, and its TCP connections (which close).
    pub fn unregister(&self, peer: u64) {
        let mut table = self.table();
        let Some((ufrags, addrs)) = table.of_peer.remove(&peer) else {
            return;
        };
        for ufrag in ufrags {
            table.by_ufrag.remove(&ufrag);
        }
        for addr in addrs {
            table.by_addr.remove(&addr);
            table.tcp.remove(&addr);
        }
    }

    /// The route for a packet from `source`: by its STUN ufrag (learning the address), else by
    /// the address learnt before.
    fn route(&self, source: SocketAddr, packet: &[u8]) -> Option<Route> {
        if let Some(ufrag) = stun::local_ufrag(packet) {
            let mut table = self.table();
            let route = table.by_ufrag.get(&ufrag)?.clone();
            if table.by_addr.get(&source).map(|r| r.peer) != Some(route.peer) {
                if let Some(old) = table.by_addr.insert(source, route.clone())
                    && let Some((_, addrs)) = table.of_peer.get_mut(&old.peer)
                {
                    addrs.retain(|a| *a != source);
                }
                let addrs = &mut table.of_peer.entry(route.peer).or_default().1;
                addrs.push(source);
                if addrs.len() > MAX_ADDRESSES_PER_PEER {
                    let oldest = addrs.remove(0);
                    table.by_addr.remove(&oldest);
                    table.tcp.remove(&oldest);
                }
            }
            return Some(route);
        }
        self.table().by_addr.get(&source).cloned()
    }

    /// Hands a packet to its room; false when the peer's budget is spent
    /// ([`budget`]) or the room is full.
    fn deliver(&self, route: &Route, datagram: Datagram) -> bool {
        let within = route
            .budget
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .charge(datagram.data.len(), datagram.received);
        if !within {
            self.counters.over_budget.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        match route.room.try_send(datagram) {
            Ok(()) => true,
            Err(_) => {
                self.counters
                    .dropped_room_full
                    .fetch_add(1, Ordering::Relaxed);
                false
            }
        }
    }

    /// Sends what an engine produced, over UDP or the peer's TCP connection. Never waits: a
    /// full socket buffer or connection queue drops the packet (RTP recovers by NACK or a
    /// keyframe).
    pub fn send(&self, proto: Protocol, destination: SocketAddr, contents: &[u8]) {
        let sent = match proto {
            Protocol::Udp => self
                .udp
                .as_ref()
                .is_some_and(|s| s.send_to(contents, destination).is_ok()),
            _ => {
                let writer = self.table().tcp.get(&destination).cloned();
                match (writer, framing::frame(contents)) {
                    (Some(w), Some(frame)) => w.try_send(frame).is_ok(),
                    _ => false,
                }
            }
        };
        if sent {
            self.counters.sent.fetch_add(1, Ordering::Relaxed);
            self.counters
                .sent_bytes
                .fetch_add(contents.len() as u64, Ordering::Relaxed);
        } else {
            self.counters.dropped_send.fetch_add(1, Ordering::Relaxed);
        }
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

fn bind_udp(addr: SocketAddr) -> anyhow::Result<UdpSocket> {
    let domain = socket2::Domain::for_address(addr);
    let socket = socket2::Socket::new(domain, socket2::Type::DGRAM, Some(socket2::Protocol::UDP))
        .context("Failed to open the media UDP socket")?;
    // Best effort: the kernel caps these at its own maximum.
    let _ = socket.set_recv_buffer_size(SOCKET_BUFFER_BYTES);
    let _ = socket.set_send_buffer_size(SOCKET_BUFFER_BYTES);
    socket
        .bind(&addr.into())
        .with_context(|| format!("Failed to bind the media UDP port {addr}"))?;
    // Rooms send without waiting; the reader runs on tokio.
    socket.set_nonblocking(true)?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use stun::binding_request as stun;

    fn transport() -> Arc<Transport> {
        Transport::start(Listen {
            bind: "127.0.0.1".parse().unwrap(),
            public_ip: "127.0.0.1".parse().unwrap(),
            udp_port: Some(0),
            tcp_port: None,
        })
        .unwrap()
    }

    #[tokio::test]
    async fn packets_follow_the_address_a_peers_stun_came_from_and_leaving_forgets_it() {
        let t = transport();
        let (room, _rx) = mpsc::channel(8);
        let from: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let rtp = [0x80u8; 40];
        assert!(
            t.route(from, &rtp).is_none(),
            "media before STUN goes nowhere"
        );
        assert!(
            t.route(from, &stun("nobody:x")).is_none(),
            "an unknown ufrag goes nowhere"
        );
        t.register("abc", 7, &room);
        assert_eq!(t.route(from, &stun("abc:x")).map(|r| r.peer), Some(7));
        assert_eq!(t.route(from, &rtp).map(|r| r.peer), Some(7));
        // An ICE restart: the new ufrag routes, the old one no longer does.
        t.register("def", 7, &room);
        assert!(t.route(from, &stun("abc:x")).is_none());
        assert_eq!(t.route(from, &stun("def:x")).map(|r| r.peer), Some(7));
        t.unregister(7);
        assert!(t.route(from, &rtp).is_none());
        assert!(t.route(from, &stun("def:x")).is_none());
    }

    #[tokio::test]
    async fn a_peer_keeps_only_its_latest_addresses() {
        let t = transport();
        let (room, _rx) = mpsc::channel(8);
        t.register("abc", 1, &room);
        let addr = |i: u16| SocketAddr::from(([10, 0, 0, 1], 6000 + i));
        for i in 0..(MAX_ADDRESSES_PER_PEER as u16 + 3) {
            t.route(addr(i), &stun("abc:x")).unwrap();
        }
        let rtp = [0x80u8; 40];
        assert!(t.route(addr(0), &rtp).is_none(), "the oldest are forgotten");
        assert!(
            t.route(addr(MAX_ADDRESSES_PER_PEER as u16 + 2), &rtp)
                .is_some()
        );
        assert_eq!(t.table().by_addr.len(), MAX_ADDRESSES_PER_PEER);
    }

    #[tokio::test]
    async fn a_flooding_peer_is_cut_to_its_budget_and_leaves_the_room_to_the_others() {
        let t = transport();
        let (room, mut rx) = mpsc::channel(ROOM_PACKET_QUEUE);
        t.register("flood", 1, &room);
        t.register("fair", 2, &room);
        let flooder = SocketAddr::from(([10, 0, 0, 1], 5000));
        let fair = SocketAddr::from(([10, 0, 0, 2], 5000));
        t.route(flooder, &stun("flood:x")).unwrap();
        t.route(fair, &stun("fair:x")).unwrap();
        let now = Instant::now();
        let send = |source: SocketAddr| {
            let route = t.route(source, &[0x80u8; 40]).unwrap();
            t.deliver(
                &route,
                Datagram {
                    peer: route.peer,
                    proto: Protocol::Udp,
                    source,
                    destination: source,
                    received: now,
                    data: vec![0x80; 100],
                },
            )
        };
        let through = (0..ROOM_PACKET_QUEUE).filter(|_| send(flooder)).count();
        assert_eq!(through, budget::PEER_INGRESS_PACKETS_PER_SEC as usize);
        assert_eq!(
            t.counters.over_budget.load(Ordering::Relaxed),
            (ROOM_PACKET_QUEUE - through) as u64
        );
        // The room's queue still has place for everyone else.
        assert!((0..100).all(|_| send(fair)));
        // An ICE restart does not refill the budget.
        t.register("flood2", 1, &room);
        t.route(flooder, &stun("flood2:x")).unwrap();
        assert!(!send(flooder));
        drop(rx.try_recv());
    }
}
