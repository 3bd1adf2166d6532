// What the meeting room says, on the call page (the events are room-adapter.js's): the chat,
// the host's queue and lists, the lock for everyone to see, and what the host does to me: ask
// me to mute (the microphone goes off as if I pressed its button; turning it on again is mine
// to do) and lower my hand.

import { $, announce, call, local, toast } from "./call-context.js";
import { publish, toggle } from "./local-media.js";

// Refusals the host hears about their own requests (someone no longer there, a full room).
const HOST_REFUSALS = new Set(["forbidden", "unknown_peer", "room_full"]);

/** @param {(type: string, handler: (detail: any) => void) => void} on the room.js listener */
export function listenRoom(on) {
  let locked = null;
  on("room-state", (state) => {
    $("locked-indicator").hidden = !state.locked;
    call.host?.setRoomState(state);
    // The welcome says how things are; only a change while I am in is news.
    if (locked !== null && locked !== state.locked && document.body.dataset.callState === "joined") {
      announce(state.locked ? "The host locked the meeting" : "The host unlocked the meeting");
    }
    locked = state.locked;
  });
  on("chat-history", ({ messages }) => call.chat.setHistory(messages));
  on("chat", ({ message }) => call.chat.add(message));
  on("chat-deleted", ({ seq }) => call.chat.markDeleted(seq));
  on("waiting-list", ({ people }) => call.host?.setWaiting(people));
  on("knock", ({ person }) => call.host?.knock(person));
  on("removed-list", ({ people }) => call.host?.setRemoved(people));
  on("muted", () => mutedByHost());
  on("hand-lowered", () => {
    local.hand = false;
    publish(false);
    announce("The host lowered your hand");
  });
  on("notice", ({ code, message }) => {
    if (call.chat.notice(code, message)) return;
    if (call.host && HOST_REFUSALS.has(code)) toast(message, { error: true });
    else console.warn("meeting room:", code, message);
  });
}

/** The host asked me to mute: my microphone goes off, the same way its button turns it off. */
async function mutedByHost() {
  if (!local.audio) return;
  await toggle("audio");
  toast("The host muted you");
}
