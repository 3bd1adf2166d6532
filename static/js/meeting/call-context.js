// The meeting page's shared state: what the modules of the room (room.js, local-media.js,
// recording-control.js) read and change. One object, so every module sees the same adapter,
// stage and panels; nothing here touches the DOM beyond the announcer and toasts.

import { CloudRecording } from "./cloud.js";

export const root = document.getElementById("meeting-room");
export const $ = (id) => document.getElementById(id);

export const config = {
  // Empty for a personal room with no session open yet: joining opens one (see enterRoom).
  meetingId: root?.dataset.meetingId,
  roomId: root?.dataset.roomId,
  self: { id: root?.dataset.userId, name: root?.dataset.userName || "You", image: root?.dataset.userImage || null },
  owner: root?.dataset.owner === "true",
  adapter: root?.dataset.adapter || "mesh",
  maxParticipants: Number(root?.dataset.maxParticipants) || 0,
};

export const local = { stream: null, screen: null, audio: false, video: false, hand: false, unavailable: { audio: null, video: null } };
export const people = new Map(); // key ("local" or peer id) → person, see tiles.js
export const remoteAudio = new Map(); // peer id → audio an adapter plays outside the tiles
// The call's recording, as the server tells everyone (active, who started it, whether the host
// lets everyone record), and my own recorder while I record (null otherwise).
export const rec = { active: false, name: "", allowed: false, permissionBusy: false, permissionSeq: 0 };
// A hosted provider's recording (Stream), which the server starts and stops (see cloud.js).
export const cloud = new CloudRecording({ meetingId: config.meetingId });

/**
 * The call as it is now: the adapter (null when not in a call), the page's parts (set by
 * room.js at start: the chat panel, and the host's controls for the host only), my recorder
 * while I record, and a few flags. `refresh` and
 * `renderRecording` redraw; room.js and recording-control.js fill them in.
 */
export const call = {
  adapter: null,
  setup: null,
  stage: null,
  panel: null,
  stats: null,
  detector: null,
  controls: null,
  chat: null,
  host: null,
  recorder: null,
  spotlightKey: null,
  reconnecting: false,
  joining: false,
  refresh: () => {},
  renderRecording: () => {},
};

export function toast(message, { error = false } = {}) {
  // app.js owns the toasts; importing it again here would run it twice (its URL has ?v=).
  document.body.dispatchEvent(new CustomEvent("toast", { detail: { message, error } }));
}

export function setCallState(state) {
  document.body.dataset.callState = state;
}

export function announce(text) {
  const el = $("announcer");
  el.textContent = "";
  requestAnimationFrame(() => (el.textContent = text));
}

export const trackOf = (kind) => local.stream?.getTracks().find((t) => t.kind === kind && t.readyState === "live") ?? null;
