// The Stream adapter (stream.js) listening to its call: the SDK's state (participants, stats,
// recording, capabilities, the calling state) and the call's events (ended, kicked, blocked,
// reactions, the pages' custom events), turned into what room.js hears from any adapter.

import { CONNECTION_LOST, REMOVED } from "./stream-failures.js";

/** @typedef {import("./stream.js").StreamAdapter} StreamAdapter */
/** @typedef {import("@stream-io/video-client").Call} Call */

/**
 * Subscribes the adapter to its call (its subscriptions and handlers go where close() ends
 * them).
 * @param {StreamAdapter} adapter
 */
export function listenToCall(adapter) {
  const call = adapter.call;
  const sdk = adapter.sdk;
  if (!call || !sdk) return;
  const { CallingState } = sdk;
  /**
   * @template T
   * @param {{ subscribe(next: (value: T) => void): { unsubscribe(): void } }} observable
   * @param {(value: T) => void} fn
   */
  const sub = (observable, fn) => adapter.subscriptions.push(observable.subscribe(fn));
  sub(call.state.participants$, (list) => adapter.phase !== "closed" && adapter.syncParticipants(list));
  sub(call.state.callStatsReport$, (report) => report && adapter.readStats(report));
  sub(call.state.recording$, (recording) => {
    if (adapter.phase === "closed" || !!recording === adapter.cloudRecording) return;
    adapter.cloudRecording = !!recording;
    if (!recording) adapter.recordingName = "";
    adapter.emit("recording", { active: adapter.cloudRecording, name: adapter.recordingName });
  });
  sub(call.state.ownCapabilities$, () => adapter.phase !== "closed" && adapter.emit("capabilities", {}));
  // The SDK also leaves the call by itself (LEFT, never through RECONNECTING_FAILED): when
  // the call ends, when I am removed or blocked, and when reconnecting gives up. What it
  // heard before says which. (Leaving on purpose unsubscribes before the SDK gets there.)
  let removed = false;
  let wasJoined = false;
  sub(call.state.callingState$, (state) => {
    if (adapter.phase === "closed") return;
    if (state === CallingState.JOINED) {
      if (adapter.phase === "reconnecting") {
        // A rejoin or SFU migration starts a new publisher: publish everything again.
        adapter.published = { audio: null, video: null, screen: null };
        adapter.phase = "joined";
        adapter.sync();
        adapter.emit("connection", { state: "connected" });
      }
      wasJoined = true;
    } else if ([CallingState.RECONNECTING, CallingState.MIGRATING, CallingState.OFFLINE].includes(state)) {
      if (wasJoined && adapter.phase === "joined") {
        adapter.phase = "reconnecting";
        adapter.emit("connection", { state: "reconnecting" });
      }
    } else if (state === CallingState.RECONNECTING_FAILED) {
      adapter.fail("connection_lost", CONNECTION_LOST);
    } else if (state === CallingState.LEFT && (adapter.phase === "joined" || adapter.phase === "reconnecting")) {
      // Kicked through the SFU, the SDK marks the call ended too: being removed comes first.
      if (removed || call.state.blockedUserIds?.includes(adapter.self.id)) {
        adapter.fail("removed", REMOVED);
      } else if (call.state.endedAt) {
        adapter.end();
      } else {
        adapter.fail("connection_lost", CONNECTION_LOST);
      }
    }
  });
  /** @type {Call["on"]} */
  const on = (type, fn) => {
    const off = call.on(type, fn);
    adapter.offs.push(off);
    return off;
  };
  on("call.ended", () => {
    if (adapter.phase !== "closed") adapter.end();
  });
  // The SFU's word that the call is over for me (the SDK then leaves), and the
  // coordinator's that I was removed or blocked.
  on("callEnded", (e) => {
    if (e.reason === sdk.SfuModels.CallEndedReason.KICKED) removed = true;
  });
  on("call.kicked_user", (e) => {
    if (e.user?.id === adapter.self.id) removed = true;
  });
  on("call.blocked_user", (e) => {
    if (e.user?.id === adapter.self.id) removed = true;
  });
  on("call.reaction_new", (e) => {
    const emoji = e.reaction?.custom?.emoji ?? e.reaction?.emoji_code;
    const id = adapter.sessionOf(e.reaction?.user?.id);
    if (emoji && id) adapter.emit("reaction", { id, emoji });
  });
  on("custom", (e) => {
    const custom = e.custom ?? {};
    const from = e.user?.id;
    if (!from || from === adapter.self.id) return;
    if (custom.type === "yoom.recording") {
      // Stream says whether the call is recorded; the page that started it says who did.
      adapter.recordingName = custom.active && typeof custom.name === "string" ? custom.name : "";
      if (adapter.cloudRecording && adapter.recordingName) adapter.emit("recording", { active: true, name: adapter.recordingName });
    } else if (custom.type === "yoom.recording-permission" && from === adapter.ownerId()) {
      // Only the host decides; the server checks it again when someone starts recording.
      adapter.emit("recording-permission", { allowed: !!custom.allowed });
    }
  });
}
