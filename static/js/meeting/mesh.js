// The mesh media adapter: one RTCPeerConnection per remote participant, signalled over the
// meeting room's WebSocket (docs/signalling.md; the room itself, its waiting room, host controls
// and chat are room-adapter.js and room-socket.js). The UI (room.js) talks to any adapter only
// through this surface, so a hosted one (stream.js) can stand in:
//
//   new Adapter({meetingId, self: {id, name, image}, iceServers?})
//   await join({stream, audio, video})   → {you, owner, maxParticipants}; rejects with Error{code}
//                                          (pending while I wait to be let in; see room-adapter.js)
//   setMediaState({audio, video, screen}) · replaceVideoTrack(t|null) · replaceAudioTrack(t|null)
//   sendReaction(emoji) · setHandRaised(bool) · leave() · peerConnections() · selfId
//   events (CustomEvent detail): participant-joined/-updated {participant}, participant-left {id},
//   track {id, stream}, reaction {id, emoji}, ended, connection {state}, error {code, message},
//   recording {active, name} (a recording of this call started or stopped; name: who started
//   it, "" when not known), recording-permission {allowed} (the host lets everyone record).
//   Both also come once per (re)join, from the server's welcome, before join() resolves.
//   The room's events and methods (waiting, chat, the host's controls) are room-adapter.js's.
//
// Events only ever describe remote participants (the UI shows its own state itself), except
// the recording ones, which are about the call.

import { RoomAdapter } from "./room-adapter.js";

export class MeshAdapter extends RoomAdapter {
  constructor({ meetingId, self, iceServers = [] }) {
    super(meetingId);
    this.self = self;
    this.iceServers = iceServers;
    this.peers = new Map();
    this.tracks = { audio: null, video: null };
    // All my senders share this stream id, so each peer gets my audio and video as one stream.
    this.outStream = new MediaStream();
    this.phase = "idle"; // idle | joining | joined | closed
    this.collisions = 0; // offers that crossed one of mine (glare), for the console and tests
  }

  get selfId() {
    return this.room.you;
  }

  get you() {
    return this.room.you;
  }

  peerConnections() {
    return new Map([...this.peers].map(([id, p]) => [id, p.pc]));
  }

  async join({ stream = null, audio = false, video = false } = {}) {
    this.tracks.audio = stream?.getAudioTracks()[0] ?? null;
    this.tracks.video = stream?.getVideoTracks()[0] ?? null;
    Object.assign(this.state, { audio, video });
    this.phase = "joining";
    try {
      await this.joinRoom();
    } catch (error) {
      this.close();
      throw error;
    }
    return { you: this.you, owner: this.owner, maxParticipants: this.maxParticipants };
  }

  send(msg) {
    this.room.sendInside(msg);
  }

  // ---- Messages -------------------------------------------------------------------------

  mediaMessage(msg) {
    switch (msg.type) {
      case "peer-joined":
        if (!this.room.formerIds.has(msg.peer.id)) this.addPeer(msg.peer, false);
        return;
      case "peer-left":
        return this.removePeer(msg.id);
      case "offer":
      case "answer": {
        let peer = this.peers.get(msg.from);
        if (!peer && msg.type === "offer") peer = this.addPeer({ id: msg.from, name: "Participant" }, false);
        if (peer) this.queue(peer, () => this.description(peer, { type: msg.type, sdp: msg.sdp }));
        return;
      }
      case "candidate": {
        const peer = this.peers.get(msg.from);
        if (peer && msg.candidate) this.queue(peer, () => this.candidate(peer, msg.candidate));
        return;
      }
      case "media":
      case "hand": {
        const peer = this.peers.get(msg.id);
        if (!peer) return;
        if (msg.type === "hand") peer.info.hand = !!msg.raised;
        else Object.assign(peer.info, { audio: !!msg.audio, video: !!msg.video, screen: !!msg.screen });
        return this.emit("participant-updated", { participant: { ...peer.info } });
      }
      case "reaction":
        if (msg.id !== this.you && !this.room.formerIds.has(msg.id)) this.emit("reaction", { id: msg.id, emoji: msg.emoji });
        return;
      case "recording":
        return this.emit("recording", { active: !!msg.active, name: typeof msg.name === "string" ? msg.name : "" });
      case "recording-permission":
        return this.emit("recording-permission", { allowed: !!msg.allowed });
      default:
        return; // anything newer than this client
    }
  }

  welcomed(msg, rejoined) {
    if (Array.isArray(msg.iceServers) && msg.iceServers.length) this.iceServers = msg.iceServers;
    this.maxParticipants = msg.maxParticipants;
    // My new id means new connections everywhere; the old ones kept media flowing until now.
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    this.phase = "joined";
    // Newcomers offer; those already in wait for the offer, so no pair ever starts in glare.
    for (const peer of msg.peers || []) {
      if (!this.room.formerIds.has(peer.id)) this.addPeer(peer, true);
    }
    // The welcome says whether a recording runs now, and who started it when known.
    if ("recordingAllowed" in msg) this.emit("recording-permission", { allowed: !!msg.recordingAllowed });
    if ("recording" in msg) {
      this.emit("recording", { active: !!msg.recording, name: typeof msg.recordingBy === "string" ? msg.recordingBy : "" });
    }
    if (rejoined && this.state.screen) this.setMediaState(this.state);
  }

  // ---- Peers ----------------------------------------------------------------------------

  addPeer(info, initiate) {
    this.removePeer(info.id);
    const pc = new RTCPeerConnection({ iceServers: this.iceServers });
    const peer = {
      id: info.id,
      info: { audio: false, video: false, screen: false, hand: false, owner: false, ...info },
      pc,
      polite: this.you < info.id,
      makingOffer: false,
      ignoreOffer: false,
      pending: [],
      chain: Promise.resolve(),
      senders: {},
      received: new Map(),
    };
    this.peers.set(peer.id, peer);
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        this.send({ type: "offer", to: peer.id, sdp: pc.localDescription.sdp });
      } catch (e) {
        console.warn("offer failed", e);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.onicecandidate = (e) => {
      this.send({ type: "candidate", to: peer.id, candidate: e.candidate ? e.candidate.toJSON() : null });
    };
    pc.ontrack = (e) => this.received(peer, e.track);
    pc.onconnectionstatechange = () => {
      // A changed network (Wi-Fi to cellular) breaks the path; new candidates usually mend it.
      if (pc.connectionState === "failed" && this.peers.get(peer.id) === peer) pc.restartIce?.();
    };
    if (initiate) {
      // Always one audio and one video sender: later tracks go in with replaceTrack, without
      // renegotiating, and a participant with no devices still receives.
      for (const kind of ["audio", "video"]) {
        const t = pc.addTransceiver(this.tracks[kind] ?? kind, { direction: "sendrecv", streams: [this.outStream] });
        peer.senders[kind] = t.sender;
      }
    }
    this.emit("participant-joined", { participant: { ...peer.info } });
    this.tuneBitrates();
    return peer;
  }

  removePeer(id) {
    const peer = this.peers.get(id);
    if (!peer) return;
    this.peers.delete(id);
    clearTimeout(peer.emitTimer);
    peer.pc.close();
    this.emit("participant-left", { id });
    this.tuneBitrates();
  }

  // Signalling for one peer runs in order: a candidate never overtakes its description.
  queue(peer, task) {
    peer.chain = peer.chain.then(task).catch((e) => console.warn("negotiation", peer.id, e));
  }

  async description(peer, description) {
    const pc = peer.pc;
    const collision = description.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
    peer.ignoreOffer = !peer.polite && collision;
    if (collision) this.collisions += 1;
    if (peer.ignoreOffer) return;
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return;
    // On the polite side this rolls back our own offer implicitly.
    await pc.setRemoteDescription(description);
    if (description.type === "offer") {
      await this.adoptTransceivers(peer);
      await pc.setLocalDescription();
      this.send({ type: "answer", to: peer.id, sdp: pc.localDescription.sdp });
    }
    for (const candidate of peer.pending.splice(0)) await this.addCandidate(peer, candidate);
    this.tuneBitrates();
  }

  // The answering side sends on the transceivers the offer created, so it needs none of its own.
  async adoptTransceivers(peer) {
    for (const t of peer.pc.getTransceivers()) {
      const kind = t.receiver.track?.kind;
      if (!kind || peer.senders[kind] || t.currentDirection === "stopped") continue;
      peer.senders[kind] = t.sender;
      t.direction = "sendrecv";
      t.sender.setStreams?.(this.outStream);
      await t.sender.replaceTrack(this.tracks[kind]);
    }
  }

  async candidate(peer, candidate) {
    if (!peer.pc.remoteDescription) peer.pending.push(candidate);
    else await this.addCandidate(peer, candidate);
  }

  async addCandidate(peer, candidate) {
    try {
      await peer.pc.addIceCandidate(candidate);
    } catch (e) {
      if (!peer.ignoreOffer) console.warn("candidate refused", e);
    }
  }

  // Audio and video of one peer arrive as two track events; hand the UI one stream with both.
  received(peer, track) {
    peer.received.set(track.kind, track);
    clearTimeout(peer.emitTimer);
    peer.emitTimer = setTimeout(() => {
      if (this.peers.get(peer.id) !== peer) return;
      this.emit("track", { id: peer.id, stream: new MediaStream([...peer.received.values()]) });
    }, 0);
  }

  // In a mesh every viewer costs one more upload of my video; share the uplink between them.
  tuneBitrates() {
    const count = this.peers.size;
    const max = count <= 2 ? 1_500_000 : Math.max(300_000, Math.floor(2_500_000 / count));
    for (const peer of this.peers.values()) {
      const sender = peer.senders.video;
      const params = sender?.getParameters?.();
      if (!params?.encodings?.length || params.encodings[0].maxBitrate === max) continue;
      params.encodings[0].maxBitrate = max;
      sender.setParameters(params).catch(() => {});
    }
  }

  // ---- What the UI asks -----------------------------------------------------------------

  setMediaState({ audio, video, screen = false }) {
    Object.assign(this.state, { audio: !!audio, video: !!video, screen: !!screen });
    this.send({ type: "media", audio: this.state.audio, video: this.state.video, screen: this.state.screen });
  }

  replaceVideoTrack(track) {
    return this.replaceTrack("video", track);
  }

  replaceAudioTrack(track) {
    return this.replaceTrack("audio", track);
  }

  async replaceTrack(kind, track) {
    this.tracks[kind] = track ?? null;
    await Promise.all(
      [...this.peers.values()].map((p) => p.senders[kind]?.replaceTrack(this.tracks[kind]).catch((e) => console.warn(e))),
    );
  }

  sendReaction(emoji) {
    this.send({ type: "reaction", emoji });
  }

  setHandRaised(raised) {
    this.state.hand = !!raised;
    this.send({ type: "hand", raised: this.state.hand });
  }

  close() {
    this.phase = "closed";
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    super.close();
  }
}

export default MeshAdapter;
