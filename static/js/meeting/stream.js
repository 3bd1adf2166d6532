// The Stream Video adapter: the surface mesh.js documents at its top, on Stream's SFU through
// the vendored @stream-io/video-client bundle (static/vendor/stream/, served from our origin).
// The meeting room (room-adapter.js) is the door: the page joins it first, waits there when
// the host keeps a waiting room, and only once let in asks our server for a call token
// (GET /api/token?meeting=, one hour, for this meeting's call only) and joins Stream's call.
// The room stays open for the whole call (chat, the host's controls, raised hands), and
// records who attends. The server keeps calls in step with meetings (created, ended) and
// enforces the host's mute and remove at Stream; this file never sees the API secret.
//
// room.js keeps owning the camera, microphone and screen: the tracks it hands over are
// published with call.publish(), so the device pickers, "join with mic and camera off" and the
// screen picker work as in the mesh. Stream's own device managers stay disabled.
//
// Beyond mesh.js's surface, hooks room.js uses when an adapter has them:
//   bindVideo(id, videoElement)  Stream drives a remote tile's <video> (call.bindVideoElement)
//   setAudioOutput(sinkId)       remote audio plays on the chosen speaker
//   statsRows()                  call stats rows from callStatsReport$ (no peer connections)
//   announce(type, detail)       tells the others "recording" {active, name} (who started
//                                the recording) or "recording-permission" {allowed} (the mesh's
//                                server does this for mesh rooms; here the page does, with
//                                custom events)
//   recordsInCloud               true: Stream records the call itself. The server starts and
//                                stops it (POST /meeting/{id}/recordings[/stop]); whether it
//                                runs comes from Stream's call state, as "recording" events
//   canRecordInCloud()           whether Stream gives me the start-record-call capability
// and two more events: audio {id, stream}, a remote participant's audio for the speaker meter;
// capabilities {}, my capabilities in the call changed. Raised hands go through the room, as
// on the mesh.
//
// Beside it: stream-call.js listens to the call's state and events, stream-people.js
// describes remote participants, stream-media.js binds their video and audio elements,
// stream-stats.js turns the SDK's stats reports into the stats panel's rows,
// stream-failures.js words failures.

import { RoomAdapter } from "./room-adapter.js";
import { listenToCall } from "./stream-call.js";
import { StreamBindings } from "./stream-media.js";
import { changed, participantOf } from "./stream-people.js";
import { statsRows } from "./stream-stats.js";
import { describeFailure, isJoinError, joinError, withTimeout } from "./stream-failures.js";

/**
 * What the vendored bundle exports (the entry in scripts/vendor-stream.sh), typed by the
 * definitions of the client version it is built from (scripts/typecheck-stream.sh).
 * @typedef {typeof import("/static/vendor/stream/stream-video-client.js")} StreamSdk
 */
/** @typedef {import("@stream-io/video-client").Call} Call */
/** @typedef {import("@stream-io/video-client").StreamVideoClient} StreamVideoClient */
/** @typedef {import("@stream-io/video-client").StreamVideoParticipant} StreamVideoParticipant */
/** @typedef {import("@stream-io/video-client").CallStatsReport} CallStatsReport */
/** @typedef {import("./stream-failures.js").JoinError} JoinError */
/** @typedef {import("./stream-stats.js").StatsRow} StatsRow */
/** @typedef {import("./stream-people.js").Participant} Participant */
/** @typedef {import("./room-socket.js").ServerMessage} ServerMessage */
/** @typedef {import("./room-adapter.js").RoomPeer} RoomPeer */
/** @typedef {{ id: string, name: string, image?: string | null }} Self */
/** @typedef {"audio" | "video" | "screen"} Kind */

/** @type {readonly Kind[]} */
const KINDS = ["audio", "video", "screen"];

const root = document.getElementById("meeting-room");
const CALL_TYPE = "default";
// Connecting (token, coordinator WebSocket) and joining (SFU) each get this long before the
// page says the video service cannot be reached, instead of spinning forever.
const CONNECT_TIMEOUT_MS = 12000;
const JOIN_TIMEOUT_MS = 15000;
const RECORD_CAPABILITY = "start-record-call";
const ANNOUNCED = new Set(["recording", "recording-permission"]);

/** @type {Promise<StreamSdk> | null} */
let sdkPromise = null;
/** @returns {Promise<StreamSdk>} */
function loadSdk() {
  // The hashed URL from the page is cached for good; the plain path is the fallback.
  const url = root?.dataset.streamBundle || "/static/vendor/stream/stream-video-client.js";
  sdkPromise ??= /** @type {Promise<StreamSdk>} */ (import(url)).catch((e) => {
    sdkPromise = null;
    throw e;
  });
  return sdkPromise;
}

// A screen track is told apart from a camera by what the browser says about its source
// (room.js also marks it with contentHint "detail").
/** @param {MediaStreamTrack | null} track */
function isScreen(track) {
  return !!track && (track.contentHint === "detail" || !!track.getSettings?.().displaySurface);
}

export class StreamAdapter extends RoomAdapter {
  /** @param {{ meetingId: string, self: Self }} options */
  constructor({ meetingId, self }) {
    super(meetingId);
    this.self = self;
    // The host is whoever our server says (the meeting's owner), not the call's creator.
    this.hostId = root?.dataset.hostId || null;
    this.apiKey = root?.dataset.streamApiKey ?? "";
    this.baseUrl = root?.dataset.streamUrl || undefined;
    /** @type {StreamVideoClient | null} */
    this.client = null;
    /** @type {Call | null} */
    this.call = null;
    /** @type {StreamSdk | null} */
    this.sdk = null;
    /** @type {"idle" | "joining" | "joined" | "reconnecting" | "closed"} */
    this.phase = "idle";
    /** @type {{ audio: MediaStreamTrack | null, video: MediaStreamTrack | null }} */
    this.tracks = { audio: null, video: null };
    /** @type {Record<Kind, MediaStreamTrack | null>} */
    this.published = { audio: null, video: null, screen: null }; // track published per type
    /** @type {Promise<void>} */
    this.publishing = Promise.resolve();
    /** @type {Map<string, Participant>} */
    this.remote = new Map(); // by session ID
    /** @type {Map<string, boolean>} */
    this.hands = new Map(); // user ID → raised, as the room says
    this.maxParticipants = 0;
    /** @type {Map<string, Record<string, unknown>>} */
    this.announced = new Map(); // type → detail I announced last (repeated to newcomers)
    this.cloudRecording = false; // Stream's call state: is the call being recorded
    this.recordingName = ""; // who started it, as their page announced
    this.media = new StreamBindings({ call: () => this.call, sharesScreen: (id) => !!this.remote.get(id)?.screen });
    /** @type {Map<string, MediaStream | null>} */
    this.audioStreams = new Map(); // session ID → the MediaStream last announced
    /** @type {{ unsubscribe(): void }[]} */
    this.subscriptions = [];
    /** @type {(() => void)[]} */
    this.offs = [];
    /** @type {StatsRow[]} */
    this.statRows = [];
    /** @type {CallStatsReport | null} */
    this.lastReport = null;
    /** @type {JoinError | null} */
    this.tokenError = null;
  }

  /** Left, or given up: leave() and failures may close the adapter during any await. */
  get closed() {
    return this.phase === "closed";
  }

  get selfId() {
    return this.call?.state.localParticipant?.sessionId ?? null;
  }

  /** Stream records calls itself (cloud recording); the page does not. */
  get recordsInCloud() {
    return true;
  }

  canRecordInCloud() {
    return !!this.call?.state.ownCapabilities?.includes(RECORD_CAPABILITY);
  }

  /** Stream routes media through its SFU: there are no peer connections of ours to show. */
  peerConnections() {
    return new Map();
  }

  // ---- Joining ----------------------------------------------------------------------------

  async fetchToken() {
    let res;
    try {
      // A token for this meeting's call only, given to those the meeting's room let in.
      const url = `/api/token?meeting=${encodeURIComponent(this.meetingId)}`;
      res = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    } catch {
      throw (this.tokenError = joinError("unreachable", "Cannot reach Yoom. Check your connection, then retry."));
    }
    if (res.status === 401) {
      throw (this.tokenError = joinError("signed_out", "You were signed out. Sign in again, then rejoin."));
    }
    const body = await res.json().catch(() => null);
    if (!res.ok || typeof body?.token !== "string") {
      throw (this.tokenError = joinError(
        "token_failed",
        body?.error?.message || "Could not get a video token from Yoom. Try again.",
      ));
    }
    this.tokenError = null;
    return body.token;
  }

  /**
   * @param {{ stream?: MediaStream | null, audio?: boolean, video?: boolean }} [options]
   * @returns {Promise<{ you: string | null, owner: boolean, maxParticipants: number }>}
   */
  async join({ stream = null, audio = false, video = false } = {}) {
    this.tracks.audio = stream?.getAudioTracks()[0] ?? null;
    this.tracks.video = stream?.getVideoTracks()[0] ?? null;
    Object.assign(this.state, { audio, video });
    this.phase = "joining";
    // The room first: no call token for someone still waiting, or turned away.
    try {
      await this.joinRoom();
    } catch (error) {
      this.close();
      throw error;
    }
    try {
      if (this.closed) throw joinError("closed", "Left before joining.");
      this.sdk = await loadSdk().catch(() => {
        throw joinError("load_failed", "Could not load the video client. Check your connection and try again.");
      });
      const { StreamVideoClient } = this.sdk;
      this.client = new StreamVideoClient({
        apiKey: this.apiKey,
        options: {
          baseURL: this.baseUrl,
          logLevel: "warn",
          // One attempt per join: the Retry button is ours, and each attempt would fetch
          // another token.
          maxConnectUserRetries: 1,
          defaultWsTimeout: CONNECT_TIMEOUT_MS - 2000,
          devicePersistence: { enabled: false },
        },
      });
      /** @type {{ id: string, name: string, image?: string }} */
      const user = { id: this.self.id, name: this.self.name };
      if (this.self.image) user.image = this.self.image;
      await withTimeout(this.client.connectUser(user, () => this.fetchToken()), CONNECT_TIMEOUT_MS);
      if (this.closed) throw joinError("closed", "Left before joining.");
      this.call = this.client.call(CALL_TYPE, this.meetingId);
      // room.js publishes its own tracks: Stream must not open the devices on its own.
      await Promise.all([this.call.camera.disable(), this.call.microphone.disable()]).catch(() => {});
      this.listen();
      await withTimeout(this.call.join({ create: true }), JOIN_TIMEOUT_MS);
      if (this.closed) throw joinError("closed", "Left before joining.");
      this.phase = "joined";
      this.sync();
      this.syncParticipants(this.call.state.participants);
      return { you: this.selfId, owner: this.owner, maxParticipants: this.maxParticipants };
    } catch (error) {
      if (!isJoinError(error)) console.warn("stream: join failed", error);
      this.close();
      if (this.tokenError) throw this.tokenError;
      if (isJoinError(error) && error.code !== "closed") throw error;
      throw describeFailure(error);
    }
  }

  /** @returns {string | null} */
  ownerId() {
    return this.hostId;
  }

  /** Listens to the call (stream-call.js). */
  listen() {
    listenToCall(this);
  }

  /**
   * The remote session of a user (the first, if they joined twice).
   * @param {string | undefined} userId
   */
  sessionOf(userId) {
    if (!userId) return null;
    for (const [id, info] of this.remote) if (info.userId === userId) return id;
    return null;
  }

  // ---- Participants -----------------------------------------------------------------------

  /** @param {StreamVideoParticipant[]} list */
  syncParticipants(list) {
    const sdk = this.sdk;
    if (!sdk) return;
    const seen = new Set();
    for (const p of list) {
      if (p.isLocalParticipant) continue;
      seen.add(p.sessionId);
      const info = participantOf(p, sdk, { hand: !!this.hands.get(p.userId), hostId: this.ownerId() });
      const before = this.remote.get(info.id);
      this.remote.set(info.id, info);
      if (!before) {
        this.media.bindAudio(info.id);
        this.emit("participant-joined", { participant: { ...info } });
        // Recordings running and permissions given before someone arrived are news to them.
        for (const [type, detail] of this.announced) this.sendAnnouncement(type, detail);
      } else if (changed(before, info)) {
        if (before.screen !== info.screen) this.media.rebindVideo(info.id);
        this.emit("participant-updated", { participant: { ...info } });
      }
      const audioStream = p.audioStream ?? null;
      if (this.audioStreams.get(info.id) !== audioStream) {
        this.audioStreams.set(info.id, audioStream);
        this.emit("audio", { id: info.id, stream: audioStream });
      }
    }
    for (const id of [...this.remote.keys()]) {
      if (seen.has(id)) continue;
      this.remote.delete(id);
      this.audioStreams.delete(id);
      this.media.unbind(id);
      this.emit("participant-left", { id });
    }
  }

  /**
   * Lets Stream drive a remote tile's video (it subscribes only to what is shown).
   * @param {string} id
   * @param {HTMLVideoElement | null | undefined} element
   */
  bindVideo(id, element) {
    this.media.bindVideo(id, element);
  }

  /** @param {string | null | undefined} sinkId */
  setAudioOutput(sinkId) {
    this.media.setSinkId(sinkId);
  }

  // ---- Publishing -------------------------------------------------------------------------

  /** Publishes what should be published and stops what should not, one change at a time. */
  sync() {
    this.publishing = this.publishing.then(() => this.reconcile()).catch((e) => console.warn("stream: publish", e));
    return this.publishing;
  }

  async reconcile() {
    if (this.phase !== "joined" || !this.call || !this.sdk) return;
    const { TrackType } = this.sdk.SfuModels;
    const video = this.tracks.video;
    /** @type {Record<Kind, MediaStreamTrack | null>} */
    const want = {
      audio: this.state.audio && this.tracks.audio?.readyState === "live" ? this.tracks.audio : null,
      video: !isScreen(video) && this.state.video && video?.readyState === "live" ? video : null,
      screen: video && isScreen(video) && video.readyState === "live" ? video : null,
    };
    const types = { audio: TrackType.AUDIO, video: TrackType.VIDEO, screen: TrackType.SCREEN_SHARE };
    for (const kind of KINDS) {
      const track = want[kind];
      if (track === this.published[kind]) continue;
      if (track) {
        // Stream publishes a clone: our own track stays ours to stop.
        await this.call.publish(new MediaStream([track]), types[kind]);
      } else {
        await this.call.stopPublish(types[kind]);
      }
      this.published[kind] = track;
    }
  }

  /** @param {{ audio: boolean, video: boolean, screen?: boolean }} state */
  setMediaState({ audio, video, screen = false }) {
    Object.assign(this.state, { audio: !!audio, video: !!video, screen: !!screen });
    this.sync();
  }

  /** @param {MediaStreamTrack | null | undefined} track */
  replaceVideoTrack(track) {
    this.tracks.video = track ?? null;
    return this.sync();
  }

  /** @param {MediaStreamTrack | null | undefined} track */
  replaceAudioTrack(track) {
    this.tracks.audio = track ?? null;
    // A fresh microphone track comes with the microphone turned on.
    if (track) this.state.audio = true;
    return this.sync();
  }

  // ---- Reactions and hands ----------------------------------------------------------------

  /** @param {string} emoji */
  sendReaction(emoji) {
    this.call?.sendReaction({ type: "reaction", emoji_code: emoji, custom: { emoji } }).catch((e) => console.warn("stream: reaction", e));
  }

  /**
   * @param {string} type
   * @param {Record<string, unknown>} detail
   */
  announce(type, detail) {
    if (!ANNOUNCED.has(type)) return;
    // "Not recording" and "only the host records" are where a newcomer starts anyway.
    if ((type === "recording" && !detail.active) || (type === "recording-permission" && !detail.allowed)) {
      this.announced.delete(type);
    } else {
      this.announced.set(type, detail);
    }
    this.sendAnnouncement(type, detail);
  }

  /**
   * @param {string} type
   * @param {Record<string, unknown>} detail
   */
  sendAnnouncement(type, detail) {
    this.call?.sendCustomEvent({ type: `yoom.${type}`, ...detail }).catch((e) => console.warn("stream: announce", e));
  }

  /** @param {boolean} raised */
  setHandRaised(raised) {
    this.state.hand = !!raised;
    this.room.sendInside({ type: "hand", raised: this.state.hand });
  }

  // ---- The room ---------------------------------------------------------------------------

  /**
   * Hands raised before I came, and whether I am the host.
   * @override
   * @param {ServerMessage} msg
   */
  welcomed(msg) {
    this.maxParticipants = Number(msg.maxParticipants) || 0;
    /** @type {RoomPeer[]} */
    const peers = Array.isArray(msg.peers) ? msg.peers : [];
    this.hands = new Map(peers.map((p) => [p.userId, !!p.hand]));
    if (this.call) this.syncParticipants(this.call.state.participants);
  }

  /**
   * Raised hands; the rest of what the room says about people, Stream says too.
   * @override
   * @param {ServerMessage} msg
   */
  mediaMessage(msg) {
    if (msg.type === "peer-joined" && msg.peer?.userId) {
      this.hands.set(msg.peer.userId, !!msg.peer.hand);
    } else if (msg.type === "hand") {
      const peer = this.roomPeers.get(msg.id);
      if (!peer) return;
      this.hands.set(peer.userId, !!msg.raised);
    } else {
      return;
    }
    if (this.call && this.phase !== "closed") this.syncParticipants(this.call.state.participants);
  }

  /**
   * The room's socket dropping does not stop Stream's media: only giving up (an error) is news.
   * @override
   * @param {"reconnecting" | "connected"} state
   */
  roomConnection(state) {
    console.info("stream: the meeting room is", state);
  }

  // ---- Stats ------------------------------------------------------------------------------

  /** @param {CallStatsReport} report */
  readStats(report) {
    this.statRows = statsRows(report, this.lastReport);
    this.lastReport = report;
  }

  /** Rows for the stats panel: what we send to Stream's SFU and what we receive from it. */
  statsRows() {
    return this.phase === "joined" || this.phase === "reconnecting" ? this.statRows : [];
  }

  // ---- Leaving ----------------------------------------------------------------------------

  /** @override */
  close() {
    if (this.phase === "closed") return;
    this.phase = "closed";
    super.close();
    this.subscriptions.forEach((s) => s.unsubscribe());
    this.subscriptions = [];
    this.offs.forEach((off) => off?.());
    this.offs = [];
    this.media.clear();
    for (const id of [...this.remote.keys()]) this.emit("participant-left", { id });
    this.remote.clear();
    this.audioStreams.clear();
    const call = this.call;
    const client = this.client;
    this.call = null;
    this.client = null;
    // Leave the call, then close the coordinator connection; both in the background (the
    // page may be going away), and each may fail if it never connected.
    (async () => {
      try {
        await call?.leave();
      } catch {
        // Never joined, or already left.
      }
      try {
        await client?.disconnectUser();
      } catch {
        // Never connected.
      }
    })();
  }
}

export default StreamAdapter;
