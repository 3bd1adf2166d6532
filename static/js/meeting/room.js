// The meeting room: setup screen, call UI and controls. Media travels through an adapter
// (mesh.js or stream.js) chosen by the server in data-adapter; this file never touches
// signalling. Adapters may offer optional hooks (bindVideo, setAudioOutput, statsRows; see the
// top of stream.js; and layoutChanged(), called when other tiles may be on screen, see sfu.js)
// that this file uses when they are there. The page's shared state lives in
// call-context.js; my own media in local-media.js; recording in recording-control.js; the
// waiting screen and the ways in in entry.js; the room's chat and host controls in room-controls.js,
// chat.js and host-controls.js.

import { ChatPanel } from "./chat.js";
import { HostControls } from "./host-controls.js";
import { SpeakerDetector } from "./levels.js";
import { stopStream } from "./media.js";
import { ParticipantsPanel } from "./participants.js";
import { Setup } from "./setup.js";
import { StatsPanel } from "./stats.js";
import { Stage } from "./tiles.js";
import { bindControls } from "./controls.js";
import { listenRoom } from "./room-controls.js";
import { describeFailure, diagnose, enterRoom, hideWaiting, showWaiting } from "./entry.js";
import { $, announce, call, cloud, config, local, people, rec, remoteAudio, root, setCallState, toast, trackOf } from "./call-context.js";
import { react, recheckDevices, setHand, showLocalVideo, state, toggle, toggleScreen, watchTrack } from "./local-media.js";
import {
  cloudTimedOut,
  listenRecording,
  recorderApi,
  renderRecording,
  setRecordingAllowed,
  toggleRecording,
} from "./recording-control.js";

// ---- Joining ------------------------------------------------------------------------------

async function join() {
  if (call.joining) return;
  call.joining = true;
  setCallState("joining");
  const button = $("join-button");
  button.disabled = true;
  button.textContent = "Joining…";
  lockSetup(true);
  try {
    await enterRoom();
  } catch (error) {
    call.joining = false;
    return failed(error);
  }
  if ($("join-muted").checked) {
    local.unavailable = call.setup.availability();
    // Off means off: no open device at all, not a muted one.
    call.setup.stop();
    local.stream = new MediaStream();
  } else {
    const stream = await call.setup.handOver();
    local.unavailable = call.setup.availability(stream);
    local.stream = stream ?? new MediaStream();
  }
  local.stream.getTracks().forEach(watchTrack);
  local.audio = !!trackOf("audio");
  local.video = !!trackOf("video");
  try {
    if (!/^[a-z][a-z0-9-]*$/.test(config.adapter)) throw new Error("unknown adapter");
    const { default: Adapter } = await import(`./${config.adapter}.js`);
    call.adapter = new Adapter({ meetingId: config.meetingId, self: config.self });
  } catch {
    return failed({ code: "load_failed", message: "Could not load the meeting. Check your connection and try again." });
  }
  const adapter = call.adapter;
  listen(adapter);
  window.yoomCall = { adapter, localStream: () => local.stream, recorder: recorderApi };
  try {
    // Pending while the host keeps me in the waiting room (the adapter says "waiting").
    await adapter.join({ stream: local.stream, audio: local.audio, video: local.video });
  } catch (error) {
    if (adapter !== call.adapter) return; // I left while waiting
    return failed(error.code === "connect_failed" ? (await diagnose()) ?? error : error);
  } finally {
    call.joining = false;
  }
  enterCall();
}

function enterCall() {
  hideWaiting();
  call.setup.hide();
  $("call").hidden = false;
  const me = {
    key: "local", local: true, id: call.adapter.selfId, userId: config.self.id, name: config.self.name,
    image: config.self.image, owner: config.owner, audio: local.audio, video: local.video, screen: false, hand: false,
  };
  people.set("local", me);
  call.stage.add(me);
  call.stage.setSinkId(call.setup.prefs.speaker);
  call.adapter.setAudioOutput?.(call.setup.prefs.speaker);
  showLocalVideo();
  call.detector.track("local", local.stream);
  call.detector.start();
  navigator.mediaDevices?.addEventListener?.("devicechange", recheckDevices);
  refresh();
  setCallState("joined");
  window.yoomCall = { adapter: call.adapter, localStream: () => local.stream, recorder: recorderApi };
  $("toggle-mic").focus();
  // Whoever joins a call being recorded is told so, not only shown the indicator.
  if (rec.active && !call.recorder) toast("This call is being recorded.");
  call.host?.entered();
}

function listen(a) {
  const on = (type, handler) => a.addEventListener(type, (e) => a === call.adapter && handler(e.detail));
  on("participant-joined", ({ participant }) => {
    const person = { ...participant, key: participant.id, local: false };
    people.set(person.key, person);
    call.stage.add(person);
    a.bindVideo?.(person.key, call.stage.videoOf(person.key));
    if (!call.reconnecting && people.has("local")) announce(`${person.name} joined`);
    refresh();
  });
  on("participant-updated", ({ participant }) => {
    const person = people.get(participant.id);
    if (!person) return;
    const raised = !person.hand && participant.hand;
    Object.assign(person, participant);
    call.stage.update(person);
    if (raised) announce(`${person.name} raised their hand`);
    refresh();
  });
  on("participant-left", ({ id }) => {
    const person = people.get(id);
    if (!person || person.local) return;
    people.delete(id);
    remoteAudio.delete(id);
    call.stage.remove(id);
    call.detector.untrack(id);
    if (call.spotlightKey === id) call.spotlightKey = null;
    if (!call.reconnecting) announce(`${person.name} left`);
    refresh();
  });
  on("track", ({ id, stream }) => {
    call.stage.setStream(id, stream);
    call.detector.track(id, stream);
    call.recorder?.syncAudio();
  });
  // Adapters that draw remote video themselves (bindVideo) still hand over audio for the meter
  // and for recordings.
  on("audio", ({ id, stream }) => {
    call.detector.track(id, stream);
    if (stream) remoteAudio.set(id, stream);
    else remoteAudio.delete(id);
    call.recorder?.syncAudio();
  });
  on("reaction", ({ id, emoji }) => {
    call.stage.react(id, emoji);
    announce(`${people.get(id)?.name ?? "Someone"} reacted ${emoji}`);
  });
  on("connection", ({ state }) => {
    call.reconnecting = state === "reconnecting";
    $("reconnecting").hidden = !call.reconnecting;
    watchOutage(call.reconnecting);
    const me = people.get("local");
    if (!call.reconnecting && me) {
      me.id = call.adapter.selfId;
      call.stage.update(me);
      refresh();
    }
  });
  listenRecording(on);
  on("waiting", () => {
    if (!people.has("local")) showWaiting();
  });
  listenRoom(on);
  on("ended", () => showEnded());
  on("error", (detail) => failed(detail));
}

// A long outage may hide the end of the meeting: check now and then while reconnecting.
let outageTimer = null;
function watchOutage(on) {
  clearInterval(outageTimer);
  outageTimer = null;
  if (!on) return;
  outageTimer = setInterval(async () => {
    const problem = await diagnose();
    if (problem && call.reconnecting) failed(problem);
  }, 5000);
}

function failed({ code, message }) {
  watchOutage(false);
  call.joining = false;
  teardown();
  if (code === "ended") return showEnded();
  const notice = describeFailure({ code, message });
  $("call-error-title").textContent = notice.title;
  $("call-error-message").textContent = notice.message;
  $("retry-button").hidden = !notice.retry;
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
  call.setup.start();
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
  call.setup?.stop();
  stopStream(local.stream);
  stopStream(local.screen);
  local.screen = null;
}

function teardown() {
  // First, so the recording ends on the call and not on stopped cameras; it then saves in the
  // background (leave() waits for it).
  call.recorder?.stop({ patience: 3000, cap: 15000 });
  rec.active = false;
  rec.name = "";
  // A cloud recording goes on without us (the provider stops it with the call).
  cloud.reset();
  stopDevices();
  // Detached first: the adapter's last events (everyone "leaving") are not news to announce.
  const a = call.adapter;
  call.adapter = null;
  a?.leave();
  local.hand = false;
  call.stats?.hide();
  call.detector?.stop();
  call.stage?.clear();
  people.clear();
  remoteAudio.clear();
  call.controls?.closeMenus();
  call.chat?.reset();
  call.host?.reset();
  hideWaiting();
  renderRecording();
  navigator.mediaDevices?.removeEventListener?.("devicechange", recheckDevices);
  call.setup?.hide();
  $("call").hidden = true;
  $("reconnecting").hidden = true;
  call.reconnecting = false;
}

function refresh() {
  if (!people.has("local")) return;
  const remote = [...people.values()].filter((p) => !p.local);
  // The spotlight: someone sharing their screen, else who spoke last, else whoever is here.
  const spot =
    remote.find((p) => p.screen)?.key ??
    (people.has(call.spotlightKey) ? call.spotlightKey : null) ??
    remote[0]?.key ??
    "local";
  // The grid keeps whoever shares a screen, then who spoke last, on whatever page I look at.
  const featured = [...remote.filter((p) => p.screen).map((p) => p.key), call.spotlightKey].filter((k) => k && people.has(k));
  call.stage.arrange($("call").dataset.layout, spot, ["local", ...remote.map((p) => p.key)], featured);
  $("alone").hidden = remote.length > 0;
  call.panel.render([...people.values()]);
  call.controls.update(state());
  call.recorder?.syncAudio();
  renderRecording();
}

async function leave() {
  const saving = call.recorder?.stop({ patience: 3000, cap: 15000 });
  teardown();
  if (saving) {
    toast("Saving the recording…");
    await saving;
  }
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
    setTimeout(() => call.adapter && showEnded(), 3000);
  } catch {
    toast("Could not reach Yoom. Check your connection and try again.", { error: true });
  } finally {
    button.disabled = false;
  }
}

// ---- Start --------------------------------------------------------------------------------

function start() {
  call.refresh = refresh;
  call.renderRecording = renderRecording;
  setCallState("setup");
  document.body.dataset.recording = "off";
  window.yoomCall = { recorder: recorderApi };
  cloud.addEventListener("change", renderRecording);
  cloud.addEventListener("timeout", cloudTimedOut);
  call.setup = new Setup();
  call.stage = new Stage();
  // Other tiles on screen (a page turned, a layout changed): adapters that receive video only
  // for what is shown hear of it at once, not at their next look.
  call.stage.addEventListener("arranged", () => call.adapter?.layoutChanged?.());
  call.stage.addEventListener("page", ({ detail: { page, pages } }) => announce(`Page ${page + 1} of ${pages}`));
  call.host = config.owner ? new HostControls() : null;
  call.panel = new ParticipantsPanel({
    host: config.owner,
    onMute: (person) => call.host?.mute(person),
    onRemove: (person) => call.host?.remove(person),
  });
  call.chat = new ChatPanel({
    selfId: config.self.id,
    host: config.owner,
    send: (text) => !!call.adapter?.sendChat(text),
    remove: (seq) => !!call.adapter?.deleteChat(seq),
    announce,
  });
  call.detector = new SpeakerDetector();
  call.detector.addEventListener("change", ({ detail: { key } }) => {
    call.stage.setSpeaking(key);
    if (key && key !== "local" && key !== call.spotlightKey) {
      call.spotlightKey = key;
      refresh();
    }
  });
  call.stats = new StatsPanel({
    source: () => call.adapter?.peerConnections(),
    rows: () => call.adapter?.statsRows?.() ?? null,
    nameOf: (id) => people.get(id)?.name ?? "Participant",
  });
  call.controls = bindControls({
    toggleMic: () => toggle("audio"),
    toggleCamera: () => toggle("video"),
    toggleScreen,
    react,
    setHand,
    setLayout: () => refresh(),
    stats: call.stats,
    leave,
    endForEveryone,
    toggleRecording,
    setRecordingAllowed,
    active: () => !!call.adapter && document.body.dataset.callState === "joined",
  });
  $("join-button").addEventListener("click", join);
  $("retry-button").addEventListener("click", retry);
  $("waiting-leave").addEventListener("click", leave);
  addEventListener("pagehide", () => {
    call.recorder?.abandon();
    stopDevices();
    call.adapter?.leave();
  });
  // Back from the back/forward cache the call is long gone: start over.
  addEventListener("pageshow", (e) => e.persisted && location.reload());
  call.setup.start();
}

if (root) start();