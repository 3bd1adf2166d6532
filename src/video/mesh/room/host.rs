//! The host's controls: the waiting room (let in, turn away), the lock, removing someone (and
//! letting them back), asking people to mute, lowering hands. Every one is checked here,
//! whatever the page shows: from anyone but the host it is refused and changes nothing.

use super::super::Moderation;
use super::super::protocol::{ErrorCode, RemovedInfo, ServerMessage, WaitingInfo};
use super::writes::Write;
use super::{Outgoing, Room};
use crate::meetings::access::Decision;

impl Room {
    /// True when `from` is a host in the room; otherwise tells them no.
    pub(super) fn is_host(&mut self, from: &str) -> bool {
        if self.peers.get(from).is_some_and(|p| p.info.owner) {
            return true;
        }
        self.error(from, ErrorCode::Forbidden, "Only the host can do that.");
        false
    }

    /// Sends a message to every host connection in the room.
    pub(super) fn tell_hosts(&mut self, message: &ServerMessage) {
        let hosts: Vec<String> = self
            .peers
            .iter()
            .filter(|(_, p)| p.info.owner)
            .map(|(id, _)| id.clone())
            .collect();
        for id in hosts {
            self.send(&id, message);
        }
    }

    pub(super) fn waiting_list(&self) -> Vec<WaitingInfo> {
        self.waiting_order
            .iter()
            .filter_map(|id| self.waiting.get(id))
            .map(|p| WaitingInfo {
                id: p.info.id.clone(),
                user_id: p.info.user_id.clone(),
                name: p.info.name.clone(),
                image: p.info.image.clone(),
                quiet: self.denied.contains_key(&p.info.user_id),
            })
            .collect()
    }

    /// Waits until every write sent so far is stored.
    pub(super) async fn writes_stored(&self) {
        let (done, written) = tokio::sync::oneshot::channel();
        let _ = self.writes.send(Write::Flush(done));
        let _ = written.await;
    }

    /// With a hosted provider, someone just let in is welcomed only once that is stored: their
    /// page then asks for a call token, which is given only to people stored as admitted.
    /// (Built-in media needs no token, so its rooms do not wait.)
    pub(super) async fn admission_stored(&self) {
        if self.hub.moderation.is_some() {
            self.writes_stored().await;
        }
    }

    pub(super) fn removed_list(&self) -> Vec<RemovedInfo> {
        let mut list: Vec<RemovedInfo> = self
            .access
            .removed
            .iter()
            .map(|(user_id, name)| RemovedInfo {
                user_id: user_id.clone(),
                name: name.clone(),
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        list
    }

    /// Lets a waiting person in (they get the welcome; the others see them join).
    pub(super) async fn admit(&mut self, from: &str, id: &str) {
        if !self.is_host(from) {
            return;
        }
        if !self.waiting.contains_key(id) {
            self.error(
                from,
                ErrorCode::UnknownPeer,
                "That person is no longer waiting.",
            );
            return;
        }
        if self.peers.len() >= self.hub.max_participants {
            self.error(
                from,
                ErrorCode::RoomFull,
                &format!(
                    "The meeting is full ({} people): someone must leave first.",
                    self.hub.max_participants
                ),
            );
            return;
        }
        self.waiting_order.retain(|w| w != id);
        if let Some(participant) = self.waiting.remove(id) {
            let user = participant.info.user_id.clone();
            let name = participant.info.name.clone();
            self.access.admitted.insert(user.clone());
            let _ = self
                .writes
                .send(Write::Decide(user, name, Decision::Admitted));
            self.admission_stored().await;
            self.tell_hosts(&ServerMessage::KnockGone { id: id.to_owned() });
            self.enter(participant);
        }
    }

    /// Turns a waiting person away: they are told, and their connection closes.
    pub(super) fn deny(&mut self, from: &str, id: &str) {
        if !self.is_host(from) {
            return;
        }
        self.waiting_order.retain(|w| w != id);
        match self.waiting.remove(id) {
            Some(participant) => {
                self.denied
                    .insert(participant.info.user_id.clone(), std::time::Instant::now());
                let _ = participant
                    .out
                    .try_send(Outgoing::Final(ServerMessage::Denied.to_text().into()));
                self.tell_hosts(&ServerMessage::KnockGone { id: id.to_owned() });
            }
            None => self.error(
                from,
                ErrorCode::UnknownPeer,
                "That person is no longer waiting.",
            ),
        }
    }

    /// Lets everyone waiting in, as far as there is room.
    pub(super) async fn admit_all(&mut self, from: &str) {
        if !self.is_host(from) {
            return;
        }
        for id in self.waiting_order.clone() {
            if self.peers.len() >= self.hub.max_participants {
                break;
            }
            self.admit(from, &id).await;
        }
    }

    fn announce_room_state(&mut self) {
        let _ = self.writes.send(Write::Settings {
            waiting_room: self.access.waiting_room,
            locked: self.access.locked,
        });
        self.broadcast(
            None,
            &ServerMessage::RoomState {
                locked: self.access.locked,
                waiting_room: self.access.waiting_room,
            },
        );
    }

    pub(super) fn set_locked(&mut self, from: &str, locked: bool) {
        if self.is_host(from) {
            self.access.locked = locked;
            self.announce_room_state();
        }
    }

    /// Turns the waiting room on or off; off lets in everyone who was waiting.
    pub(super) async fn set_waiting_room(&mut self, from: &str, enabled: bool) {
        if !self.is_host(from) {
            return;
        }
        self.access.waiting_room = enabled;
        self.announce_room_state();
        if !enabled {
            self.admit_all(from).await;
        }
    }

    /// Removes everyone of the account behind peer `id`: they are told and disconnected, and
    /// refused until the host lets them back. The removal is stored before anyone is told, so
    /// from the notice on, everything that reads the database (a Stream call token, another
    /// instance, a reload) refuses them too.
    pub(super) async fn remove(&mut self, from: &str, id: &str) {
        if !self.is_host(from) {
            return;
        }
        let target = self
            .peers
            .get(id)
            .or_else(|| self.waiting.get(id))
            .map(|p| (p.info.user_id.clone(), p.info.name.clone(), p.info.owner));
        let Some((user, name, owner)) = target else {
            self.error(
                from,
                ErrorCode::UnknownPeer,
                "That participant is not in this meeting.",
            );
            return;
        };
        if owner {
            self.error(from, ErrorCode::Forbidden, "The host cannot be removed.");
            return;
        }
        self.access.admitted.remove(&user);
        self.access.removed.insert(user.clone(), name.clone());
        let _ = self
            .writes
            .send(Write::Decide(user.clone(), name, Decision::Removed));
        self.writes_stored().await;
        let final_text: std::sync::Arc<str> = ServerMessage::Removed.to_text().into();
        let connections: Vec<String> = self
            .peers
            .iter()
            .chain(self.waiting.iter())
            .filter(|(_, p)| p.info.user_id == user)
            .map(|(id, _)| id.clone())
            .collect();
        for peer in connections {
            let gone = self.peers.get(&peer).or_else(|| self.waiting.get(&peer));
            if let Some(p) = gone {
                let _ = p.out.try_send(Outgoing::Final(final_text.clone()));
            }
            if self.waiting.remove(&peer).is_some() {
                self.waiting_order.retain(|w| w != &peer);
                self.tell_hosts(&ServerMessage::KnockGone { id: peer.clone() });
            }
            // Dropping them (and their queue's sender) closes the connection once it has
            // passed on the notice.
            self.leave(&peer);
        }
        self.moderate(Moderation::Remove {
            meeting_id: self.meeting_id.clone(),
            user_id: user,
        });
        let removed = self.removed_list();
        self.tell_hosts(&ServerMessage::RemovedList { removed });
    }

    /// Undoes a removal: the person may come back (through the waiting room when it is on).
    pub(super) fn allow_back(&mut self, from: &str, user_id: &str) {
        if !self.is_host(from) {
            return;
        }
        if self.access.removed.remove(user_id).is_none() {
            self.error(
                from,
                ErrorCode::UnknownPeer,
                "That person was not removed from this meeting.",
            );
            return;
        }
        let _ = self.writes.send(Write::Forget(user_id.to_owned()));
        self.moderate(Moderation::AllowBack {
            meeting_id: self.meeting_id.clone(),
            user_id: user_id.to_owned(),
        });
        let removed = self.removed_list();
        self.tell_hosts(&ServerMessage::RemovedList { removed });
    }

    /// Asks everyone of the account behind `id` (or everyone but the hosts) to mute.
    pub(super) fn mute(&mut self, from: &str, id: Option<&str>) {
        if !self.is_host(from) {
            return;
        }
        let by = self
            .peers
            .get(from)
            .map(|p| p.info.name.clone())
            .unwrap_or_default();
        let user = match id {
            Some(id) => match self.peers.get(id) {
                Some(p) => Some(p.info.user_id.clone()),
                None => {
                    self.error(
                        from,
                        ErrorCode::UnknownPeer,
                        "That participant is not in this meeting.",
                    );
                    return;
                }
            },
            None => None,
        };
        let targets: Vec<(String, String)> = self
            .peers
            .iter()
            .filter(|(_, p)| match &user {
                Some(user) => &p.info.user_id == user,
                None => !p.info.owner,
            })
            .map(|(id, p)| (id.clone(), p.info.user_id.clone()))
            .collect();
        let message = ServerMessage::Muted { by };
        let mut users: Vec<String> = Vec::new();
        for (peer, user) in targets {
            self.send(&peer, &message);
            if !users.contains(&user) {
                users.push(user);
            }
        }
        self.moderate(Moderation::Mute {
            meeting_id: self.meeting_id.clone(),
            user_ids: users,
            everyone: user.is_none(),
        });
    }

    /// Lowers every raised hand.
    pub(super) fn lower_hands(&mut self, from: &str) {
        if !self.is_host(from) {
            return;
        }
        let raised: Vec<String> = self
            .peers
            .iter_mut()
            .filter(|(_, p)| p.info.hand)
            .map(|(id, p)| {
                p.info.hand = false;
                id.clone()
            })
            .collect();
        for id in raised {
            self.broadcast(None, &ServerMessage::Hand { id, raised: false });
        }
    }

    /// Tells the hosted provider, if there is one, to enforce a host decision.
    fn moderate(&self, action: Moderation) {
        if let Some(moderation) = &self.hub.moderation {
            let _ = moderation.send(action);
        }
    }
}
