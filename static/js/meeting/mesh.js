// The mesh media adapter: one RTCPeerConnection per remote participant, signalled over the
// server's WebSocket (docs/signalling.md). The UI (room.js) talks to any adapter only through
// this surface, so a hosted one (stream.js) can stand in:
//
//   new Adapter({meetingId, self: {id, name, image}, iceServers?})
//   await join({stream, audio, video})   → {you, owner, maxParticipants}; rejects with Error{code}
//   setMediaState({audio, video, screen}) · replaceVideoTrack(t|null) · replaceAudioTrack(t|null)
//   sendReaction(emoji) · setHandRaised(bool) · leave() · peerConnections() · selfId
//   events (CustomEvent detail): participant-joined/-updated {participant}, participant-left {id},
//   track {id, stream}, reaction {id, emoji}, ended, connection {state}, error {code, message},
//   recording {active, name} (a recording of this call started or stopped; name: who started
//   it, "" when not known), recording-permission {allowed} (the host lets everyone record).
//   Both also come once per (re)join, from the server's welcome, before join() resolves.
//
// Events only ever describe remote participants (the UI shows its own state itself), except
// the recording ones, which are about the call.

const PING_MS = 5000;
const STALE_MS = 15000; // three missed pongs: the socket is dead even if it has not closed
const WELCOME_TIMEOUT_MS = 15000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 8000;
const GIVE_UP_MS = 120000;
const FATAL = new Set(["room_full", "too_many_connections", "ended", "forbidden"]);

function joinError(code, message) {
  return Object.assign(new Error(message), { code });
}

export class MeshAdapter extends EventTarget {
  constructor({ meetingId, self, iceServers = [] }) {
    super();
    this.meetingId = meetingId;
    this.self = self;
    this.iceServers = iceServers;
    this.you = null;
    this.formerIds = new Set(); // my ids from before a reconnect: never a peer of mine
    this.peers = new Map();
    this.tracks = { audio: null, video: null };
    // All my senders share this stream id, so each peer gets my audio and video as one stream.
    this.outStream = new MediaStream();
    this.state = { audio: false, video: false, screen: false, hand: false };
    this.phase = "idle"; // idle | joining | joined | reconnecting | closed
    this.collisions = 0; // offers that crossed one of mine (glare), for the console and tests
    this.onOnline = () => this.phase === "reconnecting" && this.reconnectNow();
  }

  get selfId() {
    return this.you;
  }

  peerConnections() {
    return new Map([...this.peers].map(([id, p]) => [id, p.pc]));
  }

  join({ stream = null, audio = false, video = false } = {}) {
    this.tracks.audio = stream?.getAudioTracks()[0] ?? null;
    this.tracks.video = stream?.getVideoTracks()[0] ?? null;
    Object.assign(this.state, { audio, video });
    this.phase = "joining";
    window.addEventListener("online", this.onOnline);
    return new Promise((resolve, reject) => {
      this.pendingJoin = { resolve, reject };
      this.connect();
    });
  }

  // ---- Socket ---------------------------------------------------------------------------

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/meeting/${this.meetingId}/signal`);
    this.ws = ws;
    this.welcomed = false;
    ws.onopen = () => {
      this.lastHeard = Date.now();
      this.send({ type: "join", audio: this.state.audio, video: this.state.video });
      this.welcomeTimer = setTimeout(() => this.dropSocket(), WELCOME_TIMEOUT_MS);
    };
    ws.onmessage = (e) => {
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      this.handle(msg);
    };
    ws.onclose = () => {
      if (ws === this.ws) this.socketClosed();
    };
  }

  // Closing a dead socket can wait long for its handshake; detach first, then carry on.
  dropSocket() {
    const ws = this.ws;
    if (!ws) return;
    ws.onopen = ws.onmessage = ws.onclose = null;
    try {
      ws.close();
    } catch {
      // Already closed.
    }
    this.socketClosed();
  }

  socketClosed() {
    this.ws = null;
    clearInterval(this.pingTimer);
    clearTimeout(this.welcomeTimer);
    if (this.phase === "closed") return;
    if (this.pendingJoin) {
      // Refused during the upgrade (401/403/404/410) or the network is down: no reason given.
      this.failJoin(joinError("connect_failed", "Could not connect to the meeting."));
      return;
    }
    if (this.phase !== "reconnecting") {
      this.phase = "reconnecting";
      this.reconnectStarted = Date.now();
      this.backoff = BACKOFF_FIRST_MS;
      this.emit("connection", { state: "reconnecting" });
    }
    if (Date.now() - this.reconnectStarted > GIVE_UP_MS) {
      this.fail("connection_lost", "Lost the connection to the meeting.");
      return;
    }
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
  }

  reconnectNow() {
    clearTimeout(this.reconnectTimer);
    if (!this.ws) this.connect();
  }

  send(msg) {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(msg));
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  // ---- Messages -------------------------------------------------------------------------

  handle(msg) {
    switch (msg.type) {
      case "welcome":
        return this.welcome(msg);
      case "peer-joined":
        if (!this.formerIds.has(msg.peer.id)) this.addPeer(msg.peer, false);
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
        if (msg.id !== this.you && !this.formerIds.has(msg.id)) this.emit("reaction", { id: msg.id, emoji: msg.emoji });
        return;
      case "recording":
        return this.emit("recording", { active: !!msg.active, name: typeof msg.name === "string" ? msg.name : "" });
      case "recording-permission":
        return this.emit("recording-permission", { allowed: !!msg.allowed });
      case "ended":
        this.close();
        return this.emit("ended", {});
      case "error":
        return this.serverError(msg);
      default:
        return; // pong, and anything newer than this client
    }
  }

  welcome(msg) {
    clearTimeout(this.welcomeTimer);
    if (this.you) this.formerIds.add(this.you);
    this.you = msg.you;
    if (Array.isArray(msg.iceServers) && msg.iceServers.length) this.iceServers = msg.iceServers;
    this.owner = !!msg.owner;
    this.maxParticipants = msg.maxParticipants;
    // My new id means new connections everywhere; the old ones kept media flowing until now.
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    const rejoined = this.phase === "reconnecting";
    this.phase = "joined";
    clearInterval(this.pingTimer);
    this.pingTimer = setInterval(() => {
      if (Date.now() - this.lastHeard > STALE_MS) return this.dropSocket();
      this.send({ type: "ping" });
    }, PING_MS);
    // Newcomers offer; those already in wait for the offer, so no pair ever starts in glare.
    for (const peer of msg.peers || []) {
      if (!this.formerIds.has(peer.id)) this.addPeer(peer, true);
    }
    // The welcome says whether a recording runs now, and who started it when known.
    if ("recordingAllowed" in msg) this.emit("recording-permission", { allowed: !!msg.recordingAllowed });
    if ("recording" in msg) {
      this.emit("recording", { active: !!msg.recording, name: typeof msg.recordingBy === "string" ? msg.recordingBy : "" });
    }
    if (rejoined) {
      if (this.state.screen) this.setMediaState(this.state);
      if (this.state.hand) this.send({ type: "hand", raised: true });
      this.emit("connection", { state: "connected" });
    }
    if (this.pendingJoin) {
      this.pendingJoin.resolve({ you: this.you, owner: this.owner, maxParticipants: this.maxParticipants });
      this.pendingJoin = null;
    }
  }

  serverError(msg) {
    if (!FATAL.has(msg.code)) {
      console.warn("signalling:", msg.code, msg.message);
      return;
    }
    if (this.pendingJoin) return this.failJoin(joinError(msg.code, msg.message));
    if (msg.code === "ended") {
      this.close();
      return this.emit("ended", {});
    }
    this.fail(msg.code, msg.message);
  }

  failJoin(error) {
    const pending = this.pendingJoin;
    this.pendingJoin = null;
    this.close();
    pending?.reject(error);
  }

  fail(code, message) {
    this.close();
    this.emit("error", { code, message });
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

  leave() {
    if (this.phase === "closed") return;
    this.send({ type: "leave" });
    this.close();
  }

  close() {
    this.phase = "closed";
    clearInterval(this.pingTimer);
    clearTimeout(this.welcomeTimer);
    clearTimeout(this.reconnectTimer);
    window.removeEventListener("online", this.onOnline);
    for (const id of [...this.peers.keys()]) this.removePeer(id);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.close(1000);
    }
  }
}

export default MeshAdapter;
