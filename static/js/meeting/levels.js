// Audio levels: the setup screen's microphone meter and the call's active-speaker detection.

let context = null;

/** One AudioContext for the page; browsers cap how many may exist. */
export function audioContext() {
  if (!context) {
    const Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    context = new Ctx();
    // Autoplay rules keep a context made before any click suspended until the user acts.
    const wake = () => {
      if (context.state === "suspended") context.resume().catch(() => {});
    };
    for (const type of ["pointerdown", "keydown"]) {
      document.addEventListener(type, wake, { capture: true });
    }
    wake();
  }
  return context;
}

/** RMS level (0…1) of a stream's first audio track. */
export class LevelMeter {
  constructor(stream) {
    this.track = stream?.getAudioTracks()[0] ?? null;
    const ctx = this.track && audioContext();
    if (!ctx) return;
    // A stream of just this track: the source follows the first audio track of what it gets.
    this.source = ctx.createMediaStreamSource(new MediaStream([this.track]));
    this.analyser = ctx.createAnalyser();
    this.analyser.fftSize = 1024;
    this.buffer = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
  }

  level() {
    if (!this.analyser || this.track.readyState !== "live" || !this.track.enabled) return 0;
    this.analyser.getFloatTimeDomainData(this.buffer);
    let sum = 0;
    for (const x of this.buffer) sum += x * x;
    return Math.sqrt(sum / this.buffer.length);
  }

  close() {
    this.source?.disconnect();
    this.analyser = null;
  }
}

const TICK_MS = 100;
// Levels rise at once and fall by this factor per tick (half-life ~240 ms), so the gaps
// between syllables do not count as silence.
const RELEASE = 0.75;
// A challenger must be this much louder than the current speaker to take over.
const MARGIN = 1.5;

/**
 * Picks the active speaker: the loudest stream above `threshold` for `holdMs` in a row. The
 * "change" event carries {key} (null after `silenceMs` of quiet), so a cough does not steal
 * the spotlight and a pause does not drop it at once.
 */
export class SpeakerDetector extends EventTarget {
  constructor({ threshold = 0.015, holdMs = 300, silenceMs = 800 } = {}) {
    super();
    Object.assign(this, { threshold, holdMs, silenceMs });
    this.meters = new Map();
    this.smooth = new Map();
    this.active = null;
    this.candidate = null;
    this.candidateSince = 0;
    this.lastHeard = 0;
    this.timer = null;
  }

  track(key, stream) {
    const track = stream?.getAudioTracks()[0];
    const current = this.meters.get(key);
    if (current && current.track === track) return;
    current?.close();
    if (track) this.meters.set(key, new LevelMeter(stream));
    else this.meters.delete(key);
  }

  untrack(key) {
    this.meters.get(key)?.close();
    this.meters.delete(key);
    this.smooth.delete(key);
    if (this.active === key) this.set(null);
  }

  start() {
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
  }

  stop() {
    clearInterval(this.timer);
    this.timer = null;
    this.meters.forEach((m) => m.close());
    this.meters.clear();
    this.smooth.clear();
    this.active = null;
  }

  tick() {
    const now = performance.now();
    let loudest = null;
    let max = this.threshold;
    for (const [key, meter] of this.meters) {
      const level = Math.max(meter.level(), (this.smooth.get(key) ?? 0) * RELEASE);
      this.smooth.set(key, level);
      if (level > max) {
        max = level;
        loudest = key;
      }
    }
    const activeLevel = this.active === null ? 0 : this.smooth.get(this.active) ?? 0;
    if (activeLevel > this.threshold) this.lastHeard = now;
    if (loudest === null || loudest === this.active || max < activeLevel * MARGIN) {
      this.candidate = null;
      if (this.active !== null && now - this.lastHeard > this.silenceMs) this.set(null);
      return;
    }
    if (loudest !== this.candidate) {
      this.candidate = loudest;
      this.candidateSince = now;
    } else if (now - this.candidateSince >= this.holdMs) {
      this.lastHeard = now;
      this.candidate = null;
      this.set(loudest);
    }
  }

  set(key) {
    if (this.active === key) return;
    this.active = key;
    this.dispatchEvent(new CustomEvent("change", { detail: { key } }));
  }
}
