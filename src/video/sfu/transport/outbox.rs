//! Datagrams an engine produced, sent in batches: forwarding one packet makes a copy per
//! subscriber, and one `sendmmsg` call for all of them costs far less than a `sendto` each
//! (each system call is also a point where the kernel may switch to the receiver).

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use super::Transport;

/// Datagrams sent per system call.
pub const BATCH: usize = 64;

/// UDP datagrams waiting to be sent, in order.
#[derive(Debug, Default)]
pub struct Outbox {
    datagrams: Vec<(SocketAddr, Vec<u8>)>,
}

impl Outbox {
    pub fn push(&mut self, to: SocketAddr, datagram: Vec<u8>) {
        self.datagrams.push((to, datagram));
    }

    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }
}

impl Transport {
    /// Sends what the outbox holds and empties it. A full socket buffer drops the rest of a
    /// batch (counted), as `send` does.
    pub fn flush(&self, outbox: &mut Outbox) {
        if outbox.datagrams.is_empty() {
            return;
        }
        let Some(socket) = self.udp.as_ref() else {
            self.counters
                .dropped_send
                .fetch_add(outbox.datagrams.len() as u64, Ordering::Relaxed);
            outbox.datagrams.clear();
            return;
        };
        for chunk in outbox.datagrams.chunks(BATCH) {
            let sent = send_many(socket, chunk);
            let bytes: usize = chunk[..sent].iter().map(|(_, d)| d.len()).sum();
            let c = &self.counters;
            c.sent.fetch_add(sent as u64, Ordering::Relaxed);
            c.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
            c.dropped_send
                .fetch_add((chunk.len() - sent) as u64, Ordering::Relaxed);
        }
        outbox.datagrams.clear();
    }
}

/// Sends a batch; returns how many went out (the rest met a full buffer or an error).
#[cfg(target_os = "linux")]
fn send_many(socket: &std::net::UdpSocket, batch: &[(SocketAddr, Vec<u8>)]) -> usize {
    use std::os::fd::AsRawFd;
    let addresses: Vec<socket2::SockAddr> = batch.iter().map(|(to, _)| (*to).into()).collect();
    let mut buffers: Vec<libc::iovec> = batch
        .iter()
        .map(|(_, d)| libc::iovec {
            iov_base: d.as_ptr() as *mut libc::c_void,
            iov_len: d.len(),
        })
        .collect();
    let mut messages: Vec<libc::mmsghdr> = addresses
        .iter()
        .zip(buffers.iter_mut())
        .map(|(address, buffer)| {
            // SAFETY: an all-zero msghdr is valid (no name, no buffers, no control data);
            // the fields that matter are set right after.
            let mut header: libc::msghdr = unsafe { std::mem::zeroed() };
            header.msg_name = address.as_ptr() as *mut libc::c_void;
            header.msg_namelen = address.len();
            header.msg_iov = buffer as *mut libc::iovec;
            header.msg_iovlen = 1;
            libc::mmsghdr {
                msg_hdr: header,
                msg_len: 0,
            }
        })
        .collect();
    let mut sent = 0;
    while sent < messages.len() {
        // SAFETY: every header points into `addresses`, `buffers` and the batch's own byte
        // vectors, all alive and unmoved until this function returns; the count matches the
        // slice handed over.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                messages[sent..].as_mut_ptr(),
                (messages.len() - sent) as libc::c_uint,
                0,
            )
        };
        if n > 0 {
            sent += n as usize;
        } else if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        } else {
            // Full buffer (the socket is non-blocking) or an error on this destination: that
            // datagram is dropped and the rest go one by one, so one bad address does not
            // cost the others theirs.
            return sent + send_rest(socket, &batch[sent + 1..]);
        }
    }
    sent
}

#[cfg(target_os = "linux")]
fn send_rest(socket: &std::net::UdpSocket, rest: &[(SocketAddr, Vec<u8>)]) -> usize {
    rest.iter()
        .filter(|(to, d)| socket.send_to(d, to).is_ok())
        .count()
}

#[cfg(not(target_os = "linux"))]
fn send_many(socket: &std::net::UdpSocket, batch: &[(SocketAddr, Vec<u8>)]) -> usize {
    batch
        .iter()
        .filter(|(to, d)| socket.send_to(d, to).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::video::sfu::transport::Listen;

    #[test]
    fn a_batch_arrives_whole_and_in_order() {
        let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        receiver
            .set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let to = receiver.local_addr().unwrap();
        let transport = Transport::start(Listen {
            bind: "127.0.0.1".parse().unwrap(),
            public_ip: "127.0.0.1".parse().unwrap(),
            udp_port: Some(0),
            tcp_port: None,
        })
        .unwrap();
        let mut outbox = Outbox::default();
        for i in 0..(BATCH + 6) {
            outbox.push(to, vec![i as u8; 100 + i]);
        }
        transport.flush(&mut outbox);
        assert!(outbox.is_empty());
        let mut buf = [0u8; 2048];
        for i in 0..(BATCH + 6) {
            let (n, _) = receiver.recv_from(&mut buf).unwrap();
            assert_eq!((n, buf[0]), (100 + i, i as u8));
        }
        assert_eq!(
            transport.counters.sent.load(Ordering::Relaxed),
            (BATCH + 6) as u64
        );
    }
}
