// My own media in the call: microphone, camera and screen on and off, my raised hand and
// reactions, and telling the others about them (through the adapter).

import { deviceReason, errorKind, listDevices, openTrack, canShareScreen, stopStream } from "./media.js";
import { call, local, toast, trackOf, people } from "./call-context.js";

const NOUN = { audio: "microphone", video: "camera" };
const acquiring = new Set();

export function watchTrack(track) {
  // An unplugged device (or a revoked permission) ends its track without asking.
  track.addEventListener("ended", () => {
    if (!local.stream?.getTracks().includes(track)) return;
    local.stream.removeTrack(track);
    local[track.kind] = false;
    if (track.kind === "video" && !local.screen) call.adapter?.replaceVideoTrack(null);
    if (track.kind === "video") showLocalVideo();
    toast(`Your ${NOUN[track.kind]} stopped working.`, { error: true });
    publish();
  });
}

export function showLocalVideo() {
  const camera = trackOf("video");
  call.stage.setStream("local", local.screen ?? (camera ? new MediaStream([camera]) : null));
}

/** Turns the microphone ("audio") or camera ("video") on or off. */
export async function toggle(kind) {
  if (!call.adapter || acquiring.has(kind)) return;
  const track = trackOf(kind);
  if (track) {
    track.enabled = !track.enabled;
    local[kind] = track.enabled;
    return publish();
  }
  // Joined with it off, or it was unplugged: open the device now.
  acquiring.add(kind);
  try {
    const fresh = await openTrack(kind, call.setup.prefs[kind === "audio" ? "mic" : "camera"]);
    if (!call.adapter) return fresh.stop();
    local.stream.addTrack(fresh);
    watchTrack(fresh);
    local[kind] = true;
    local.unavailable[kind] = null;
    if (kind === "audio") {
      await call.adapter.replaceAudioTrack(fresh);
      call.detector.track("local", local.stream);
    } else {
      if (!local.screen) await call.adapter.replaceVideoTrack(fresh);
      showLocalVideo();
    }
  } catch (error) {
    const reason = deviceReason(kind, error);
    if (["blocked", "missing", "unsupported"].includes(errorKind(error))) local.unavailable[kind] = reason;
    toast(`${reason}.`, { error: true });
  } finally {
    acquiring.delete(kind);
  }
  publish();
}

export async function toggleScreen() {
  if (!call.adapter) return;
  if (local.screen) return stopScreen();
  let display;
  try {
    display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
  } catch (error) {
    if (error.name !== "NotAllowedError" && error.name !== "AbortError") toast("Could not share your screen.", { error: true });
    return;
  }
  const track = display.getVideoTracks()[0];
  if (!call.adapter || !track) return stopStream(display);
  // Text stays sharp at a lower frame rate rather than blurring to keep motion smooth.
  if ("contentHint" in track) track.contentHint = "detail";
  track.addEventListener("ended", () => stopScreen(display));
  local.screen = display;
  await call.adapter.replaceVideoTrack(track);
  showLocalVideo();
  publish();
}

function stopScreen(which = local.screen) {
  if (!which || which !== local.screen) return;
  stopStream(which);
  local.screen = null;
  call.adapter?.replaceVideoTrack(trackOf("video"));
  showLocalVideo();
  publish();
}

export function setHand(raised) {
  if (!call.adapter) return;
  local.hand = raised;
  call.adapter.setHandRaised(raised);
  publish(false);
}

export function react(emoji) {
  if (!call.adapter) return;
  call.adapter.sendReaction(emoji);
  call.stage.react("local", emoji);
}

/** Tells the others about my state and redraws my side of it. */
export function publish(media = true) {
  if (!call.adapter) return;
  if (media) call.adapter.setMediaState({ audio: local.audio, video: local.video, screen: !!local.screen });
  const me = people.get("local");
  if (me) {
    Object.assign(me, { audio: local.audio, video: local.video, screen: !!local.screen, hand: local.hand });
    call.stage.update(me);
  }
  call.refresh();
}

export async function recheckDevices() {
  const devices = await listDevices();
  for (const [kind, list] of [["audio", devices.audioinput], ["video", devices.videoinput]]) {
    if (trackOf(kind)) continue;
    const missing = deviceReason(kind, { name: "NotFoundError" });
    if (!list.length) local.unavailable[kind] = missing;
    else if (local.unavailable[kind] === missing) local.unavailable[kind] = null;
  }
  call.controls.update(state());
}


/** What the controls show about my media. */
export function state() {
  return {
    ...local,
    sharing: !!local.screen,
    hasTrack: { audio: !!trackOf("audio"), video: !!trackOf("video") },
    canShare: canShareScreen,
  };
}
