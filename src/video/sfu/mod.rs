//! The built-in media server: a selective forwarding unit on str0m. Each browser keeps one
//! WebRTC connection to the server, sends its microphone and camera (three simulcast layers)
//! once, and receives what its page shows: the layer that fits each visible tile and the
//! voices of the loudest few speakers.
//!
//! - [`transport`]: the UDP socket and the ICE-TCP listener, on their own thread, routing each
//!   packet to its room.
//! - [`engine`]: one per room, owned by the room's task: the peers' `Rtc`s and the forwarding.
//! - [`address`]: the address announced to browsers.
//!
//! Signalling (SDP offer and answer, the page's tile sizes) rides the meeting's signalling
//! WebSocket and room task (see `mesh::room`), with the same sign-in, origin check and room
//! membership as everything else there.

pub mod address;
pub mod engine;
pub mod transport;

use std::net::IpAddr;
use std::sync::{Arc, Once};
use std::time::Instant;

use anyhow::Context;
use str0m::bwe::Bitrate;
use str0m::config::DtlsCert;
use str0m::{Candidate, IceCreds, Rtc, RtcConfig};

use crate::config::SfuSettings;
use transport::{Listen, Transport};

/// The bandwidth estimate a new subscriber starts from, before feedback arrives.
pub const INITIAL_ESTIMATE_KBPS: u64 = 1_000;

/// The server-wide part of the SFU: sockets, certificate, limits.
pub struct Sfu {
    pub transport: Arc<Transport>,
    cert: DtlsCert,
    /// People per room.
    pub max_participants: usize,
}

impl std::fmt::Debug for Sfu {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sfu")
            .field("transport", &self.transport)
            .field("max_participants", &self.max_participants)
            .finish_non_exhaustive()
    }
}

static CRYPTO: Once = Once::new();

impl Sfu {
    /// Binds the media ports and starts reading them.
    pub fn start(settings: &SfuSettings, bind: IpAddr) -> anyhow::Result<Arc<Self>> {
        CRYPTO.call_once(|| str0m::crypto::from_feature_flags().install_process_default());
        let public_ip =
            address::choose_public_ip(settings.public_ip, bind, &address::interface_addresses());
        // An announced address (often behind NAT, never on any interface) is reached through
        // every interface; the web server may still listen on loopback behind its proxy.
        let media_bind = match settings.public_ip {
            Some(IpAddr::V4(_)) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
            Some(IpAddr::V6(_)) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
            None => bind,
        };
        let transport = Transport::start(Listen {
            bind: media_bind,
            public_ip,
            udp_port: settings.udp_port,
            tcp_port: settings.tcp_port,
        })?;
        // One certificate for every connection: generating one per peer costs a key pair each.
        let cert = str0m::crypto::from_feature_flags()
            .dtls_provider
            .generate_certificate()
            .context("Failed to make the media server's DTLS certificate")?;
        tracing::info!(
            public_ip = %public_ip,
            udp = ?transport.udp_public,
            tcp = ?transport.tcp_public,
            configured = settings.public_ip.is_some(),
            "media server: browsers send media to {}{}",
            transport
                .udp_public
                .map(|a| format!("udp {a}"))
                .unwrap_or_default(),
            transport
                .tcp_public
                .map(|a| format!(" tcp {a}"))
                .unwrap_or_default(),
        );
        Ok(Arc::new(Self {
            transport,
            cert,
            max_participants: settings.max_participants,
        }))
    }

    /// A server-side connection for one browser: ICE-lite, RTP forwarding, Opus and VP8 only,
    /// bandwidth estimation on. Built inside `catch_unwind`, like every call into a connection
    /// (see `engine::peer`): a str0m panic here refuses this browser's offer, nothing more.
    pub fn new_rtc(&self) -> anyhow::Result<Rtc> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.build_rtc())).unwrap_or_else(
            |_| {
                Err(anyhow::anyhow!(
                    "str0m panicked while setting up a connection"
                ))
            },
        )
    }

    fn build_rtc(&self) -> anyhow::Result<Rtc> {
        let mut rtc = RtcConfig::new()
            .set_ice_lite(true)
            .set_rtp_mode(true)
            .clear_codecs()
            .enable_opus(true, false)
            .enable_vp8(true)
            .set_local_ice_credentials(IceCreds::new())
            .set_dtls_cert(self.cert.clone())
            .enable_bwe(Some(Bitrate::kbps(INITIAL_ESTIMATE_KBPS)))
            .build(Instant::now());
        if let Some(addr) = self.transport.udp_public {
            rtc.add_local_candidate(Candidate::host(addr, "udp")?);
        }
        if let Some(addr) = self.transport.tcp_public {
            let tcp = Candidate::builder()
                .tcp()
                .host(addr)
                .tcptype(str0m::net::TcpType::Passive)
                .build()?;
            rtc.add_local_candidate(tcp);
        }
        Ok(rtc)
    }

    /// Stops reading the media sockets (the server is shutting down).
    pub fn stop(&self) {
        self.transport.stop();
    }
}
