// What both media adapters (mesh.js, stream.js) share: the meeting room (room-socket.js),
// where the host is in charge and the chat goes, whatever carries the media. The adapters
// extend this class, so the room's events and methods are the same in every mode:
//
//   events (CustomEvent detail), each also once per (re)join from the welcome:
//     waiting {}                    I am in the waiting room; join() resolves once I am let in
//     room-state {locked, waitingRoom}
//     chat-history {messages}       the whole chat so far (a ChatMessage: seq, userId, name,
//                                   text, at (seconds), deleted)
//     waiting-list {people}         the host's queue ({id, userId, name, image}), oldest first
//     removed-list {people}         the host's removed people ({userId, name})
//   and as they happen:
//     knock {person}                someone started waiting (the host only)
//     chat {message} · chat-deleted {seq}
//     muted {by}                    the host asks me to mute (the page turns the mic off)
//     hand-lowered {}               the host lowered my hand
//     notice {code, message}        the room refused something I asked (a chat message sent
//                                   too fast, a host action on someone gone)
//   methods (false when the room is out of reach for now):
//     admit(id) · deny(id) · admitAll() · setLocked(bool) · setWaitingRoom(bool)
//     remove(userId) · allowBack(userId) · mute(userId) · muteAll() · lowerHands()
//     sendChat(text) · deleteChat(seq)
// People in the call are named by account (userId) for remove and mute: the room removes and
// mutes every connection of that account, and the adapters' own ids differ (Stream's are its
// session IDs).

import { RoomSocket } from "./room-socket.js";

/** @typedef {import("./room-socket.js").ServerMessage} ServerMessage */
/** @typedef {import("./room-socket.js").RoomError} RoomError */
/**
 * Someone in the room, as the room describes them.
 * @typedef {{ id: string, userId: string, name: string, image?: string | null, audio?: boolean,
 *   video?: boolean, screen?: boolean, hand?: boolean, owner?: boolean }} RoomPeer
 */
/** @typedef {{ id: string, userId: string, name: string, image: string | null, quiet: boolean }} WaitingPerson */

/** @param {unknown} list */
const array = (list) => (Array.isArray(list) ? list : []);

export class RoomAdapter extends EventTarget {
  /** @param {string} meetingId */
  constructor(meetingId) {
    super();
    this.meetingId = meetingId;
    /** What I send: my microphone, camera, screen and hand. */
    this.state = { audio: false, video: false, screen: false, hand: false };
    /** Am I the host (the room says, in its welcome). */
    this.owner = false;
    /** @type {Map<string, RoomPeer>} the others in the room, by peer id */
    this.roomPeers = new Map();
    /** @type {WaitingPerson[]} */
    this.waitingList = [];
    this.room = new RoomSocket(meetingId, {
      joinState: () => ({ audio: this.state.audio, video: this.state.video }),
      waiting: () => this.emit("waiting", {}),
      welcome: (msg, rejoined) => this.roomWelcome(msg, rejoined),
      message: (msg) => this.roomMessage(msg),
      notice: (code, message) => this.emit("notice", { code, message }),
      connection: (state) => this.roomConnection(state),
      failed: (code, message) => this.fail(code, message),
      ended: () => this.end(),
    });
  }

  /**
   * Joins the room: resolves with its welcome once I am in (see RoomSocket.join).
   * @returns {Promise<ServerMessage>}
   */
  joinRoom() {
    return this.room.join();
  }

  /**
   * @param {ServerMessage} msg
   * @param {boolean} rejoined
   */
  roomWelcome(msg, rejoined) {
    this.owner = !!msg.owner;
    /** @type {RoomPeer[]} */
    const peers = array(msg.peers);
    this.roomPeers = new Map(peers.map((p) => [p.id, { ...p }]));
    this.welcomed(msg, rejoined);
    this.emit("room-state", { locked: !!msg.locked, waitingRoom: !!msg.waitingRoom });
    this.emit("chat-history", { messages: array(msg.chat) });
    if (this.owner) {
      this.waitingList = array(msg.waiting).map(waitingPerson);
      this.emit("waiting-list", { people: [...this.waitingList] });
      this.emit("removed-list", { people: array(msg.removed) });
    }
    // A new socket is a new peer to the room: my raised hand is news again.
    if (rejoined && this.state.hand) this.room.sendInside({ type: "hand", raised: true });
  }

  /** @param {ServerMessage} msg */
  roomMessage(msg) {
    switch (msg.type) {
      case "peer-joined":
        if (msg.peer?.id && !this.room.formerIds.has(msg.peer.id)) this.roomPeers.set(msg.peer.id, { ...msg.peer });
        break;
      case "peer-left":
        this.roomPeers.delete(msg.id);
        break;
      case "hand": {
        if (msg.id === this.room.you) {
          // Only the host lowers someone else's hand.
          if (!msg.raised && this.state.hand) {
            this.state.hand = false;
            this.emit("hand-lowered", {});
          }
          return;
        }
        const peer = this.roomPeers.get(msg.id);
        if (peer) peer.hand = !!msg.raised;
        break;
      }
      case "room-state":
        return this.emit("room-state", { locked: !!msg.locked, waitingRoom: !!msg.waitingRoom });
      case "knock": {
        const person = waitingPerson(msg.peer);
        this.waitingList = [...this.waitingList.filter((p) => p.id !== person.id), person];
        this.emit("knock", { person });
        return this.emit("waiting-list", { people: [...this.waitingList] });
      }
      case "knock-gone":
        this.waitingList = this.waitingList.filter((p) => p.id !== msg.id);
        return this.emit("waiting-list", { people: [...this.waitingList] });
      case "removed-list":
        return this.emit("removed-list", { people: array(msg.removed) });
      case "chat":
        return msg.message && this.emit("chat", { message: msg.message });
      case "chat-deleted":
        return this.emit("chat-deleted", { seq: msg.seq });
      case "muted":
        return this.emit("muted", { by: typeof msg.by === "string" ? msg.by : "" });
    }
    this.mediaMessage(msg);
  }

  // ---- For the adapters ---------------------------------------------------------------------

  /**
   * The welcome, for the adapter's own part (peers, recording state).
   * @param {ServerMessage} _msg
   * @param {boolean} _rejoined
   */
  welcomed(_msg, _rejoined) {}

  /**
   * What the room says that is not the room's own business (peers, offers, media state).
   * @param {ServerMessage} _msg
   */
  mediaMessage(_msg) {}

  /**
   * The room socket dropped or came back (the mesh's media needs it; a hosted call does not).
   * @param {"reconnecting" | "connected"} state
   */
  roomConnection(state) {
    this.emit("connection", { state });
  }

  /**
   * @param {string} type
   * @param {unknown} detail
   */
  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  /**
   * The call is over for me, for a reason room.js shows.
   * @param {string} code
   * @param {string} message
   */
  fail(code, message) {
    this.close();
    this.emit("error", { code, message });
  }

  /** The meeting is over: room.js says the host ended it. */
  end() {
    this.close();
    this.emit("ended", {});
  }

  leave() {
    this.room.leave();
    this.close();
  }

  close() {
    this.room.close();
  }

  // ---- The host's controls and the chat ------------------------------------------------------

  /**
   * The room's peer id of someone in the call, by account.
   * @param {string} userId
   */
  peerOf(userId) {
    for (const [id, peer] of this.roomPeers) if (peer.userId === userId) return id;
    return null;
  }

  /** @param {string} id */
  admit(id) {
    return this.room.sendInside({ type: "admit", id });
  }

  /** @param {string} id */
  deny(id) {
    return this.room.sendInside({ type: "deny", id });
  }

  admitAll() {
    return this.room.sendInside({ type: "admit-all" });
  }

  /** @param {boolean} locked */
  setLocked(locked) {
    return this.room.sendInside({ type: "lock", locked });
  }

  /** @param {boolean} enabled */
  setWaitingRoom(enabled) {
    return this.room.sendInside({ type: "waiting-room", enabled });
  }

  /** @param {string} userId */
  remove(userId) {
    const id = this.peerOf(userId);
    return !!id && this.room.sendInside({ type: "remove", id });
  }

  /** @param {string} userId */
  allowBack(userId) {
    return this.room.sendInside({ type: "allow-back", userId });
  }

  /** @param {string} userId */
  mute(userId) {
    const id = this.peerOf(userId);
    return !!id && this.room.sendInside({ type: "mute", id });
  }

  muteAll() {
    return this.room.sendInside({ type: "mute-all" });
  }

  lowerHands() {
    return this.room.sendInside({ type: "lower-hands" });
  }

  /** @param {string} text */
  sendChat(text) {
    return this.room.sendInside({ type: "chat", text });
  }

  /** @param {number} seq */
  deleteChat(seq) {
    return this.room.sendInside({ type: "chat-delete", seq });
  }
}

/**
 * @param {any} p
 * @returns {WaitingPerson}
 */
function waitingPerson(p) {
  return { id: String(p?.id ?? ""), userId: String(p?.userId ?? ""), name: String(p?.name || "Someone"), image: p?.image || null, quiet: !!p?.quiet };
}
