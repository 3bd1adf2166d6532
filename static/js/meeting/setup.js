// The setup screen: camera preview, microphone meter, device pickers and what is wrong with
// the devices, in words. It owns the preview stream until the call takes it over.

import {
  canPickSpeaker,
  describeProblem,
  deviceReason,
  listDevices,
  loadPrefs,
  openDevices,
  savePrefs,
  stopStream,
} from "./media.js";
import { LevelMeter } from "./levels.js";

const $ = (id) => document.getElementById(id);

export class Setup {
  constructor() {
    this.el = {
      root: $("setup"),
      preview: $("preview"),
      frame: $("preview-frame"),
      level: $("mic-level"),
      camera: $("camera-select"),
      mic: $("mic-select"),
      speaker: $("speaker-select"),
      speakerField: $("speaker-field"),
      message: $("device-message"),
      retry: $("device-retry"),
      muted: $("join-muted"),
    };
    this.prefs = loadPrefs();
    this.stream = null;
    this.error = null;
    this.devices = { audioinput: [], videoinput: [], audiooutput: [] };
    this.meter = null;
    this.generation = 0;
    this.onDeviceChange = () => this.refreshDevices();

    this.el.speakerField.hidden = !canPickSpeaker;
    this.el.camera.addEventListener("change", () => this.pick("camera", this.el.camera.value));
    this.el.mic.addEventListener("change", () => this.pick("mic", this.el.mic.value));
    this.el.speaker.addEventListener("change", () => this.pickSpeaker(this.el.speaker.value));
    this.el.retry.addEventListener("click", () => this.start());
    this.el.muted.addEventListener("change", () => this.showMuted());
  }

  /** Opens the preview (again). Safe to call repeatedly: an older, slower attempt loses. */
  start() {
    this.ready = this.open();
    return this.ready;
  }

  async open() {
    const generation = ++this.generation;
    this.el.root.hidden = false;
    this.releasePreview(true);
    this.setMessage(null);
    this.el.frame.classList.add("loading");
    navigator.mediaDevices?.addEventListener?.("devicechange", this.onDeviceChange);
    const { stream, error } = await openDevices({
      micId: this.prefs.mic,
      cameraId: this.prefs.camera,
      exact: this.exact,
    });
    if (generation !== this.generation) {
      stopStream(stream);
      return;
    }
    this.exact = false;
    this.stream = stream;
    this.error = error;
    this.el.frame.classList.remove("loading");
    this.showStream();
    // Labels (and real device ids) only appear once permission is granted.
    await this.refreshDevices();
    const got = this.got();
    this.setMessage(describeProblem(error, got), error && !got.audio && !got.video);
  }

  got(stream = this.stream) {
    const live = (t) => t?.readyState === "live";
    return {
      audio: live(stream?.getAudioTracks()[0]),
      video: live(stream?.getVideoTracks()[0]),
    };
  }

  showStream() {
    const { preview, frame, level } = this.el;
    const hasVideo = !!this.stream?.getVideoTracks().length;
    preview.srcObject = hasVideo ? this.stream : null;
    frame.classList.toggle("no-video", !hasVideo);
    this.meter?.close();
    this.meter = this.stream?.getAudioTracks().length ? new LevelMeter(this.stream) : null;
    level.classList.toggle("off", !this.meter);
    cancelAnimationFrame(this.frameRequest);
    const draw = () => {
      // Speech sits around 0.02–0.2 RMS; stretch it so the bar moves visibly.
      const value = this.meter ? Math.min(1, this.meter.level() * 5) : 0;
      level.value = value;
      if (this.meter) this.frameRequest = requestAnimationFrame(draw);
    };
    draw();
  }

  showMuted() {
    this.el.frame.classList.toggle("muted", this.el.muted.checked);
  }

  async pick(which, deviceId) {
    this.prefs[which] = deviceId;
    savePrefs(this.prefs);
    this.exact = true;
    await this.start();
  }

  pickSpeaker(deviceId) {
    this.prefs.speaker = deviceId;
    savePrefs(this.prefs);
  }

  async refreshDevices() {
    this.devices = await listDevices();
    const current = (kind) => this.stream?.getTracks().find((t) => t.kind === kind)?.getSettings().deviceId;
    fill(this.el.camera, this.devices.videoinput, current("video") ?? this.prefs.camera, "Camera", "No camera found");
    fill(this.el.mic, this.devices.audioinput, current("audio") ?? this.prefs.mic, "Microphone", "No microphone found");
    if (canPickSpeaker) {
      fill(this.el.speaker, this.devices.audiooutput, this.prefs.speaker, "Speaker", "System default");
    }
  }

  setMessage(text, serious = false) {
    const { message, retry } = this.el;
    message.hidden = !text;
    message.textContent = text ?? "";
    message.classList.toggle("serious", !!serious);
    retry.hidden = !text;
  }

  /**
   * Why each kind cannot be used in the call right now ({audio, video}: reason or null), so
   * the call can disable its buttons with an explanation.
   */
  availability(stream = this.stream) {
    const got = this.got(stream);
    const reason = (kind, list) => {
      if (got[kind]) return null;
      if (!list.length) return deviceReason(kind, { name: "NotFoundError" });
      if (this.error && ["NotAllowedError", "SecurityError", "NotSupportedError"].includes(this.error.name)) {
        return deviceReason(kind, this.error);
      }
      return null; // present but not open (busy, or joined muted): worth a try later
    };
    return {
      audio: reason("audio", this.devices.audioinput),
      video: reason("video", this.devices.videoinput),
    };
  }

  /**
   * Hands the preview stream to the call once it is open (a click on Join may come before
   * the camera answers); the setup screen lets go of it.
   */
  async handOver(patienceMs = 10000) {
    // An unanswered permission prompt would hold the join forever: join without devices then.
    await Promise.race([this.ready, new Promise((r) => setTimeout(r, patienceMs))]);
    this.generation++;
    const stream = this.stream;
    this.stream = null;
    this.releasePreview(false);
    return stream;
  }

  /** Stops the preview's camera and microphone, and any still being opened. */
  stop() {
    this.generation++;
    this.releasePreview(true);
  }

  releasePreview(stopTracks) {
    cancelAnimationFrame(this.frameRequest);
    this.meter?.close();
    this.meter = null;
    this.el.preview.srcObject = null;
    this.el.level.value = 0;
    navigator.mediaDevices?.removeEventListener?.("devicechange", this.onDeviceChange);
    if (stopTracks) {
      stopStream(this.stream);
      this.stream = null;
    }
  }

  hide() {
    this.el.root.hidden = true;
  }
}

function fill(select, devices, selectedId, noun, emptyText) {
  const options = devices.map((d, i) => {
    const option = new Option(d.label || `${noun} ${i + 1}`, d.deviceId);
    option.selected = d.deviceId === selectedId;
    return option;
  });
  if (!options.length) options.push(new Option(emptyText, ""));
  select.replaceChildren(...options);
  select.disabled = !devices.length;
}
