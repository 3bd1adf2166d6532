// The meeting room: setup screen, call UI and controls. Media travels through an adapter
// (mesh.js or stream.js) chosen by the server in data-adapter; this file never touches
// signalling. Adapters may offer optional hooks (bindVideo, setAudioOutput, statsRows; see the
// top of stream.js) that this file uses when they are there.

import { SpeakerDetector } from "./levels.js";
import { canShareScreen, deviceReason, errorKind, listDevices, openTrack, stopStream } from "./media.js";
import { ParticipantsPanel } from "./participants.js";
import { Setup } from "./setup.js";
import { StatsPanel } from "./stats.js";
import { Stage } from "./tiles.js";
import { bindControls } from "./controls.js";

const root = document.getElementById("meeting-room");
const $ = (id) => document.getElementById(id);

const config = {
  meetingId: root?.dataset.meetingId,
  self: { id: root?.dataset.userId, name: root?.dataset.userName || "You", image: root?.dataset.userImage || null },
  owner: root?.dataset.owner === "true",
  adapter: root?.dataset.adapter || "mesh",
  maxParticipants: Number(root?.dataset.maxParticipants) || 0,
};
const NOUN = { audio: "microphone", video: "camera" };

const local = { stream: null, screen: null, audio: false, video: false, hand: false, unavailable: { audio: null, video: null } };
const people = new Map(); // key ("local" or peer id) → person, see tiles.js
const acquiring = new Set();
let adapter = null;
let setup, stage, panel, stats, detector, controls;
let spotlightKey = null;
let reconnecting = false;
let joining = false;

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
  window.yoomCall = { adapter, localStream: () => local.stream };
  $("toggle-mic").focus();
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
    stage.remove(id);
    detector.untrack(id);
    if (spotlightKey === id) spotlightKey = null;
    if (!reconnecting) announce(`${person.name} left`);
    refresh();
  });
  on("track", ({ id, stream }) => {
    stage.setStream(id, stream);
    detector.track(id, stream);
  });
  // Adapters that draw remote video themselves (bindVideo) still hand over audio for the meter.
  on("audio", ({ id, stream }) => detector.track(id, stream));
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
  controls?.closeMenus();
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
}

async function leave() {
  teardown();
  location.assign("/");
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
    active: () => !!adapter && document.body.dataset.callState === "joined",
  });
  $("join-button").addEventListener("click", join);
  $("retry-button").addEventListener("click", retry);
  addEventListener("pagehide", () => {
    stopDevices();
    adapter?.leave();
  });
  // Back from the back/forward cache the call is long gone: start over.
  addEventListener("pageshow", (e) => e.persisted && location.reload());
  setup.start();
}

if (root) start();
