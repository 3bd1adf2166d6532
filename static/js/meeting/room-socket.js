// The meeting room's WebSocket (/meeting/{id}/signal), the door to every meeting whatever
// carries its media: it joins (straight in, or through the waiting room until the host lets me
// in), stays connected (a ping every 5 s; a dropped socket is reopened with backoff, 0.5 s
// doubling to 8 s, for up to 2 minutes) and tells apart the answers that end it: a refused
// join (full, locked, removed), the host turning me away or removing me, the meeting ending.
// Everything else the room says once I am in goes to its owner (room-adapter.js).

const PING_MS = 5000;
const STALE_MS = 15000; // three missed pongs: the socket is dead even if it has not closed
// Waiting for the host can take any time; waiting for the room's first answer cannot.
const ANSWER_TIMEOUT_MS = 15000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 8000;
const GIVE_UP_MS = 120000;
/**
 * Answers to `join` that close the socket; trying again at once would get the same. Once I am
 * in, the same codes can only be about something I asked (a host admitting into a full room),
 * so they end nothing then.
 */
const REFUSALS = new Set(["room_full", "too_many_connections", "locked", "removed", "ended"]);

export const DENIED = "The host did not let you in.";
export const REMOVED = "You were removed from the meeting.";
export const LOST = "Lost the connection to the meeting.";

/** @typedef {{ type: string } & Record<string, any>} ServerMessage */
/** @typedef {Error & { code: string }} RoomError */
/**
 * What the socket tells its owner.
 * @typedef {{
 *   joinState: () => { audio: boolean, video: boolean },
 *   waiting: () => void,
 *   welcome: (msg: ServerMessage, rejoined: boolean) => void,
 *   message: (msg: ServerMessage) => void,
 *   notice: (code: string, message: string) => void,
 *   connection: (state: "reconnecting" | "connected") => void,
 *   failed: (code: string, message: string) => void,
 *   ended: () => void,
 * }} RoomEvents
 */

/**
 * @param {string} code
 * @param {string} message
 * @returns {RoomError}
 */
export function roomError(code, message) {
  return Object.assign(new Error(message), { code });
}

export class RoomSocket {
  /**
   * @param {string} meetingId
   * @param {RoomEvents} events
   */
  constructor(meetingId, events) {
    this.meetingId = meetingId;
    this.events = events;
    /** @type {WebSocket | null} */
    this.ws = null;
    /** @type {string | null} my peer id in the room (a new one after each reconnect) */
    this.you = null;
    /** @type {Set<string>} my ids from before a reconnect: never someone else */
    this.formerIds = new Set();
    /** @type {"idle" | "joining" | "waiting" | "joined" | "closed"} */
    this.phase = "idle";
    this.welcomed = false; // on the current socket
    this.inside = false; // welcomed at least once: a later welcome is a rejoin
    this.reconnecting = false;
    this.outage = false; // the owner heard "reconnecting" and not yet "connected"
    this.reconnectStarted = 0;
    this.backoff = BACKOFF_FIRST_MS;
    this.lastHeard = 0;
    /** @type {{ resolve: (msg: ServerMessage) => void, reject: (e: RoomError) => void } | null} */
    this.pending = null;
    /** @type {ReturnType<typeof setInterval> | undefined} */
    this.pingTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.answerTimer = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.reconnectTimer = undefined;
    this.onOnline = () => this.reconnecting && this.reconnectNow();
  }

  /**
   * Joins the room; resolves with the welcome, however long the waiting room takes (the owner
   * hears `waiting` meanwhile). Rejects with a RoomError: connect_failed (the upgrade was
   * refused or the network is down), denied, removed, locked, room_full, too_many_connections,
   * ended, connection_lost, left.
   * @returns {Promise<ServerMessage>}
   */
  join() {
    this.phase = "joining";
    addEventListener("online", this.onOnline);
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.connect();
    });
  }

  connect() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/meeting/${encodeURIComponent(this.meetingId)}/signal`);
    this.ws = ws;
    this.welcomed = false;
    ws.onopen = () => {
      this.lastHeard = Date.now();
      this.send({ type: "join", ...this.events.joinState() });
      this.answerTimer = setTimeout(() => this.dropSocket(), ANSWER_TIMEOUT_MS);
      clearInterval(this.pingTimer);
      this.pingTimer = setInterval(() => {
        if (Date.now() - this.lastHeard > STALE_MS) return this.dropSocket();
        this.send({ type: "ping" });
      }, PING_MS);
    };
    ws.onmessage = (e) => {
      this.lastHeard = Date.now();
      let msg;
      try {
        msg = JSON.parse(e.data);
      } catch {
        return;
      }
      if (msg && typeof msg.type === "string") this.handle(msg);
    };
    ws.onclose = () => {
      if (ws === this.ws) this.socketClosed();
    };
  }

  /** Closing a dead socket can wait long for its handshake; detach first, then carry on. */
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
    clearTimeout(this.answerTimer);
    if (this.phase === "closed") return;
    if (this.phase === "joining" && !this.reconnecting) {
      // Refused during the upgrade (401/403/404/410) or the network is down: no reason given.
      this.fail("connect_failed", "Could not connect to the meeting.");
      return;
    }
    // In, or waiting (a new socket knocks again): try again for a while.
    if (!this.reconnecting) {
      this.reconnecting = true;
      this.reconnectStarted = Date.now();
      this.backoff = BACKOFF_FIRST_MS;
      if (this.inside && !this.outage) {
        this.outage = true;
        this.events.connection("reconnecting");
      }
    }
    if (Date.now() - this.reconnectStarted > GIVE_UP_MS) {
      this.fail("connection_lost", LOST);
      return;
    }
    this.reconnectTimer = setTimeout(() => this.connect(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
  }

  reconnectNow() {
    clearTimeout(this.reconnectTimer);
    if (!this.ws) this.connect();
  }

  /**
   * @param {Record<string, unknown>} msg
   * @returns {boolean} whether it went out
   */
  send(msg) {
    if (this.ws?.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(msg));
    return true;
  }

  /**
   * Sends something only someone in the room may (the room refuses it from someone waiting).
   * @param {Record<string, unknown>} msg
   */
  sendInside(msg) {
    return this.welcomed && this.send(msg);
  }

  /** @param {ServerMessage} msg */
  handle(msg) {
    switch (msg.type) {
      case "welcome":
        return this.welcome(msg);
      case "waiting":
        clearTimeout(this.answerTimer);
        this.phase = "waiting";
        this.reconnecting = false;
        return this.events.waiting();
      case "denied":
        return this.fail("denied", DENIED);
      case "removed":
        return this.fail("removed", REMOVED);
      case "ended":
        return this.ended();
      case "error":
        return this.serverError(String(msg.code ?? ""), String(msg.message ?? ""));
      case "pong":
        return;
      default:
        if (this.welcomed) this.events.message(msg);
    }
  }

  /** @param {ServerMessage} msg */
  welcome(msg) {
    clearTimeout(this.answerTimer);
    if (this.you) this.formerIds.add(this.you);
    this.you = typeof msg.you === "string" ? msg.you : null;
    this.welcomed = true;
    const rejoined = this.inside;
    // Back, even if the room made me knock again on the way (the host let me in once more).
    const outage = this.outage;
    this.inside = true;
    this.reconnecting = false;
    this.outage = false;
    this.phase = "joined";
    this.events.welcome(msg, rejoined);
    if (outage) this.events.connection("connected");
    const pending = this.pending;
    this.pending = null;
    pending?.resolve(msg);
  }

  /**
   * @param {string} code
   * @param {string} message
   */
  serverError(code, message) {
    if (code === "ended") return this.ended();
    if (!this.welcomed && REFUSALS.has(code)) return this.fail(code, message);
    this.events.notice(code, message);
  }

  ended() {
    const pending = this.pending;
    this.pending = null;
    this.close();
    if (pending) pending.reject(roomError("ended", "This meeting has ended."));
    else this.events.ended();
  }

  /**
   * The end of this socket: a join that did not happen rejects; after joining, the owner
   * hears it.
   * @param {string} code
   * @param {string} message
   */
  fail(code, message) {
    const pending = this.pending;
    this.pending = null;
    this.close();
    if (pending) pending.reject(roomError(code, message));
    else this.events.failed(code, message);
  }

  leave() {
    if (this.phase === "closed") return;
    this.send({ type: "leave" });
    const pending = this.pending;
    this.pending = null;
    this.close();
    pending?.reject(roomError("left", "Left the meeting."));
  }

  close() {
    this.phase = "closed";
    this.welcomed = false;
    clearInterval(this.pingTimer);
    clearTimeout(this.answerTimer);
    clearTimeout(this.reconnectTimer);
    removeEventListener("online", this.onOnline);
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      ws.close(1000);
    }
  }
}
