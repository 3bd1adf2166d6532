// Getting into the call: a personal room's session opened on joining, the waiting screen (the
// host has not let me in yet; my camera preview stays, with a way to leave), why a room socket
// was refused, and the words for a join that did not happen.

import { DENIED } from "./room-socket.js";
import { $, cloud, config, local, root, setCallState } from "./call-context.js";

// A personal room's page is looked at without changing anything; its session (a meeting, and
// a call at a hosted provider) is opened only now, when someone joins.
export async function enterRoom() {
  if (config.meetingId || !config.roomId) return;
  let res;
  try {
    res = await fetch(`/meeting/${encodeURIComponent(config.roomId)}/enter`, {
      method: "POST",
      headers: { Accept: "application/json" },
    });
  } catch {
    throw { code: "unreachable", message: "Could not reach the server. Check your connection and try again." };
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok || !body.meetingId) {
    throw { code: res.status === 404 ? "not_found" : "enter_failed", message: body.error?.message || "The meeting room could not be opened." };
  }
  config.meetingId = body.meetingId;
  cloud.meetingId = body.meetingId;
  root.dataset.meetingId = body.meetingId;
}

/** Shows "Waiting for the host to let you in" where the setup's settings were. */
export function showWaiting() {
  const camera = local.stream?.getVideoTracks().find((t) => t.readyState === "live" && t.enabled);
  const frame = $("preview-frame");
  $("preview").srcObject = camera ? new MediaStream([camera]) : null;
  frame.classList.remove("loading");
  frame.classList.toggle("no-video", !camera);
  setCallState("waiting");
  if (!$("waiting").hidden) return; // back after a dropped connection: already shown
  $("setup-settings").hidden = true;
  $("waiting").hidden = false;
  $("setup-title").textContent = "Waiting room";
  $("waiting-title").focus();
}

export function hideWaiting() {
  $("preview").srcObject = null;
  $("waiting").hidden = true;
  $("setup-settings").hidden = false;
  $("setup-title").textContent = "Setup";
}

/**
 * What the notice says when joining failed or the call stopped: its title, its message, and
 * whether trying again can help.
 * @param {{ code?: string, message?: string }} failure
 */
export function describeFailure({ code, message }) {
  switch (code) {
    case "room_full":
      return { title: "This meeting is full", message: `This meeting is full (${config.maxParticipants} people). Try again later.`, retry: false };
    case "unreachable":
      return { title: "Cannot reach the video service", message: message || "Something went wrong.", retry: true };
    case "denied":
      return { title: "You were not let in", message: DENIED, retry: false };
    case "locked":
      return { title: "This meeting is locked", message: "This meeting is locked by the host.", retry: false };
    case "removed":
      return { title: "You were removed from the meeting", message: "Only the host can let you back in.", retry: false };
    default:
      return {
        title: "Could not join the meeting",
        message: message || "Something went wrong.",
        retry: !["forbidden", "not_found", "signed_out"].includes(code ?? ""),
      };
  }
}

/**
 * Why the socket was refused, read from the meeting page's status (a browser never sees the
 * status of a refused WebSocket upgrade). Null when the page looks fine.
 */
export async function diagnose() {
  try {
    const res = await fetch(`/meeting/${encodeURIComponent(config.meetingId)}`, { cache: "no-store" });
    if (res.status === 410) return { code: "ended" };
    if (res.status === 404) return { code: "not_found", message: "This meeting no longer exists." };
    if (res.redirected && new URL(res.url).pathname.startsWith("/sign-in")) {
      return { code: "signed_out", message: "You were signed out. Sign in again, then rejoin." };
    }
  } catch {
    // Offline: the caller's own message says enough.
  }
  return null;
}
