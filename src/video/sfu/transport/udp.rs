//! Reads the media UDP socket and hands each packet to its room. Several packets waiting are
//! read with one `recvmmsg` (Linux), so a burst costs one wake-up and one system call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use str0m::net::Protocol;
use tokio::io::Interest;
use tokio::sync::watch;

use super::{Datagram, Transport};

/// Largest datagram read; WebRTC keeps packets under the path MTU (about 1200–1500 bytes).
const MAX_DATAGRAM: usize = 2048;
/// Datagrams read per system call.
const READ_BATCH: usize = 32;

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
    let mut reader = Reader::new();
    loop {
        tokio::select! {
            ready = socket.readable() => {
                if let Err(e) = ready {
                    tracing::error!(error = %e, "media UDP socket failed");
                    return;
                }
            }
            _ = stop.changed() => return,
        }
        loop {
            let read = socket.try_io(Interest::READABLE, || reader.read(&socket));
            let count = match read {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                // ICMP errors from earlier sends surface here on some systems; they are about
                // one peer, not the socket.
                Err(e) => {
                    tracing::debug!(error = %e, "media UDP read failed");
                    continue;
                }
            };
            let received = Instant::now();
            for i in 0..count {
                let (source, packet) = reader.get(i);
                transport.counters.received.fetch_add(1, Ordering::Relaxed);
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
                        received,
                        data: packet.to_vec(),
                    },
                );
            }
        }
    }
}

/// Buffers for one batch of reads.
struct Reader {
    buffers: Vec<[u8; MAX_DATAGRAM]>,
    read: Vec<(SocketAddr, usize)>,
}

impl Reader {
    fn new() -> Self {
        Self {
            buffers: vec![[0u8; MAX_DATAGRAM]; READ_BATCH],
            read: Vec::with_capacity(READ_BATCH),
        }
    }

    fn get(&self, i: usize) -> (SocketAddr, &[u8]) {
        let (source, len) = self.read[i];
        (source, &self.buffers[i][..len])
    }

    /// Reads what is waiting (at least one datagram, or `WouldBlock`).
    #[cfg(target_os = "linux")]
    fn read(&mut self, socket: &tokio::net::UdpSocket) -> std::io::Result<usize> {
        use std::os::fd::AsRawFd;
        self.read.clear();
        // SAFETY: all-zero sockaddr_storage values are valid empty addresses for the kernel
        // to fill.
        let mut names: Vec<libc::sockaddr_storage> =
            vec![unsafe { std::mem::zeroed() }; READ_BATCH];
        let mut iovecs: Vec<libc::iovec> = self
            .buffers
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr() as *mut libc::c_void,
                iov_len: MAX_DATAGRAM,
            })
            .collect();
        let mut messages: Vec<libc::mmsghdr> = names
            .iter_mut()
            .zip(iovecs.iter_mut())
            .map(|(name, iovec)| {
                // SAFETY: an all-zero msghdr is valid; the fields used are set right after.
                let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
                header.msg_name = name as *mut libc::sockaddr_storage as *mut libc::c_void;
                header.msg_namelen = std::mem::size_of::<libc::sockaddr_storage>() as u32;
                header.msg_iov = iovec as *mut libc::iovec;
                header.msg_iovlen = 1;
                libc::mmsghdr {
                    msg_hdr: header,
                    msg_len: 0,
                }
            })
            .collect();
        // SAFETY: each header points at a name, an iovec and a buffer that live in `names`,
        // `iovecs` and `self.buffers` until this function returns; the count is their length.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                messages.as_mut_ptr(),
                READ_BATCH as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        for (i, message) in messages.iter().take(n as usize).enumerate() {
            let Some(source) = socket_address(&names[i]) else {
                continue;
            };
            let len = (message.msg_len as usize).min(MAX_DATAGRAM);
            self.read.push((source, len));
            if i != self.read.len() - 1 {
                self.buffers.swap(i, self.read.len() - 1);
            }
        }
        Ok(self.read.len())
    }
}

/// The address the kernel wrote into a `sockaddr_storage` (IPv4 or IPv6).
#[cfg(target_os = "linux")]
fn socket_address(name: &libc::sockaddr_storage) -> Option<SocketAddr> {
    use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
    match i32::from(name.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says the storage holds a sockaddr_in, which it is large and
            // aligned enough for.
            let v4 =
                unsafe { &*(name as *const libc::sockaddr_storage as *const libc::sockaddr_in) };
            let ip = Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
            Some(SocketAddr::V4(SocketAddrV4::new(
                ip,
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: as above, for sockaddr_in6.
            let v6 =
                unsafe { &*(name as *const libc::sockaddr_storage as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

impl Reader {
    #[cfg(not(target_os = "linux"))]
    fn read(&mut self, socket: &tokio::net::UdpSocket) -> std::io::Result<usize> {
        self.read.clear();
        let (len, source) = socket.try_recv_from(&mut self.buffers[0])?;
        self.read.push((source, len));
        Ok(1)
    }
}
