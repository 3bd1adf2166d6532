// In-call recording, done in the recording participant's browser: the call as it is laid out is
// drawn into a canvas, every voice is mixed with Web Audio, MediaRecorder encodes both in one
// second slices, and the slices go up in order, one request at a time:
//
//   POST /meeting/{id}/recordings        → 201 {id, sliceMaxBytes, maxBytes}
//   PUT  /recordings/{id}/slices/{seq}   → 200 acked · 202 pending · 409/413/507 stop
//   POST /recordings/{id}/finish         → 200 {id, status, url}
//
//   const r = new CallRecorder({meetingId, scene, audioTracks})
//   await r.start()                      rejects with Error{code, message}
//   await r.stop({patience, cap})        → {url, failure, lost} (also sent as "finished")
//   r.abandon()                          pagehide: finish with keepalive, no waiting
//   r.syncAudio()                        the set of audio tracks changed: remix now
//   r.state ("idle" | "starting" | "recording" | "stopping") · r.recordingId
//   events: statechange {state}, finished {url, failure: {code, message}|null, lost}
//
// scene() → {layout: "grid"|"speaker-left"|"speaker-right", tiles: [{key, name, initials,
// video: HTMLVideoElement|null, videoOn, screen, audio, hand, speaking, spotlight,
// image: HTMLImageElement|null}]} in display order; audioTracks() → live MediaStreamTracks.
//
// This file also runs as its own worker (see Ticker): nothing at the top level may touch the DOM.

const WIDTH = 1280;
const HEIGHT = 720;
const FPS = 25;
const TIMESLICE_MS = 1000;
const VIDEO_BPS = 2_000_000;
const AUDIO_BPS = 96_000;
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 8000;
const REQUEST_TIMEOUT_MS = 30000;
const RECORDER_STOP_WAIT_MS = 3000;
const AUDIO_RESYNC_FRAMES = 12; // about twice a second
const KEEP_ACKED = 8; // recent slices kept to resend if the server says an earlier one is missing
const MAX_PENDING_TRIES = 6;
const MAX_QUEUED_BYTES = 64 * 1024 * 1024; // ~3 minutes of slices that could not be sent
const DEFAULT_SLICE_MAX = 8 * 1024 * 1024;

const MIME_TYPES = [
  "video/webm;codecs=vp8,opus",
  "video/webm;codecs=vp9,opus",
  "video/webm;codecs=h264,opus",
  "video/webm",
  "video/mp4;codecs=avc1.42E01E,mp4a.40.2",
  "video/mp4",
];

const COLORS = {
  background: "#161925",
  tile: "#1C1F2E",
  more: "#252A41",
  avatar: "#0A6CE8",
  speaking: "#0A6CE8",
  hand: "#F9A90E",
  label: "rgba(0, 0, 0, 0.6)",
  micOff: "#FF8A8F",
};
// The tiles' mic-off icon (icons.js), drawn with Path2D.
const MIC_OFF_PATHS = [
  "M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3Z",
  "M19 10v2a7 7 0 0 1-14 0v-2",
  "M12 19v3",
  "m3 3 18 18",
];
const HAND_PATHS = [
  "M18 11V6a2 2 0 0 0-4 0v5",
  "M14 10V4a2 2 0 0 0-4 0v6",
  "M10 10.5V6a2 2 0 0 0-4 0v8",
  "M18 8a2 2 0 1 1 4 0v6a8 8 0 0 1-8 8h-2c-2.8 0-4.5-.86-6-2.34l-3.6-3.6a2 2 0 0 1 2.83-2.83L7 15",
];

function recorderError(code, message) {
  return Object.assign(new Error(message), { code });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** The best container/codec this browser records, or "" to let it choose. */
export function pickMimeType() {
  if (typeof MediaRecorder === "undefined") return "";
  return MIME_TYPES.find((t) => MediaRecorder.isTypeSupported?.(t)) ?? "";
}

/** Whether this browser can record a call at all. */
export function canRecord() {
  return (
    typeof MediaRecorder !== "undefined" &&
    typeof HTMLCanvasElement !== "undefined" &&
    typeof HTMLCanvasElement.prototype.captureStream === "function"
  );
}

// ---- Frame clock -------------------------------------------------------------------------
// Timers in a background tab slow to once a second (and rAF stops), which would freeze the
// recording whenever the recorder looks at another tab; a worker's timer keeps its pace.

class Ticker {
  constructor(fps, tick) {
    this.interval = Math.round(1000 / fps);
    this.tick = tick;
    this.worker = null;
    this.timer = null;
    try {
      this.worker = new Worker(import.meta.url, { type: "module", name: "yoom-recorder-clock" });
      this.worker.onmessage = () => this.tick();
      this.worker.onerror = () => this.fallBack();
      this.worker.postMessage(this.interval);
    } catch {
      this.fallBack();
    }
  }

  fallBack() {
    this.worker?.terminate();
    this.worker = null;
    if (this.timer === null) this.timer = setInterval(this.tick, this.interval);
  }

  stop() {
    this.worker?.terminate();
    this.worker = null;
    clearInterval(this.timer);
    this.timer = null;
  }
}

// ---- Layout ------------------------------------------------------------------------------

const PAD = 16;
const GAP = 12;

/** Where each tile goes on the canvas: [{tile, rect, fit}] plus at most one {more, rect}. */
export function layoutScene(scene, width = WIDTH, height = HEIGHT) {
  const tiles = scene.tiles ?? [];
  const area = { x: PAD, y: PAD, w: width - 2 * PAD, h: height - 2 * PAD };
  if (!tiles.length) return [];
  const big = scene.layout !== "grid" ? tiles.find((t) => t.spotlight) : null;
  if (!big) return gridLayout(tiles, area);
  const rest = tiles.filter((t) => t !== big);
  if (!rest.length) return [{ tile: big, rect: area, fit: "contain" }];
  const stripW = Math.round(area.w * 0.2);
  const mainW = area.w - stripW - GAP;
  const stripLeft = scene.layout === "speaker-left";
  const out = [
    { tile: big, rect: { x: stripLeft ? area.x + stripW + GAP : area.x, y: area.y, w: mainW, h: area.h }, fit: "contain" },
  ];
  const th = Math.round((stripW * 9) / 16);
  const fits = Math.max(1, Math.floor((area.h + GAP) / (th + GAP)));
  const shown = rest.length > fits ? rest.slice(0, fits - 1) : rest;
  const more = rest.length - shown.length;
  const x = stripLeft ? area.x : area.x + mainW + GAP;
  let y = area.y; // from the top, like the page's strip
  for (const tile of shown) {
    out.push({ tile, rect: { x, y, w: stripW, h: th }, fit: "cover" });
    y += th + GAP;
  }
  if (more) out.push({ more, rect: { x, y, w: stripW, h: th } });
  return out;
}

function gridLayout(tiles, area) {
  const n = tiles.length;
  let best = { cols: 1, w: 0 };
  for (let cols = 1; cols <= n; cols++) {
    const rows = Math.ceil(n / cols);
    const w = Math.min((area.w - (cols - 1) * GAP) / cols, ((area.h - (rows - 1) * GAP) / rows) * (16 / 9));
    if (w > best.w + 0.5) best = { cols, w };
  }
  const cols = best.cols;
  const rows = Math.ceil(n / cols);
  const w = Math.floor(best.w);
  const h = Math.floor((w * 9) / 16);
  const top = area.y + Math.round((area.h - (rows * h + (rows - 1) * GAP)) / 2);
  return tiles.map((tile, i) => {
    const row = Math.floor(i / cols);
    const inRow = row === rows - 1 ? n - row * cols : cols; // the last row is centred too
    const left = area.x + Math.round((area.w - (inRow * w + (inRow - 1) * GAP)) / 2);
    return { tile, rect: { x: left + (i % cols) * (w + GAP), y: top + row * (h + GAP), w, h }, fit: "cover" };
  });
}

// ---- Drawing -----------------------------------------------------------------------------

function roundRect(ctx, { x, y, w, h }, r) {
  r = Math.min(r, w / 2, h / 2);
  ctx.beginPath();
  ctx.moveTo(x + r, y);
  ctx.arcTo(x + w, y, x + w, y + h, r);
  ctx.arcTo(x + w, y + h, x, y + h, r);
  ctx.arcTo(x, y + h, x, y, r);
  ctx.arcTo(x, y, x + w, y, r);
  ctx.closePath();
}

/** Draws a source of size sw×sh into rect, keeping its aspect ratio ("cover" crops, "contain" bars). */
function drawFitted(ctx, source, sw, sh, rect, fit) {
  const scale = fit === "contain" ? Math.min(rect.w / sw, rect.h / sh) : Math.max(rect.w / sw, rect.h / sh);
  const dw = sw * scale;
  const dh = sh * scale;
  ctx.drawImage(source, rect.x + (rect.w - dw) / 2, rect.y + (rect.h - dh) / 2, dw, dh);
}

function sameOrigin(src) {
  try {
    const url = new URL(src, location.href);
    return url.origin === location.origin || url.protocol === "data:" || url.protocol === "blob:";
  } catch {
    return false;
  }
}

function ellipsize(ctx, text, max) {
  if (ctx.measureText(text).width <= max) return text;
  const chars = [...text];
  while (chars.length && ctx.measureText(chars.join("") + "…").width > max) chars.pop();
  return chars.join("") + "…";
}

class Compositor {
  constructor() {
    this.canvas = document.createElement("canvas");
    this.canvas.width = WIDTH;
    this.canvas.height = HEIGHT;
    this.ctx = this.canvas.getContext("2d", { alpha: false });
    const paths = (list) => (typeof Path2D === "function" ? list.map((d) => new Path2D(d)) : null);
    this.micOff = paths(MIC_OFF_PATHS);
    this.hand = paths(HAND_PATHS);
  }

  draw(scene) {
    const ctx = this.ctx;
    ctx.fillStyle = COLORS.background;
    ctx.fillRect(0, 0, WIDTH, HEIGHT);
    for (const item of layoutScene(scene)) {
      if (item.more) this.drawMore(item.more, item.rect);
      else this.drawTile(item.tile, item.rect, item.fit);
    }
  }

  drawTile(tile, rect, fit) {
    const ctx = this.ctx;
    const radius = Math.max(6, Math.round(rect.w * 0.02));
    ctx.save();
    roundRect(ctx, rect, radius);
    ctx.clip();
    ctx.fillStyle = COLORS.tile;
    ctx.fillRect(rect.x, rect.y, rect.w, rect.h);
    const video = tile.video;
    const live = tile.videoOn && video && video.readyState >= 2 && video.videoWidth > 0 && video.videoHeight > 0;
    if (live) {
      try {
        // Like the page: screens and the spotlight whole, camera tiles filled. Never mirrored:
        // the recording shows me as the others see me.
        drawFitted(ctx, video, video.videoWidth, video.videoHeight, rect, tile.screen ? "contain" : fit);
      } catch {
        this.drawPlaceholder(tile, rect);
      }
    } else {
      this.drawPlaceholder(tile, rect);
    }
    const border = tile.hand ? COLORS.hand : tile.speaking ? COLORS.speaking : null;
    if (border) {
      ctx.lineWidth = 6; // half of it is clipped away: a 3 px inner border
      ctx.strokeStyle = border;
      roundRect(ctx, rect, radius);
      ctx.stroke();
    }
    if (tile.hand) this.drawHand(rect);
    this.drawLabel(tile, rect);
    ctx.restore();
  }

  /** The raised-hand badge in the top left corner, as on the page. */
  drawHand(rect) {
    if (!this.hand) return;
    const ctx = this.ctx;
    const d = Math.round(Math.min(40, Math.max(22, rect.h * 0.12)));
    const x = rect.x + Math.round(d * 0.3);
    const y = rect.y + Math.round(d * 0.3);
    ctx.save();
    ctx.beginPath();
    ctx.arc(x + d / 2, y + d / 2, d / 2, 0, Math.PI * 2);
    ctx.fillStyle = COLORS.hand;
    ctx.fill();
    const icon = d * 0.6;
    ctx.translate(x + (d - icon) / 2, y + (d - icon) / 2);
    ctx.scale(icon / 24, icon / 24);
    ctx.strokeStyle = COLORS.background;
    ctx.lineWidth = 2;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const path of this.hand) ctx.stroke(path);
    ctx.restore();
  }

  drawPlaceholder(tile, rect) {
    const ctx = this.ctx;
    const d = Math.round(Math.min(160, Math.max(36, rect.w * 0.24), rect.h * 0.6));
    const cx = rect.x + rect.w / 2;
    const cy = rect.y + rect.h / 2;
    ctx.save();
    ctx.beginPath();
    ctx.arc(cx, cy, d / 2, 0, Math.PI * 2);
    ctx.closePath();
    ctx.fillStyle = COLORS.avatar;
    ctx.fill();
    const img = tile.image;
    if (img && img.complete && img.naturalWidth > 0 && sameOrigin(img.currentSrc || img.src)) {
      ctx.clip();
      drawFitted(ctx, img, img.naturalWidth, img.naturalHeight, { x: cx - d / 2, y: cy - d / 2, w: d, h: d }, "cover");
    } else {
      ctx.fillStyle = "#fff";
      ctx.font = `700 ${Math.round(d * 0.36)}px system-ui, -apple-system, "Segoe UI", sans-serif`;
      ctx.textAlign = "center";
      ctx.textBaseline = "middle";
      ctx.fillText(tile.initials || "?", cx, cy + 1);
    }
    ctx.restore();
  }

  drawLabel(tile, rect) {
    const ctx = this.ctx;
    const size = Math.round(Math.min(20, Math.max(12, rect.h * 0.06)));
    const padX = Math.round(size * 0.6);
    const h = Math.round(size * 1.7);
    const x = rect.x + Math.round(size * 0.5);
    const y = rect.y + rect.h - h - Math.round(size * 0.5);
    const icon = !tile.audio && this.micOff ? size : 0;
    const gap = icon ? Math.round(size * 0.4) : 0;
    ctx.font = `600 ${size}px system-ui, -apple-system, "Segoe UI", sans-serif`;
    const maxText = rect.w - 2 * (x - rect.x) - 2 * padX - icon - gap;
    if (maxText < size) return;
    const text = ellipsize(ctx, tile.name || "", maxText);
    const w = 2 * padX + icon + gap + ctx.measureText(text).width;
    ctx.fillStyle = COLORS.label;
    roundRect(ctx, { x, y, w, h }, Math.round(size * 0.4));
    ctx.fill();
    if (icon) {
      ctx.save();
      ctx.translate(x + padX, y + (h - icon) / 2);
      ctx.scale(icon / 24, icon / 24);
      ctx.strokeStyle = COLORS.micOff;
      ctx.lineWidth = 2;
      ctx.lineCap = "round";
      ctx.lineJoin = "round";
      for (const path of this.micOff) ctx.stroke(path);
      ctx.restore();
    }
    ctx.fillStyle = "#fff";
    ctx.textAlign = "left";
    ctx.textBaseline = "middle";
    ctx.fillText(text, x + padX + icon + gap, y + h / 2 + 1);
  }

  drawMore(count, rect) {
    const ctx = this.ctx;
    ctx.save();
    roundRect(ctx, rect, Math.max(6, Math.round(rect.w * 0.02)));
    ctx.fillStyle = COLORS.more;
    ctx.fill();
    ctx.fillStyle = "#fff";
    ctx.font = `700 ${Math.round(rect.h * 0.22)}px system-ui, -apple-system, "Segoe UI", sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(`+${count}`, rect.x + rect.w / 2, rect.y + rect.h / 2);
    ctx.restore();
  }
}

// ---- Audio -------------------------------------------------------------------------------

/** Every voice into one track: a source node per audio track, all into one destination. */
class Mixer {
  constructor() {
    const Context = window.AudioContext ?? window.webkitAudioContext;
    this.ctx = Context ? new Context() : null;
    this.destination = this.ctx?.createMediaStreamDestination() ?? null;
    this.sources = new Map(); // track → source node
    // Created inside the click, so allowed to run; resume in case the browser still holds it.
    this.ctx?.resume?.().catch(() => {});
  }

  get track() {
    return this.destination?.stream.getAudioTracks()[0] ?? null;
  }

  sync(tracks) {
    if (!this.ctx || this.ctx.state === "closed") return;
    if (this.ctx.state === "suspended") this.ctx.resume().catch(() => {});
    const wanted = new Set(tracks.filter((t) => t && t.kind === "audio" && t.readyState === "live"));
    for (const [track, node] of this.sources) {
      if (wanted.has(track)) continue;
      node.disconnect();
      this.sources.delete(track);
    }
    for (const track of wanted) {
      if (this.sources.has(track)) continue;
      try {
        const node = this.ctx.createMediaStreamSource(new MediaStream([track]));
        node.connect(this.destination);
        this.sources.set(track, node);
      } catch (e) {
        console.warn("recording: could not mix a track", e);
      }
    }
  }

  close() {
    for (const node of this.sources.values()) node.disconnect();
    this.sources.clear();
    this.track?.stop();
    this.ctx?.close().catch(() => {});
  }
}

// ---- The recorder ------------------------------------------------------------------------

export class CallRecorder extends EventTarget {
  constructor({ meetingId, scene, audioTracks }) {
    super();
    this.meetingId = meetingId;
    this.scene = scene;
    this.audioTracks = audioTracks;
    this.phase = "idle";
    this.id = null;
    this.sliceMax = DEFAULT_SLICE_MAX;
    this.maxBytes = Infinity;
    this.queue = []; // [{seq, blob, endMs}] waiting to go up, oldest first
    this.recent = []; // the last acknowledged ones, in case the server wants them again
    this.nextSeq = 0;
    this.ackedMs = 0; // how much of the call the acknowledged slices hold
    this.uploadedBytes = 0;
    this.backoff = BACKOFF_FIRST_MS;
    this.failure = null;
    this.dead = false; // no more requests: the page is going
    this.waiters = new Set();
    this.stopping = null;
    this.onOnline = () => this.wake();
  }

  get state() {
    return this.phase;
  }

  get recordingId() {
    return this.id;
  }

  setPhase(phase) {
    if (this.phase === phase) return;
    this.phase = phase;
    this.dispatchEvent(new CustomEvent("statechange", { detail: { state: phase } }));
  }

  // ---- Starting -------------------------------------------------------------------------

  /** Sets up the media (synchronously, inside the user's click), then asks the server. */
  start() {
    if (this.phase !== "idle") return this.started ?? Promise.resolve();
    this.started = this.begin();
    return this.started;
  }

  async begin() {
    if (!canRecord()) throw recorderError("unsupported", "This browser cannot record calls.");
    this.setPhase("starting");
    try {
      this.buildMedia();
      let res;
      try {
        res = await fetch(`/meeting/${encodeURIComponent(this.meetingId)}/recordings`, {
          method: "POST",
          headers: { Accept: "application/json" },
        });
      } catch {
        throw recorderError("network", "Could not reach Yoom. Check your connection and try again.");
      }
      const body = await res.json().catch(() => null);
      if (!res.ok || !body?.id) {
        const code = body?.error?.code || `http_${res.status}`;
        const fallback =
          res.status === 409
            ? "This meeting is already being recorded."
            : res.status === 403
              ? "Only the host, or people the host allows, can record this meeting."
              : "Could not start recording. Try again.";
        throw recorderError(code, body?.error?.message || fallback);
      }
      this.id = String(body.id);
      if (this.abandoned || !this.media) {
        // The page went while the server was answering: close what it just opened.
        this.sendFinishBeacon(0);
        throw recorderError("cancelled", "");
      }
      if (Number(body.sliceMaxBytes) > 0) this.sliceMax = Number(body.sliceMaxBytes);
      if (Number(body.maxBytes) > 0) this.maxBytes = Number(body.maxBytes);
      window.addEventListener("online", this.onOnline);
      this.media.recorder.start(TIMESLICE_MS);
      this.startedAt = performance.now();
      this.setPhase("recording");
    } catch (error) {
      this.releaseMedia();
      this.setPhase("idle");
      throw error;
    }
  }

  buildMedia() {
    const compositor = new Compositor();
    compositor.draw(this.safeScene());
    const mixer = new Mixer();
    mixer.sync(this.safeAudioTracks());
    const video = compositor.canvas.captureStream(FPS).getVideoTracks()[0];
    const tracks = [video, mixer.track].filter(Boolean);
    const mimeType = pickMimeType();
    const options = { videoBitsPerSecond: VIDEO_BPS, audioBitsPerSecond: AUDIO_BPS };
    if (mimeType) options.mimeType = mimeType;
    let recorder;
    try {
      recorder = new MediaRecorder(new MediaStream(tracks), options);
    } catch (error) {
      video?.stop();
      mixer.close();
      throw recorderError("unsupported", `This browser cannot record calls (${error.name || "MediaRecorder"}).`);
    }
    this.mimeType = recorder.mimeType || mimeType || "video/webm";
    recorder.addEventListener("dataavailable", (e) => this.sliced(e.data));
    recorder.addEventListener("error", (e) => {
      console.warn("recording: MediaRecorder error", e.error ?? e);
      this.fail("recorder_error", "Recording stopped: the browser's recorder failed. What was recorded is saved.");
    });
    let frame = 0;
    const ticker = new Ticker(FPS, () => {
      compositor.draw(this.safeScene());
      if (++frame % AUDIO_RESYNC_FRAMES === 0) mixer.sync(this.safeAudioTracks());
    });
    this.media = { compositor, mixer, video, recorder, ticker };
  }

  safeScene() {
    try {
      return this.scene?.() ?? { layout: "grid", tiles: [] };
    } catch (e) {
      console.warn("recording: scene", e);
      return { layout: "grid", tiles: [] };
    }
  }

  safeAudioTracks() {
    try {
      return this.audioTracks?.() ?? [];
    } catch {
      return [];
    }
  }

  /** The people or their microphones changed: mix the new set now rather than at the next resync. */
  syncAudio() {
    this.media?.mixer.sync(this.safeAudioTracks());
  }

  releaseMedia() {
    const media = this.media;
    this.media = null;
    if (!media) return;
    media.ticker.stop();
    if (media.recorder.state !== "inactive") {
      try {
        media.recorder.stop();
      } catch {
        // Already stopping.
      }
    }
    media.video?.stop();
    media.mixer.close();
  }

  // ---- Slices ---------------------------------------------------------------------------

  sliced(blob) {
    if (!blob || !blob.size || this.failure || this.dead || !this.id) return;
    const endMs = Math.round((this.stopAt ?? performance.now()) - this.startedAt);
    // The server appends slices byte for byte, so an oversized one can go up as several.
    for (let offset = 0; offset < blob.size; offset += this.sliceMax) {
      const part = blob.size > this.sliceMax ? blob.slice(offset, offset + this.sliceMax, blob.type) : blob;
      this.queue.push({ seq: this.nextSeq++, blob: part, endMs });
    }
    const queued = this.queue.reduce((sum, item) => sum + item.blob.size, 0);
    if (queued > MAX_QUEUED_BYTES) {
      this.fail(
        "unreachable",
        "Recording stopped: Yoom could not be reached to save it. What was uploaded before is saved.",
        { keepQueue: true },
      );
    }
    this.pump();
  }

  async pump() {
    if (this.pumping) return;
    this.pumping = true;
    let pendingTries = 0;
    let pendingSeq = null;
    try {
      while (this.queue.length && !this.dead) {
        if (this.failure && !this.failure.keepQueue) break;
        const item = this.queue[0];
        const outcome = await this.put(item);
        if (this.dead) break;
        if (outcome.acked) {
          if (this.queue[0] === item) this.queue.shift();
          if (item.seq >= (this.recent.at(-1)?.seq ?? -1)) {
            this.recent.push(item);
            if (this.recent.length > KEEP_ACKED) this.recent.shift();
          }
          this.ackedMs = Math.max(this.ackedMs, item.endMs);
          if (Number.isFinite(outcome.bytes)) this.uploadedBytes = outcome.bytes;
          this.backoff = BACKOFF_FIRST_MS;
          // Earlier slices sent again are acknowledged too; only getting past the one the
          // server held back ends a "pending" episode.
          if (pendingSeq === null || item.seq >= pendingSeq) {
            pendingTries = 0;
            pendingSeq = null;
          }
          this.notify();
          continue;
        }
        if (outcome.fatal) {
          this.fail(outcome.code, outcome.message);
          break;
        }
        if (outcome.pending) {
          // The server is missing an earlier slice: send the recent ones again (it ignores
          // those it has), then this one.
          pendingSeq = item.seq;
          if (++pendingTries > MAX_PENDING_TRIES) {
            this.fail("lost", "Recording stopped: part of it never reached Yoom. What was recorded up to there is saved.");
            break;
          }
          const earlier = this.recent.filter((r) => r.seq < item.seq && !this.queue.includes(r));
          this.queue.unshift(...earlier);
        }
        await this.pause(this.backoff);
        this.backoff = Math.min(this.backoff * 2, BACKOFF_MAX_MS);
      }
    } finally {
      this.pumping = false;
      this.notify();
    }
  }

  /** One attempt at one slice: {acked, bytes} | {pending} | {retry} | {fatal, code, message}. */
  async put(item) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), REQUEST_TIMEOUT_MS);
    this.inflight = abort;
    try {
      const res = await fetch(`/recordings/${encodeURIComponent(this.id)}/slices/${item.seq}`, {
        method: "PUT",
        headers: { Accept: "application/json", "Content-Type": this.mimeType },
        body: item.blob,
        signal: abort.signal,
      });
      const body = await res.json().catch(() => null);
      if (res.status === 202) return { pending: true };
      if (res.ok) return { acked: true, bytes: Number(body?.bytes) };
      const code = body?.error?.code || `http_${res.status}`;
      const message = body?.error?.message || "";
      if (res.status === 408 || res.status === 429 || (res.status >= 500 && res.status !== 507)) return { retry: true };
      if (res.status === 507 || code === "limit_reached") {
        return { fatal: true, code: "limit_reached", message: stoppedMessage(message || "the recording reached its size limit") };
      }
      if (res.status === 409 || code === "finished") {
        return { fatal: true, code: "finished", message: "Recording stopped: it was finished on the server. What was recorded is saved." };
      }
      if (res.status === 413) {
        return { fatal: true, code: "too_large", message: stoppedMessage(message || "a part of it was too large to upload") };
      }
      if (res.status === 401) {
        return { fatal: true, code: "signed_out", message: "Recording stopped: you were signed out. What was recorded is saved." };
      }
      return { fatal: true, code, message: stoppedMessage(message || `the server refused it (${res.status})`) };
    } catch {
      return { retry: true }; // offline, or the request timed out
    } finally {
      clearTimeout(timer);
      if (this.inflight === abort) this.inflight = null;
    }
  }

  /** A backoff wait that ends early when the network comes back or the page goes. */
  pause(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers?.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      (this.wakers ??= new Set()).add(done);
    });
  }

  wake() {
    for (const done of [...(this.wakers ?? [])]) done();
  }

  notify() {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves on the next acknowledgement or failure, or after `ms`. */
  progress(ms) {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.waiters.add(done);
    });
  }

  /** Stops recording because something went wrong; what was uploaded is finished and kept. */
  fail(code, message, { keepQueue = false } = {}) {
    if (this.failure) return;
    this.failure = { code, message, keepQueue };
    if (!keepQueue) this.queue = [];
    this.notify();
    this.stop();
  }

  // ---- Stopping -------------------------------------------------------------------------

  /**
   * Stops recording, waits for the last slices to go up (giving up after `patience` ms
   * without progress, or `cap` ms in all), finishes the recording and resolves
   * {url, failure, lost}. Safe to call more than once.
   */
  stop({ patience = 5000, cap = 60000 } = {}) {
    if (this.stopping) return this.stopping;
    if (this.phase === "starting") {
      // Asked to stop while the server was still being asked: stop right after it answers.
      return this.started.then(
        () => this.stop({ patience, cap }),
        () => null,
      );
    }
    if (this.phase !== "recording") return Promise.resolve(null);
    this.stopping = this.finishUp(patience, cap);
    return this.stopping;
  }

  async finishUp(patience, cap) {
    let outcome = { url: null, failure: null, lost: false, error: null, abandoned: false };
    try {
      outcome = await this.drainAndFinish(patience, cap);
    } catch (error) {
      console.warn("recording: stopping failed", error);
      this.releaseMedia();
      outcome.error = "Could not finish the recording; it will be finished automatically.";
    }
    this.setPhase("idle");
    this.dispatchEvent(new CustomEvent("finished", { detail: outcome }));
    return outcome;
  }

  async drainAndFinish(patience, cap) {
    this.stopAt = performance.now();
    this.setPhase("stopping");
    await this.stopRecorder();
    this.releaseMedia();
    const begun = performance.now();
    this.pump();
    while (this.queue.length && !this.dead && (!this.failure || this.failure.keepQueue)) {
      const before = this.queue.length;
      const acked = this.ackedMs;
      await this.progress(patience);
      const moved = this.queue.length < before || this.ackedMs !== acked;
      if (!moved || performance.now() - begun > cap) break;
    }
    const lost = this.queue.length > 0;
    // Everything sent: the whole call. Otherwise only what the server holds.
    const durationMs = lost || this.failure ? this.ackedMs : Math.round(this.stopAt - this.startedAt);
    this.dead = true;
    this.queue = [];
    this.inflight?.abort();
    this.wake();
    window.removeEventListener("online", this.onOnline);
    const result = this.abandoned ? null : await this.finishRequest(durationMs);
    return {
      url: result?.url ?? null,
      failure: this.failure,
      lost,
      error: result?.error ?? null,
      abandoned: !!this.abandoned,
    };
  }

  /** recorder.stop() and its last dataavailable, which comes just before "stop". */
  stopRecorder() {
    const recorder = this.media?.recorder;
    if (!recorder || recorder.state === "inactive") return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, RECORDER_STOP_WAIT_MS);
      recorder.addEventListener(
        "stop",
        () => {
          clearTimeout(timer);
          // Let the final dataavailable handler run first in every browser.
          setTimeout(resolve, 0);
        },
        { once: true },
      );
      try {
        recorder.stop();
      } catch {
        clearTimeout(timer);
        resolve();
      }
    });
  }

  async finishRequest(durationMs) {
    const body = JSON.stringify(durationMs > 0 ? { durationMs } : {});
    let wait = BACKOFF_FIRST_MS;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const res = await fetch(`/recordings/${encodeURIComponent(this.id)}/finish`, {
          method: "POST",
          headers: { Accept: "application/json", "Content-Type": "application/json" },
          body,
        });
        const data = await res.json().catch(() => null);
        if (res.ok) return { url: data?.url || `/recordings/${encodeURIComponent(this.id)}` };
        if (res.status < 500 && res.status !== 429) {
          return { error: data?.error?.message || "Could not finish the recording." };
        }
      } catch {
        // Offline: try again shortly. The server also finishes it by itself after a while.
      }
      await sleep(wait);
      wait = Math.min(wait * 2, BACKOFF_MAX_MS);
    }
    return { error: "Could not reach Yoom to finish the recording; it will be finished automatically." };
  }

  /**
   * The page is going away (pagehide): no time to wait for uploads. Finishes the recording
   * with a keepalive request holding only what the server has; the server would otherwise
   * finish it itself after a while.
   */
  abandon() {
    if (this.phase === "idle" || this.abandoned) return;
    this.abandoned = true;
    this.dead = true;
    this.inflight?.abort();
    this.wake();
    this.notify();
    this.releaseMedia();
    window.removeEventListener("online", this.onOnline);
    if (this.phase === "recording") this.setPhase("idle");
    this.sendFinishBeacon(this.ackedMs);
  }

  sendFinishBeacon(durationMs) {
    if (!this.id) return;
    try {
      fetch(`/recordings/${encodeURIComponent(this.id)}/finish`, {
        method: "POST",
        keepalive: true,
        headers: { Accept: "application/json", "Content-Type": "application/json" },
        body: JSON.stringify(durationMs > 0 ? { durationMs } : {}),
      }).catch(() => {});
    } catch {
      // Nothing more can be done from a closing page.
    }
  }
}

/** "Recording stopped: <message>. What was recorded is saved.", unless the server said so already. */
function stoppedMessage(message) {
  const text = String(message).trim();
  if (/^recording stopped/i.test(text)) return text;
  return `Recording stopped: ${text.replace(/[.\s]+$/, "")}. What was recorded is saved.`;
}

// ---- Worker side of Ticker ----------------------------------------------------------------
if (typeof window === "undefined" && typeof self !== "undefined" && typeof self.postMessage === "function") {
  let timer = null;
  self.onmessage = (e) => {
    clearInterval(timer);
    const ms = Number(e.data);
    if (ms > 0) timer = setInterval(() => self.postMessage(0), ms);
  };
}
