//! What the room tells its engine: who is in, their offers, their pages' tiles, their
//! microphone and camera state.

use std::time::Instant;

use str0m::change::SdpOffer;

use super::peer::{MediaState, Peer, Tile};
use super::{Effects, MAX_MEDIA_LINES, RoomEngine};
use crate::video::mesh::protocol::{ErrorCode, ServerMessage};

impl RoomEngine {
    /// Someone was let into the room: they may now negotiate media.
    pub fn add_peer(&mut self, id: &str, state: MediaState) {
        if self.by_id.contains_key(id) {
            return;
        }
        let token = self.sfu.transport.new_token();
        let mut peer = Peer::new(id.to_owned(), token, Instant::now());
        peer.state = state;
        let idx = match self.peers.iter().position(Option::is_none) {
            Some(free) => {
                self.peers[free] = Some(peer);
                free
            }
            None => {
                self.peers.push(Some(peer));
                self.peers.len() - 1
            }
        };
        self.by_id.insert(id.to_owned(), idx);
        self.by_token.insert(token, idx);
        self.dirty = true;
    }

    /// Someone left (or was dropped): their connection closes and no slot shows them.
    pub fn remove_peer(&mut self, id: &str) -> Effects {
        if let Some(idx) = self.by_id.remove(id)
            && let Some(peer) = self.peers.get_mut(idx).and_then(Option::take)
        {
            self.by_token.remove(&peer.token);
            self.sfu.transport.unregister(peer.token);
            self.speakers.remove(idx);
            self.announce.remove(&idx);
            self.dirty = true;
            self.settle(Instant::now());
        }
        self.take_effects()
    }

    /// The browser's SDP offer (its first, or a renegotiation or ICE restart): answered on its
    /// signalling connection.
    pub fn offer(&mut self, id: &str, sdp: &str) -> Effects {
        let result = self.accept_offer(id, sdp);
        match result {
            Ok(answer) => self
                .effects
                .messages
                .push((id.to_owned(), ServerMessage::SfuAnswer { sdp: answer })),
            Err(why) => self.effects.messages.push((
                id.to_owned(),
                ServerMessage::error(ErrorCode::BadMessage, why),
            )),
        }
        self.run_work();
        self.settle(Instant::now());
        self.take_effects()
    }

    fn accept_offer(&mut self, id: &str, sdp: &str) -> Result<String, String> {
        let offer = SdpOffer::from_sdp_string(sdp)
            .map_err(|e| format!("The media offer could not be read: {e}"))?;
        let lines = sdp.lines().filter(|l| l.starts_with("m=")).count();
        if lines > MAX_MEDIA_LINES {
            return Err(format!(
                "The media offer has {lines} media lines; at most {MAX_MEDIA_LINES} are accepted."
            ));
        }
        let sfu = self.sfu.clone();
        let packets = self.packets_tx.clone();
        let Some(&idx) = self.by_id.get(id) else {
            return Err("You are not in this meeting's media.".into());
        };
        let Some(peer) = self.peers.get_mut(idx).and_then(Option::as_mut) else {
            return Err("You are not in this meeting's media.".into());
        };
        if !peer.has_rtc() {
            peer.set_rtc(sfu.new_rtc().map_err(|e| {
                tracing::error!(error = %e, "could not set up a media connection");
                "The media server could not set up a connection.".to_owned()
            })?);
        }
        let work = &mut self.work;
        tracing::debug!(peer = %id, "media offer");
        // An ICE restart gives the peer a new ufrag: packets find it by that from now on.
        let accepted = peer.mutate("accept_offer", idx, &sfu.transport, work, |rtc| {
            let answer = rtc.sdp_api().accept_offer(offer)?;
            Ok((answer, rtc.direct_api().local_ice_credentials().ufrag))
        });
        let Ok((answer, ufrag)) = accepted else {
            self.fail(idx);
            return Err("The media offer was refused.".into());
        };
        if peer.ufrag.as_ref() != Some(&ufrag) {
            sfu.transport.register(&ufrag, peer.token, &packets);
            peer.ufrag = Some(ufrag);
        }
        self.dirty = true;
        Ok(answer.to_sdp_string())
    }

    /// The page's visible tiles (biggest first) and their heights in device pixels.
    pub fn layout(&mut self, id: &str, tiles: Vec<Tile>) {
        if let Some((_, peer)) = self.peer(id) {
            peer.layout = Some(tiles);
            self.dirty = true;
        }
    }

    /// What a peer says it sends: video off means none of its video is forwarded.
    pub fn media_state(&mut self, id: &str, state: MediaState) {
        if let Some((_, peer)) = self.peer(id) {
            peer.state = state;
            self.dirty = true;
        }
    }
}
