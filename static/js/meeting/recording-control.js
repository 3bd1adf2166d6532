// Recording controls in the call: my own recorder (the mesh: this browser composes and
// uploads), a hosted provider's cloud recording, the host's "let everyone record", and the
// REC indicator everyone sees.

import { initials } from "./media.js";
import { CallRecorder, canRecord as browserCanRecord } from "./recorder.js";
import { $, announce, call, cloud, config, people, rec, remoteAudio, root, toast, trackOf } from "./call-context.js";

// What tests (and the console) can see of my recorder.
export const recorderApi = {
  // "starting" is not recording yet: nothing has been asked of the server that can be stopped.
  state: () => (call.recorder && call.recorder.state !== "starting" ? call.recorder.state : "idle"),
  recordingId: () => call.recorder?.recordingId ?? null,
};


/** What the recording shows: the tiles as laid out now, spotlight first, then the strip. */
function scene() {
  const keyOf = new Map([...call.stage.tiles].map(([key, tile]) => [tile, key]));
  const spot = call.stage.spotlight.hidden ? null : call.stage.spotlight.querySelector(".tile");
  const order = [...(spot ? [spot] : []), ...call.stage.strip.querySelectorAll(":scope > .tile")];
  const tiles = [];
  for (const tile of order) {
    const person = people.get(keyOf.get(tile));
    if (!person) continue;
    tiles.push({
      key: person.key,
      name: person.name,
      initials: initials(person.name),
      video: tile.querySelector("video"),
      videoOn: !!(person.video || person.screen),
      screen: !!person.screen,
      audio: !!person.audio,
      hand: !!person.hand,
      speaking: tile.classList.contains("speaking"),
      spotlight: tile === spot,
      image: tile.querySelector(".tile-avatar img"),
    });
  }
  return { layout: $("call").dataset.layout, tiles };
}

/** Every voice in the call: each remote participant's audio and my microphone (silent when muted). */
function audioTracks() {
  const tracks = [];
  const mic = trackOf("audio");
  if (mic) tracks.push(mic);
  for (const [key, tile] of call.stage.tiles) {
    if (key === "local") continue;
    const stream = tile.querySelector("video")?.srcObject;
    if (stream instanceof MediaStream) tracks.push(...stream.getAudioTracks().filter((t) => t.readyState === "live"));
  }
  // Audio an adapter plays outside the tiles (Stream binds it to <audio> elements of its own).
  for (const stream of remoteAudio.values()) {
    tracks.push(...stream.getAudioTracks().filter((t) => t.readyState === "live" && !tracks.includes(t)));
  }
  return tracks;
}

export async function toggleRecording() {
  if (call.adapter?.recordsInCloud) return toggleCloudRecording();
  if (call.recorder) {
    if (call.recorder.state === "recording") call.recorder.stop();
    return;
  }
  if (!call.adapter) return;
  if (!browserCanRecord()) {
    toast("This browser cannot record calls. Try a recent Chrome, Edge or Firefox.", { error: true });
    return;
  }
  const r = new CallRecorder({ meetingId: config.meetingId, scene, audioTracks });
  call.recorder = r;
  r.addEventListener("statechange", renderRecording);
  r.addEventListener("finished", (e) => recordingFinished(r, e.detail));
  renderRecording();
  try {
    await r.start();
    // Adapters whose media bypasses our server tell the others themselves (the mesh's
    // server does it for its rooms).
    call.adapter?.announce?.("recording", { active: true, name: config.self.name });
  } catch (error) {
    if (call.recorder === r) call.recorder = null;
    renderRecording();
    if (error.code !== "cancelled") toast(error.message || "Could not start recording.", { error: true });
    return;
  }
  // Left the call while the server was answering.
  if (!call.adapter) r.stop();
}

function recordingFinished(r, { url, failure, lost, error, abandoned }) {
  if (call.recorder === r) call.recorder = null;
  call.adapter?.announce?.("recording", { active: false, name: "" });
  // One recording at a time: with mine over, none runs (the server says so to the others).
  rec.active = false;
  rec.name = "";
  renderRecording();
  if (abandoned) return;
  if (failure) toastLink(failure.message, url, { error: true });
  else if (error) toast(error, { error: true });
  else toastLink(lost ? "Recording saved, without its last few seconds (they could not be uploaded)" : "Recording saved", url);
}

// ---- Cloud recording (a hosted provider records the call) ----------------------------------

async function toggleCloudRecording() {
  const starting = !rec.active;
  try {
    await cloud.toggle(rec.active);
  } catch (error) {
    toast(error.message, { error: true });
    return;
  }
  // The others hear who started it (the call state only says that it runs).
  if (starting && cloud.mine) call.adapter?.announce?.("recording", { active: true, name: config.self.name });
}

export function cloudTimedOut({ detail: { stopping } }) {
  toast(
    stopping
      ? "The video service has not confirmed that the recording stopped. Try again."
      : "The video service has not started recording. Try again.",
    { error: true },
  );
}

/** A toast with a link to the recording; kept longer than a plain one so the link can be reached. */
export function toastLink(message, href, { error = false } = {}) {
  const area = document.getElementById("toasts");
  if (!area || !href) return toast(message, { error });
  const el = document.createElement("div");
  el.className = error ? "toast toast-error toast-recording" : "toast toast-recording";
  el.setAttribute("role", error ? "alert" : "status");
  el.dataset.toast = "";
  el.dataset.timer = "mine"; // app.js removes older toasts, but leaves this one's timing to us
  const text = document.createElement("span");
  text.textContent = /[.!?]$/.test(message) ? `${message} ` : `${message}. `;
  const link = document.createElement("a");
  link.href = href;
  link.target = "_blank";
  link.rel = "noopener";
  link.textContent = "Open recording";
  const hint = document.createElement("span");
  hint.className = "visually-hidden";
  hint.textContent = " (opens in a new tab)";
  link.append(hint);
  el.append(text, link);
  area.append(el);
  setTimeout(() => el.remove(), 12000);
}

export async function setRecordingAllowed(allowed) {
  const seq = ++rec.permissionSeq;
  const before = rec.allowed;
  rec.allowed = allowed;
  rec.permissionBusy = true;
  renderRecording();
  try {
    const res = await fetch(`/meeting/${encodeURIComponent(config.meetingId)}/recording-permission`, {
      method: "POST",
      headers: { Accept: "application/json", "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ allowed: String(allowed) }),
    });
    const body = await res.json().catch(() => null);
    if (!res.ok) throw Object.assign(new Error(body?.error?.message || "Could not change who may record. Try again."), { shown: true });
    if (seq !== rec.permissionSeq) return;
    rec.allowed = typeof body?.allowed === "boolean" ? body.allowed : allowed;
    call.adapter?.announce?.("recording-permission", { allowed: rec.allowed });
    announce(rec.allowed ? "Everyone in the call can now record it" : "Only you can record this call now");
  } catch (error) {
    if (seq !== rec.permissionSeq) return;
    rec.allowed = before;
    toast(error.shown ? error.message : "Could not reach Yoom. Check your connection and try again.", { error: true });
  } finally {
    if (seq === rec.permissionSeq) {
      rec.permissionBusy = false;
      renderRecording();
    }
  }
}

/** The record button, the host's option, the REC indicator and body[data-recording]. */
export function renderRecording() {
  if (call.adapter?.recordsInCloud) return renderCloudRecording();
  const state = call.recorder?.state ?? "idle";
  const mine = state !== "idle";
  document.body.dataset.recording = state === "recording" ? "on" : "off";
  const showing = rec.active || state === "recording" || state === "stopping";
  const name = rec.name || (state === "recording" || state === "stopping" ? config.self.name : "");
  const indicator = $("recording-indicator");
  indicator.hidden = !showing;
  indicator.title = name ? `Recording started by ${name}` : "This call is being recorded";
  $("recording-name").textContent = name;
  $("recording-by").hidden = !name;
  call.controls?.updateRecording({
    state,
    canRecord: root.dataset.canRecord === "true",
    allowed: rec.allowed,
    permissionBusy: rec.permissionBusy,
    othersRecording: rec.active && !mine,
  });
}

/** The same for a cloud recording: anyone who may record may also stop it. */
function renderCloudRecording() {
  const canRecord = root.dataset.canRecord === "true" && call.adapter.canRecordInCloud();
  document.body.dataset.recording = rec.active ? "on" : "off";
  const indicator = $("recording-indicator");
  indicator.hidden = !rec.active;
  indicator.title = rec.name ? `Recording started by ${rec.name}` : "This call is being recorded";
  $("recording-name").textContent = rec.name;
  $("recording-by").hidden = !rec.name;
  call.controls?.updateRecording({
    state: cloud.controlState(rec.active, canRecord),
    canRecord,
    allowed: rec.allowed,
    permissionBusy: rec.permissionBusy,
    othersRecording: false,
  });
}


/** The adapter's recording events: who records, and whether the host lets everyone. */
export function listenRecording(on) {
  on("recording", ({ active, name }) => {
    const was = rec.active;
    rec.active = !!active;
    // A rejoin's welcome says only that one runs: keep the name heard before.
    rec.name = active ? name || (was ? rec.name : "") : "";
    const mine = cloud.mine;
    const stoppedByMe = cloud.settle(rec.active) === "stopped";
    if (mine && !rec.active) call.adapter?.announce?.("recording", { active: false, name: "" });
    renderRecording();
    if (!people.has("local") || was === rec.active) return;
    if (active) {
      announce(call.recorder || cloud.mine ? "Recording started. Everyone in the call can see that it is being recorded." : `${name || "Someone"} started recording this call`);
    } else if (stoppedByMe) {
      toastLink("Recording stopped. It appears in Recordings a minute or so after the call's video is processed", "/recordings");
    } else {
      announce("Recording stopped");
    }
  });
  on("capabilities", () => renderRecording());
  on("recording-permission", ({ allowed }) => {
    const changed = rec.allowed !== !!allowed;
    rec.allowed = !!allowed;
    root.dataset.canRecord = String(config.owner || rec.allowed);
    renderRecording();
    if (changed && !config.owner && people.has("local")) {
      announce(rec.allowed ? "The host lets everyone record this call" : "The host no longer lets everyone record this call");
    }
  });
}
