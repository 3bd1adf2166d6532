// The meeting room: setup screen, call UI and controls. Media travels through an adapter
// (mesh.js or stream.js) chosen by the server in data-adapter; this file never touches
// signalling. Adapters may offer optional hooks (bindVideo, setAudioOutput, statsRows; see the
// top of stream.js) that this file uses when they are there.

import { SpeakerDetector } from "./levels.js";
import { canShareScreen, deviceReason, errorKind, initials, listDevices, openTrack, stopStream } from "./media.js";
import { ParticipantsPanel } from "./participants.js";
import { Setup } from "./setup.js";
import { StatsPanel } from "./stats.js";
import { Stage } from "./tiles.js";
import { bindControls } from "./controls.js";
import { CallRecorder, canRecord as browserCanRecord } from "./recorder.js";
import { CloudRecording } from "./cloud.js";

const root = document.getElementById("meeting-room");
const $ = (id) => document.getElementById(id);

const config = {
  // Empty for a personal room with no session open yet: joining opens one (see enterRoom).
  meetingId: root?.dataset.meetingId,
  roomId: root?.dataset.roomId,
  self: { id: root?.dataset.userId, name: root?.dataset.userName || "You", image: root?.dataset.userImage || null },
  owner: root?.dataset.owner === "true",
  adapter: root?.dataset.adapter || "mesh",
  maxParticipants: Number(root?.dataset.maxParticipants) || 0,
};
const NOUN = { audio: "microphone", video: "camera" };

const local = { stream: null, screen: null, audio: false, video: false, hand: false, unavailable: { audio: null, video: null } };
const people = new Map(); // key ("local" or peer id) → person, see tiles.js
const remoteAudio = new Map(); // peer id → audio an adapter plays outside the tiles
const acquiring = new Set();
let adapter = null;
let setup, stage, panel, stats, detector, controls;
let spotlightKey = null;
let reconnecting = false;
let joining = false;
// The call's recording, as the server tells everyone (active, who started it, whether the host
// lets everyone record), and my own recorder while I record (null otherwise).
const rec = { active: false, name: "", allowed: false, permissionBusy: false, permissionSeq: 0 };
let recorder = null;
// A hosted provider's recording (Stream), which the server starts and stops (see cloud.js).
const cloud = new CloudRecording({ meetingId: config.meetingId });
// What tests (and the console) can see of my recorder.
const recorderApi = {
  // "starting" is not recording yet: nothing has been asked of the server that can be stopped.
  state: () => (recorder && recorder.state !== "starting" ? recorder.state : "idle"),
  recordingId: () => recorder?.recordingId ?? null,
};

function toast(message, { error = false } = {}) {
  // app.js owns the toasts; importing it again here would run it twice (its URL has ?v=).
  document.body.dispatchEvent(new CustomEvent("toast", { detail: { message, error } }));
}

function setCallState(state) {
  document.body.dataset.callState = state;
}

function announce(text) {
  const el = $("announcer");
  el.textContent = "";
  requestAnimationFrame(() => (el.textContent = text));
}

const trackOf = (kind) => local.stream?.getTracks().find((t) => t.kind === kind && t.readyState === "live") ?? null;

// ---- Joining ------------------------------------------------------------------------------

async function join() {
  if (joining) return;
  joining = true;
  setCallState("joining");
  const button = $("join-button");
  button.disabled = true;
  button.textContent = "Joining…";
  lockSetup(true);
  try {
    await enterRoom();
  } catch (error) {
    joining = false;
    return failed(error);
  }
  if ($("join-muted").checked) {
    local.unavailable = setup.availability();
    // Off means off: no open device at all, not a muted one.
    setup.stop();
    local.stream = new MediaStream();
  } else {
    const stream = await setup.handOver();
    local.unavailable = setup.availability(stream);
    local.stream = stream ?? new MediaStream();
  }
  local.stream.getTracks().forEach(watchTrack);
  local.audio = !!trackOf("audio");
  local.video = !!trackOf("video");
  try {
    if (!/^[a-z][a-z0-9-]*$/.test(config.adapter)) throw new Error("unknown adapter");
    const { default: Adapter } = await import(`./${config.adapter}.js`);
    adapter = new Adapter({ meetingId: config.meetingId, self: config.self });
  } catch {
    return failed({ code: "load_failed", message: "Could not load the meeting. Check your connection and try again." });
  }
  listen(adapter);
  try {
    await adapter.join({ stream: local.stream, audio: local.audio, video: local.video });
  } catch (error) {
    return failed(error.code === "connect_failed" ? (await diagnose()) ?? error : error);
  } finally {
    joining = false;
  }
  enterCall();
}

// A personal room's page is looked at without changing anything; its session (a meeting, and
// a call at a hosted provider) is opened only now, when someone joins.
async function enterRoom() {
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

function enterCall() {
  setup.hide();
  $("call").hidden = false;
  const me = {
    key: "local", local: true, id: adapter.selfId, userId: config.self.id, name: config.self.name,
    image: config.self.image, owner: config.owner, audio: local.audio, video: local.video, screen: false, hand: false,
  };
  people.set("local", me);
  stage.add(me);
  stage.setSinkId(setup.prefs.speaker);
  adapter.setAudioOutput?.(setup.prefs.speaker);
  showLocalVideo();
  detector.track("local", local.stream);
  detector.start();
  navigator.mediaDevices?.addEventListener?.("devicechange", recheckDevices);
  refresh();
  setCallState("joined");
  window.yoomCall = { adapter, localStream: () => local.stream, recorder: recorderApi };
  $("toggle-mic").focus();
  // Whoever joins a call being recorded is told so, not only shown the indicator.
  if (rec.active && !recorder) toast("This call is being recorded.");
}

function listen(a) {
  const on = (type, handler) => a.addEventListener(type, (e) => a === adapter && handler(e.detail));
  on("participant-joined", ({ participant }) => {
    const person = { ...participant, key: participant.id, local: false };
    people.set(person.key, person);
    stage.add(person);
    a.bindVideo?.(person.key, stage.videoOf(person.key));
    if (!reconnecting && people.has("local")) announce(`${person.name} joined`);
    refresh();
  });
  on("participant-updated", ({ participant }) => {
    const person = people.get(participant.id);
    if (!person) return;
    const raised = !person.hand && participant.hand;
    Object.assign(person, participant);
    stage.update(person);
    if (raised) announce(`${person.name} raised their hand`);
    refresh();
  });
  on("participant-left", ({ id }) => {
    const person = people.get(id);
    if (!person || person.local) return;
    people.delete(id);
    remoteAudio.delete(id);
    stage.remove(id);
    detector.untrack(id);
    if (spotlightKey === id) spotlightKey = null;
    if (!reconnecting) announce(`${person.name} left`);
    refresh();
  });
  on("track", ({ id, stream }) => {
    stage.setStream(id, stream);
    detector.track(id, stream);
    recorder?.syncAudio();
  });
  // Adapters that draw remote video themselves (bindVideo) still hand over audio for the meter
  // and for recordings.
  on("audio", ({ id, stream }) => {
    detector.track(id, stream);
    if (stream) remoteAudio.set(id, stream);
    else remoteAudio.delete(id);
    recorder?.syncAudio();
  });
  on("reaction", ({ id, emoji }) => {
    stage.react(id, emoji);
    announce(`${people.get(id)?.name ?? "Someone"} reacted ${emoji}`);
  });
  on("connection", ({ state }) => {
    reconnecting = state === "reconnecting";
    $("reconnecting").hidden = !reconnecting;
    watchOutage(reconnecting);
    const me = people.get("local");
    if (!reconnecting && me) {
      me.id = adapter.selfId;
      stage.update(me);
      refresh();
    }
  });
  on("recording", ({ active, name }) => {
    const was = rec.active;
    rec.active = !!active;
    // A rejoin's welcome says only that one runs: keep the name heard before.
    rec.name = active ? name || (was ? rec.name : "") : "";
    const mine = cloud.mine;
    const stoppedByMe = cloud.settle(rec.active) === "stopped";
    if (mine && !rec.active) adapter?.announce?.("recording", { active: false, name: "" });
    renderRecording();
    if (!people.has("local") || was === rec.active) return;
    if (active) {
      announce(recorder || cloud.mine ? "Recording started. Everyone in the call can see that it is being recorded." : `${name || "Someone"} started recording this call`);
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
  on("ended", () => showEnded());
  on("error", (detail) => failed(detail));
}

/**
 * Why the socket was refused, read from the meeting page's status (a browser never sees the
 * status of a refused WebSocket upgrade). Null when the page looks fine.
 */
async function diagnose() {
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

// A long outage may hide the end of the meeting: check now and then while reconnecting.
let outageTimer = null;
function watchOutage(on) {
  clearInterval(outageTimer);
  outageTimer = null;
  if (!on) return;
  outageTimer = setInterval(async () => {
    const problem = await diagnose();
    if (problem && reconnecting) failed(problem);
  }, 5000);
}

function failed({ code, message }) {
  watchOutage(false);
  joining = false;
  teardown();
  if (code === "ended") return showEnded();
  const full = code === "room_full";
  $("call-error-title").textContent = full
    ? "This meeting is full"
    : code === "unreachable"
      ? "Cannot reach the video service"
      : "Could not join the meeting";
  $("call-error-message").textContent = full
    ? `This meeting is full (${config.maxParticipants} people). Try again later.`
    : message || "Something went wrong.";
  $("retry-button").hidden = full || ["forbidden", "not_found", "signed_out"].includes(code);
  $("call-error").hidden = false;
  setCallState("error");
  $("call-error-title").focus();
}

// Changing devices mid-join would swap the stream being handed over.
function lockSetup(locked) {
  for (const id of ["camera-select", "mic-select", "speaker-select", "join-muted"]) $(id).disabled = locked;
}

function retry() {
  $("call-error").hidden = true;
  lockSetup(false);
  const button = $("join-button");
  button.disabled = false;
  button.textContent = "Join meeting";
  setCallState("setup");
  setup.start();
  button.focus();
}

function showEnded() {
  watchOutage(false);
  teardown();
  $("ended").hidden = false;
  setCallState("ended");
  $("ended-title").focus();
}

/** Stops every camera, microphone and screen track this page holds. */
function stopDevices() {
  setup?.stop();
  stopStream(local.stream);
  stopStream(local.screen);
  local.screen = null;
}

function teardown() {
  // First, so the recording ends on the call and not on stopped cameras; it then saves in the
  // background (leave() waits for it).
  recorder?.stop({ patience: 3000, cap: 15000 });
  rec.active = false;
  rec.name = "";
  // A cloud recording goes on without us (the provider stops it with the call).
  cloud.reset();
  stopDevices();
  // Detached first: the adapter's last events (everyone "leaving") are not news to announce.
  const a = adapter;
  adapter = null;
  a?.leave();
  local.hand = false;
  stats?.hide();
  detector?.stop();
  stage?.clear();
  people.clear();
  remoteAudio.clear();
  controls?.closeMenus();
  renderRecording();
  navigator.mediaDevices?.removeEventListener?.("devicechange", recheckDevices);
  setup?.hide();
  $("call").hidden = true;
  $("reconnecting").hidden = true;
  reconnecting = false;
}

// ---- Local media --------------------------------------------------------------------------

function watchTrack(track) {
  // An unplugged device (or a revoked permission) ends its track without asking.
  track.addEventListener("ended", () => {
    if (!local.stream?.getTracks().includes(track)) return;
    local.stream.removeTrack(track);
    local[track.kind] = false;
    if (track.kind === "video" && !local.screen) adapter?.replaceVideoTrack(null);
    if (track.kind === "video") showLocalVideo();
    toast(`Your ${NOUN[track.kind]} stopped working.`, { error: true });
    publish();
  });
}

function showLocalVideo() {
  const camera = trackOf("video");
  stage.setStream("local", local.screen ?? (camera ? new MediaStream([camera]) : null));
}

/** Turns the microphone ("audio") or camera ("video") on or off. */
async function toggle(kind) {
  if (!adapter || acquiring.has(kind)) return;
  const track = trackOf(kind);
  if (track) {
    track.enabled = !track.enabled;
    local[kind] = track.enabled;
    return publish();
  }
  // Joined with it off, or it was unplugged: open the device now.
  acquiring.add(kind);
  try {
    const fresh = await openTrack(kind, setup.prefs[kind === "audio" ? "mic" : "camera"]);
    if (!adapter) return fresh.stop();
    local.stream.addTrack(fresh);
    watchTrack(fresh);
    local[kind] = true;
    local.unavailable[kind] = null;
    if (kind === "audio") {
      await adapter.replaceAudioTrack(fresh);
      detector.track("local", local.stream);
    } else {
      if (!local.screen) await adapter.replaceVideoTrack(fresh);
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

async function toggleScreen() {
  if (!adapter) return;
  if (local.screen) return stopScreen();
  let display;
  try {
    display = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15, max: 30 } }, audio: false });
  } catch (error) {
    if (error.name !== "NotAllowedError" && error.name !== "AbortError") toast("Could not share your screen.", { error: true });
    return;
  }
  const track = display.getVideoTracks()[0];
  if (!adapter || !track) return stopStream(display);
  // Text stays sharp at a lower frame rate rather than blurring to keep motion smooth.
  if ("contentHint" in track) track.contentHint = "detail";
  track.addEventListener("ended", () => stopScreen(display));
  local.screen = display;
  await adapter.replaceVideoTrack(track);
  showLocalVideo();
  publish();
}

function stopScreen(which = local.screen) {
  if (!which || which !== local.screen) return;
  stopStream(which);
  local.screen = null;
  adapter?.replaceVideoTrack(trackOf("video"));
  showLocalVideo();
  publish();
}

function setHand(raised) {
  if (!adapter) return;
  local.hand = raised;
  adapter.setHandRaised(raised);
  publish(false);
}

function react(emoji) {
  if (!adapter) return;
  adapter.sendReaction(emoji);
  stage.react("local", emoji);
}

/** Tells the others about my state and redraws my side of it. */
function publish(media = true) {
  if (!adapter) return;
  if (media) adapter.setMediaState({ audio: local.audio, video: local.video, screen: !!local.screen });
  const me = people.get("local");
  if (me) {
    Object.assign(me, { audio: local.audio, video: local.video, screen: !!local.screen, hand: local.hand });
    stage.update(me);
  }
  refresh();
}

async function recheckDevices() {
  const devices = await listDevices();
  for (const [kind, list] of [["audio", devices.audioinput], ["video", devices.videoinput]]) {
    if (trackOf(kind)) continue;
    const missing = deviceReason(kind, { name: "NotFoundError" });
    if (!list.length) local.unavailable[kind] = missing;
    else if (local.unavailable[kind] === missing) local.unavailable[kind] = null;
  }
  controls.update(state());
}

// ---- Drawing ------------------------------------------------------------------------------

function state() {
  return {
    ...local,
    sharing: !!local.screen,
    hasTrack: { audio: !!trackOf("audio"), video: !!trackOf("video") },
    canShare: canShareScreen,
  };
}

function refresh() {
  if (!people.has("local")) return;
  const remote = [...people.values()].filter((p) => !p.local);
  // The spotlight: someone sharing their screen, else who spoke last, else whoever is here.
  const spot =
    remote.find((p) => p.screen)?.key ??
    (people.has(spotlightKey) ? spotlightKey : null) ??
    remote[0]?.key ??
    "local";
  stage.arrange($("call").dataset.layout, spot, ["local", ...remote.map((p) => p.key)]);
  $("alone").hidden = remote.length > 0;
  panel.render([...people.values()]);
  controls.update(state());
  recorder?.syncAudio();
  renderRecording();
}

async function leave() {
  const saving = recorder?.stop({ patience: 3000, cap: 15000 });
  teardown();
  if (saving) {
    toast("Saving the recording…");
    await saving;
  }
  location.assign("/");
}

// ---- Recording ----------------------------------------------------------------------------

/** What the recording shows: the tiles as laid out now, spotlight first, then the strip. */
function scene() {
  const keyOf = new Map([...stage.tiles].map(([key, tile]) => [tile, key]));
  const spot = stage.spotlight.hidden ? null : stage.spotlight.querySelector(".tile");
  const order = [...(spot ? [spot] : []), ...stage.strip.querySelectorAll(":scope > .tile")];
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
  for (const [key, tile] of stage.tiles) {
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

async function toggleRecording() {
  if (adapter?.recordsInCloud) return toggleCloudRecording();
  if (recorder) {
    if (recorder.state === "recording") recorder.stop();
    return;
  }
  if (!adapter) return;
  if (!browserCanRecord()) {
    toast("This browser cannot record calls. Try a recent Chrome, Edge or Firefox.", { error: true });
    return;
  }
  const r = new CallRecorder({ meetingId: config.meetingId, scene, audioTracks });
  recorder = r;
  r.addEventListener("statechange", renderRecording);
  r.addEventListener("finished", (e) => recordingFinished(r, e.detail));
  renderRecording();
  try {
    await r.start();
    // Adapters whose media bypasses our server tell the others themselves (the mesh's
    // server does it for its rooms).
    adapter?.announce?.("recording", { active: true, name: config.self.name });
  } catch (error) {
    if (recorder === r) recorder = null;
    renderRecording();
    if (error.code !== "cancelled") toast(error.message || "Could not start recording.", { error: true });
    return;
  }
  // Left the call while the server was answering.
  if (!adapter) r.stop();
}

function recordingFinished(r, { url, failure, lost, error, abandoned }) {
  if (recorder === r) recorder = null;
  adapter?.announce?.("recording", { active: false, name: "" });
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
  if (starting && cloud.mine) adapter?.announce?.("recording", { active: true, name: config.self.name });
}

function cloudTimedOut({ detail: { stopping } }) {
  toast(
    stopping
      ? "The video service has not confirmed that the recording stopped. Try again."
      : "The video service has not started recording. Try again.",
    { error: true },
  );
}

/** A toast with a link to the recording; kept longer than a plain one so the link can be reached. */
function toastLink(message, href, { error = false } = {}) {
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

async function setRecordingAllowed(allowed) {
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
    adapter?.announce?.("recording-permission", { allowed: rec.allowed });
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
function renderRecording() {
  if (adapter?.recordsInCloud) return renderCloudRecording();
  const state = recorder?.state ?? "idle";
  const mine = state !== "idle";
  document.body.dataset.recording = state === "recording" ? "on" : "off";
  const showing = rec.active || state === "recording" || state === "stopping";
  const name = rec.name || (state === "recording" || state === "stopping" ? config.self.name : "");
  const indicator = $("recording-indicator");
  indicator.hidden = !showing;
  indicator.title = name ? `Recording started by ${name}` : "This call is being recorded";
  $("recording-name").textContent = name;
  $("recording-by").hidden = !name;
  controls?.updateRecording({
    state,
    canRecord: root.dataset.canRecord === "true",
    allowed: rec.allowed,
    permissionBusy: rec.permissionBusy,
    othersRecording: rec.active && !mine,
  });
}

/** The same for a cloud recording: anyone who may record may also stop it. */
function renderCloudRecording() {
  const canRecord = root.dataset.canRecord === "true" && adapter.canRecordInCloud();
  document.body.dataset.recording = rec.active ? "on" : "off";
  const indicator = $("recording-indicator");
  indicator.hidden = !rec.active;
  indicator.title = rec.name ? `Recording started by ${rec.name}` : "This call is being recorded";
  $("recording-name").textContent = rec.name;
  $("recording-by").hidden = !rec.name;
  controls?.updateRecording({
    state: cloud.controlState(rec.active, canRecord),
    canRecord,
    allowed: rec.allowed,
    permissionBusy: rec.permissionBusy,
    othersRecording: false,
  });
}

async function endForEveryone() {
  if (!window.confirm("End the call for everyone? Everyone in it will be removed.")) return;
  const button = $("end-for-everyone");
  button.disabled = true;
  try {
    const res = await fetch(`/meeting/${encodeURIComponent(config.meetingId)}/end`, {
      method: "POST",
      headers: { Accept: "application/json" },
    });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      toast(body?.error?.message || "Could not end the call. Try again.", { error: true });
      return;
    }
    // The server tells every socket, this one included; if ours is down, end here anyway.
    setTimeout(() => adapter && showEnded(), 3000);
  } catch {
    toast("Could not reach Yoom. Check your connection and try again.", { error: true });
  } finally {
    button.disabled = false;
  }
}

// ---- Start --------------------------------------------------------------------------------

function start() {
  setCallState("setup");
  document.body.dataset.recording = "off";
  window.yoomCall = { recorder: recorderApi };
  cloud.addEventListener("change", renderRecording);
  cloud.addEventListener("timeout", cloudTimedOut);
  setup = new Setup();
  stage = new Stage();
  panel = new ParticipantsPanel();
  detector = new SpeakerDetector();
  detector.addEventListener("change", ({ detail: { key } }) => {
    stage.setSpeaking(key);
    if (key && key !== "local" && key !== spotlightKey) {
      spotlightKey = key;
      refresh();
    }
  });
  stats = new StatsPanel({
    source: () => adapter?.peerConnections(),
    rows: () => adapter?.statsRows?.() ?? null,
    nameOf: (id) => people.get(id)?.name ?? "Participant",
  });
  controls = bindControls({
    toggleMic: () => toggle("audio"),
    toggleCamera: () => toggle("video"),
    toggleScreen,
    react,
    setHand,
    setLayout: () => refresh(),
    stats,
    leave,
    endForEveryone,
    toggleRecording,
    setRecordingAllowed,
    active: () => !!adapter && document.body.dataset.callState === "joined",
  });
  $("join-button").addEventListener("click", join);
  $("retry-button").addEventListener("click", retry);
  addEventListener("pagehide", () => {
    recorder?.abandon();
    stopDevices();
    adapter?.leave();
  });
  // Back from the back/forward cache the call is long gone: start over.
  addEventListener("pageshow", (e) => e.persisted && location.reload());
  setup.start();
}

if (root) start();
