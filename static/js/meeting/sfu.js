// The built-in media server's adapter: one RTCPeerConnection to our server, which forwards
// media (an SFU). Same surface and events as mesh.js (see its header), whose participant
// bookkeeping it inherits, with the meeting room (waiting room, host controls, chat) of
// room-adapter.js underneath both; only the media differs:
//
// - Publishing: the microphone, and the camera (or screen) in three simulcast layers, once.
// - Receiving: a few audio slots and one video slot per visible tile (grown in steps as people
//   join). The server decides which participant each slot shows (the loudest speakers; the
//   layer that fits each tile) and says so in "sfu-slots" messages; the page reports its
//   visible tiles and their sizes in "layout" messages.
// - Signalling: the page offers, the server answers ("sfu-offer"/"sfu-answer"), one
//   negotiation at a time; the server never offers, so offers cannot cross.
//
// Hooks for room.js: bindVideo(id, el) (the server's slots draw into the tiles' <video>),
// layoutChanged() (other tiles may be on screen: a grid page turned, a layout changed),
// setAudioOutput(sinkId), statsRows(); events as mesh.js, plus audio {id, stream} for the
// voices, which play on elements of their own.
//
// A tile is on screen when some of it is inside the window and inside the box it sits in (the
// speaker layouts' strip scrolls); hidden tiles (other grid pages, see tiles.js) are not.

import { MeshAdapter } from "./mesh.js";

// The server forwards the loudest few voices; see src/video/sfu/engine/speakers.rs.
const AUDIO_SLOTS = 3;
// Video slots grow in steps (each step renegotiates) up to a grid page.
const VIDEO_SLOT_STEP = 4;
const MAX_VIDEO_SLOTS = 25;
// Camera layers: quarter, half and full resolution, each with its bitrate ceiling.
const LAYERS = [
  { rid: "q", scaleResolutionDownBy: 4, maxBitrate: 150_000 },
  { rid: "h", scaleResolutionDownBy: 2, maxBitrate: 500_000 },
  { rid: "f", maxBitrate: 1_500_000 },
];
const LAYOUT_DELAY_MS = 150; // tiles settle (a layout change moves several) before reporting
const LAYOUT_CHECK_MS = 1000; // and a look now and then for what no resize announces
const ANSWER_TIMEOUT_MS = 10000;
const RESTART_AFTER_MS = 2500; // a connection "disconnected" this long restarts ICE
const STATS_EVERY_MS = 1500;

function preferCodec(transceiver, kind, mimeType, sending) {
  const Caps = sending ? window.RTCRtpSender : window.RTCRtpReceiver;
  const codecs = Caps?.getCapabilities?.(kind)?.codecs;
  if (!codecs || !transceiver.setCodecPreferences) return;
  const wanted = codecs.filter((c) => {
    const mime = c.mimeType.toLowerCase();
    return mime === mimeType || mime === `${kind}/rtx`;
  });
  try {
    transceiver.setCodecPreferences(wanted);
  } catch {
    // Not fatal: the server picks Opus and VP8 from a longer list too.
  }
}

/** Whether some of rect `r` is inside the window and inside `box` (its container's rect). */
function onScreen(r, box) {
  const top = Math.max(r.top, 0, box?.top ?? 0);
  const left = Math.max(r.left, 0, box?.left ?? 0);
  const bottom = Math.min(r.bottom, innerHeight, box?.bottom ?? Infinity);
  const right = Math.min(r.right, innerWidth, box?.right ?? Infinity);
  return bottom > top && right > left;
}

export class SfuAdapter extends MeshAdapter {
  constructor(options) {
    super(options);
    this.pc = null;
    this.senders = {};
    this.slots = new Map(); // mid → {kind, transceiver, stream, peer, audio?}
    this.unnamed = []; // slots whose transceiver has no mid yet (before the next offer)
    this.videoEls = new Map(); // peer id → its tile's <video>
    this.sinkId = "";
    this.negotiating = false;
    this.again = false;
    this.restartNext = false;
    this.pendingAnswer = null;
    this.sentLayout = "";
    this.statRows = [];
    // When this connection's steps happened (performance.now()), for the console and tests.
    this.timings = { created: performance.now() };
    this.resizes = new ResizeObserver(() => this.scheduleLayout());
    // Scrolling the strip brings other thumbnails on screen (scroll events do not bubble, but
    // they pass the document on their way down).
    this.onScroll = () => this.scheduleLayout();
    document.addEventListener("scroll", this.onScroll, { capture: true, passive: true });
    // Someone waiting to be let in holds no connection at all; one is made when let in.
    this.addEventListener("waiting", () => {
      this.closeConnection();
      this.unused = false;
    });
  }

  peerConnections() {
    return this.pc ? new Map([["server", this.pc]]) : new Map();
  }

  // ---- Participants (no connection of their own: the server's slots show them) ----------

  addPeer(info) {
    this.removePeer(info.id);
    const peer = { id: info.id, info: { audio: false, video: false, screen: false, hand: false, owner: false, ...info } };
    this.peers.set(peer.id, peer);
    this.emit("participant-joined", { participant: { ...peer.info } });
    this.growSlots();
    this.scheduleLayout();
    return peer;
  }

  removePeer(id) {
    if (!this.peers.has(id)) return;
    this.peers.delete(id);
    for (const slot of this.slots.values()) if (slot.peer === id) this.show(slot, null);
    const el = this.videoEls.get(id);
    if (el) this.resizes.unobserve(el.closest(".tile") ?? el);
    this.videoEls.delete(id);
    this.emit("participant-left", { id });
    this.scheduleLayout();
  }

  tuneBitrates() {
    // Simulcast layers have fixed ceilings; the server picks what each viewer gets.
  }

  mediaMessage(msg) {
    switch (msg.type) {
      case "sfu-answer":
        return this.answered(msg.sdp);
      case "sfu-slots":
        for (const { mid, peer } of msg.slots || []) {
          const slot = this.slots.get(mid);
          if (slot) this.show(slot, peer && this.peers.has(peer) ? peer : null);
        }
        return;
      case "offer":
      case "answer":
      case "candidate":
        return; // mesh signalling; not used here
      default:
        return super.mediaMessage(msg);
    }
  }

  join(options) {
    this.timings.join = performance.now();
    const joined = super.join(options);
    // The connection and its first offer are made while the signalling socket connects (or
    // the host is deciding to let me in), so the offer goes out the moment I am in.
    this.openConnection(0);
    const pc = this.pc;
    this.preparing = pc
      .createOffer()
      .then((offer) => (pc === this.pc ? pc.setLocalDescription(offer) : null))
      .catch(() => {});
    this.unused = true;
    return joined;
  }

  welcomed(msg, rejoined) {
    if (Array.isArray(msg.iceServers) && msg.iceServers.length) this.iceServers = msg.iceServers;
    this.timings = { ...this.timings, welcome: performance.now() };
    delete this.timings.offered;
    delete this.timings.answered;
    delete this.timings.connected;
    delete this.timings.shown;
    // A rejoin is a new participant to the server: a fresh connection. The first welcome
    // uses the one made while joining (unless the server hands out relays it lacks).
    if (!this.unused || msg.iceServers?.length) {
      this.closeConnection();
      this.openConnection(msg.peers?.length ?? 0);
    }
    this.unused = false;
    super.welcomed(msg, rejoined);
    this.negotiate();
    clearInterval(this.layoutTimer);
    this.layoutTimer = setInterval(() => this.sendLayout(), LAYOUT_CHECK_MS);
  }

  // ---- The connection ---------------------------------------------------------------------

  openConnection(others) {
    // The server's own address is all a browser needs; ICE_SERVERS (a TURN relay) only for
    // networks that reach neither of its media ports.
    const pc = new RTCPeerConnection({ bundlePolicy: "max-bundle", rtcpMuxPolicy: "require", iceServers: this.iceServers });
    this.pc = pc;
    const audio = pc.addTransceiver(this.tracks.audio ?? "audio", { direction: "sendonly", streams: [this.outStream] });
    preferCodec(audio, "audio", "audio/opus", true);
    const video = pc.addTransceiver(this.tracks.video ?? "video", {
      direction: "sendonly",
      streams: [this.outStream],
      sendEncodings: LAYERS.map((l) => ({ ...l })),
    });
    preferCodec(video, "video", "video/vp8", true);
    this.senders = { audio: audio.sender, video: video.sender };
    for (let i = 0; i < AUDIO_SLOTS; i++) this.addSlot("audio");
    this.growSlots(others);
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      clearTimeout(this.restartTimer);
      // A changed network (Wi-Fi to cellular) breaks the path: new ICE credentials mend it
      // without leaving the call.
      if (pc.connectionState === "connected") this.timings.connected ??= performance.now();
      if (pc.connectionState === "failed") this.restartIce();
      else if (pc.connectionState === "disconnected") this.restartTimer = setTimeout(() => this.restartIce(), RESTART_AFTER_MS);
    };
    this.applyActive();
  }

  closeConnection() {
    clearTimeout(this.restartTimer);
    this.preparing = null;
    this.pendingAnswer?.reject(new Error("connection replaced"));
    this.pendingAnswer = null;
    for (const slot of [...this.slots.values(), ...this.unnamed]) {
      this.show(slot, null);
      slot.audio?.remove();
    }
    this.slots.clear();
    this.unnamed = [];
    this.pc?.close();
    this.pc = null;
    this.senders = {};
  }

  addSlot(kind) {
    const transceiver = this.pc.addTransceiver(kind, { direction: "recvonly" });
    preferCodec(transceiver, kind, kind === "audio" ? "audio/opus" : "video/vp8", false);
    const slot = { kind, transceiver, stream: new MediaStream([transceiver.receiver.track]), peer: null };
    if (kind === "audio") {
      slot.audio = new Audio();
      slot.audio.autoplay = true;
      slot.audio.srcObject = slot.stream;
      if (this.sinkId) slot.audio.setSinkId?.(this.sinkId).catch(() => {});
      slot.audio.play().catch(() => {});
    }
    this.unnamed.push(slot);
  }

  videoSlotCount() {
    return [...this.slots.values(), ...this.unnamed].filter((s) => s.kind === "video").length;
  }

  /** Enough video slots for everyone else, in steps, up to a grid page. */
  growSlots(others = this.peers.size) {
    if (!this.pc) return;
    const wanted = Math.min(MAX_VIDEO_SLOTS, Math.max(1, Math.ceil(others / VIDEO_SLOT_STEP)) * VIDEO_SLOT_STEP);
    let added = false;
    while (this.videoSlotCount() < wanted) {
      this.addSlot("video");
      added = true;
    }
    if (added && this.phase === "joined") this.negotiate();
  }

  restartIce() {
    if (!this.pc || this.phase === "closed") return;
    this.restartNext = true;
    this.negotiate();
  }

  /** Offers what changed and applies the server's answer; one negotiation at a time. */
  async negotiate() {
    if (!this.pc) return;
    if (this.negotiating) {
      this.again = true;
      return;
    }
    this.negotiating = true;
    try {
      await this.preparing;
      do {
        this.again = false;
        const pc = this.pc;
        const restart = this.restartNext;
        this.restartNext = false;
        // The offer made while joining still holds if no slot was added since.
        const prepared = pc.signalingState === "have-local-offer" && !restart && this.unnamed.every((s) => s.transceiver.mid);
        if (!prepared) await pc.setLocalDescription(await pc.createOffer(restart ? { iceRestart: true } : undefined));
        this.unnamed = this.unnamed.filter((slot) => {
          if (!slot.transceiver.mid) return true;
          this.slots.set(slot.transceiver.mid, slot);
          return false;
        });
        this.timings.offered ??= performance.now();
        const sdp = await this.exchange(pc.localDescription.sdp);
        if (pc !== this.pc) return;
        this.timings.answered ??= performance.now();
        await pc.setRemoteDescription({ type: "answer", sdp });
      } while (this.again && this.pc);
    } catch (e) {
      if (this.pc) console.warn("sfu: negotiation failed", e);
    } finally {
      this.negotiating = false;
    }
  }

  exchange(sdp) {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pendingAnswer = null;
        reject(new Error("no answer from the media server"));
      }, ANSWER_TIMEOUT_MS);
      this.pendingAnswer = {
        resolve: (answer) => {
          clearTimeout(timer);
          resolve(answer);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.send({ type: "sfu-offer", sdp });
    });
  }

  answered(sdp) {
    const pending = this.pendingAnswer;
    this.pendingAnswer = null;
    pending?.resolve(sdp);
  }

  /** Points a slot at another participant (or nobody) on the page. */
  show(slot, peerId) {
    const before = slot.peer;
    if (before === peerId) return;
    slot.peer = peerId;
    if (slot.kind === "video") {
      const old = before && this.videoEls.get(before);
      if (old && old.srcObject === slot.stream) old.srcObject = null;
      const el = peerId && this.videoEls.get(peerId);
      if (el) this.attach(el, slot.stream);
      return;
    }
    const stillHeard = (id) => [...this.slots.values()].some((s) => s.kind === "audio" && s.peer === id);
    if (before && !stillHeard(before)) this.emit("audio", { id: before, stream: null });
    if (peerId) this.emit("audio", { id: peerId, stream: slot.stream });
  }

  attach(el, stream) {
    this.timings.shown ??= performance.now();
    if (el.srcObject === stream) return;
    el.srcObject = stream;
    el.play().catch(() => {});
  }

  // ---- What the UI asks -------------------------------------------------------------------

  bindVideo(id, el) {
    if (!el) return;
    const before = this.videoEls.get(id);
    if (before && before !== el) this.resizes.unobserve(before.closest(".tile") ?? before);
    this.videoEls.set(id, el);
    this.resizes.observe(el.closest(".tile") ?? el);
    for (const slot of this.slots.values()) {
      if (slot.kind === "video" && slot.peer === id) this.attach(el, slot.stream);
    }
    this.scheduleLayout();
  }

  layoutChanged() {
    // tiles.js reports once the tiles are in place: no settling delay (resizes that follow
    // come through the observer), so a turned page's video starts as soon as it can.
    this.layoutSoon ??= setTimeout(() => {
      this.layoutSoon = null;
      this.sendLayout();
    }, 0);
  }

  setAudioOutput(sinkId) {
    this.sinkId = sinkId || "";
    for (const slot of [...this.slots.values(), ...this.unnamed]) slot.audio?.setSinkId?.(this.sinkId).catch(() => {});
  }

  setMediaState(state) {
    super.setMediaState(state);
    this.applyActive();
  }

  /** With the camera off (and no screen shared) the layers stop being encoded at all. */
  applyActive() {
    const sender = this.senders.video;
    const params = sender?.getParameters?.();
    if (!params?.encodings?.length) return;
    const active = !!(this.state.video || this.state.screen);
    if (params.encodings.every((e) => e.active === active)) return;
    params.encodings.forEach((e) => (e.active = active));
    sender.setParameters(params).catch((e) => console.warn("sfu: layers", e));
  }

  async replaceTrack(kind, track) {
    this.tracks[kind] = track ?? null;
    await this.senders[kind]?.replaceTrack(this.tracks[kind]).catch((e) => console.warn(e));
  }

  scheduleLayout() {
    if (this.layoutPending) return;
    this.layoutPending = setTimeout(() => {
      this.layoutPending = null;
      this.sendLayout();
    }, LAYOUT_DELAY_MS);
  }

  /** Tells the server which tiles are on screen, biggest first, in device pixels. */
  sendLayout() {
    if (this.phase !== "joined") return;
    const ratio = window.devicePixelRatio || 1;
    const tiles = [];
    for (const [id, el] of this.videoEls) {
      if (!this.peers.has(id) || !el.isConnected) continue;
      const tile = el.closest(".tile") ?? el;
      const r = tile.getBoundingClientRect();
      if (r.width > 0 && r.height > 0 && onScreen(r, tile.parentElement?.getBoundingClientRect())) {
        tiles.push({ id, width: Math.round(r.width * ratio), height: Math.round(r.height * ratio) });
      }
    }
    tiles.sort((a, b) => b.width * b.height - a.width * a.height);
    const text = JSON.stringify(tiles);
    if (text === this.sentLayout) return;
    this.sentLayout = text;
    this.send({ type: "layout", tiles });
  }

  /** Stats rows from the one connection: the server link, then each participant received. */
  statsRows() {
    const now = performance.now();
    if (this.pc && !this.statsBusy && now - (this.statsAt ?? 0) > STATS_EVERY_MS) {
      this.statsBusy = true;
      this.collectStats()
        .catch(() => {})
        .finally(() => {
          this.statsBusy = false;
          this.statsAt = performance.now();
        });
    }
    return this.pc ? this.statRows : [];
  }

  async collectStats() {
    const pc = this.pc;
    const report = await pc.getStats();
    const now = performance.now();
    const before = this.statsBefore ?? { at: now, bytes: new Map() };
    const seconds = (now - before.at) / 1000;
    const kbps = (key, bytes) => {
      const earlier = before.bytes.get(key);
      return earlier != null && seconds > 0 ? Math.max(0, ((bytes - earlier) * 8) / seconds / 1000) : null;
    };
    const bytes = new Map();
    let pairId = null;
    let rtt = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const server = { sent: 0, received: 0, lost: 0, packets: 0 };
    const people = new Map(); // peer id → {received, lost, packets, resolution}
    report.forEach((s) => {
      if (s.type === "candidate-pair" && s.id === pairId && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
      if (s.type === "outbound-rtp") server.sent += s.bytesSent || 0;
      if (s.type !== "inbound-rtp") return;
      server.received += s.bytesReceived || 0;
      server.lost += Math.max(0, s.packetsLost || 0);
      server.packets += s.packetsReceived || 0;
      const peer = this.slots.get(s.mid)?.peer;
      if (!peer) return;
      const p = people.get(peer) ?? { received: 0, lost: 0, packets: 0, resolution: null };
      p.received += s.bytesReceived || 0;
      p.lost += Math.max(0, s.packetsLost || 0);
      p.packets += s.packetsReceived || 0;
      if (s.kind === "video" && s.frameWidth) p.resolution = `${s.frameWidth}×${s.frameHeight}`;
      people.set(peer, p);
    });
    const loss = (x) => (x.lost + x.packets > 0 ? (100 * x.lost) / (x.lost + x.packets) : null);
    bytes.set("up", server.sent);
    bytes.set("down", server.received);
    const rows = [{ name: "Media server", rtt, up: kbps("up", server.sent), down: kbps("down", server.received), resolution: null, loss: loss(server) }];
    for (const [id, p] of people) {
      bytes.set(id, p.received);
      rows.push({ name: this.peers.get(id)?.info.name ?? "Participant", rtt: null, up: null, down: kbps(id, p.received), resolution: p.resolution, loss: loss(p) });
    }
    this.statsBefore = { at: now, bytes };
    if (pc === this.pc) this.statRows = rows;
  }

  close() {
    super.close();
    document.removeEventListener("scroll", this.onScroll, { capture: true });
    clearInterval(this.layoutTimer);
    clearTimeout(this.layoutPending);
    this.layoutPending = null;
    clearTimeout(this.layoutSoon);
    this.layoutSoon = null;
    this.resizes.disconnect();
    this.closeConnection();
    this.videoEls.clear();
  }
}

export default SfuAdapter;
