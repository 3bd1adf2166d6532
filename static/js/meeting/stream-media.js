// Remote media on the Stream meeting page. Stream drives each remote tile's <video>
// (call.bindVideoElement, so it subscribes only to what is shown) and a pair of hidden
// <audio> elements per participant, one for the microphone and one for screen-share audio
// (call.bindAudioElement), which play on the chosen speaker.

const AUDIO_BOX = "stream-audio";
/** @type {readonly import("@stream-io/video-client").AudioTrackType[]} */
const AUDIO_TYPES = ["audioTrack", "screenShareAudioTrack"];

/** @typedef {import("@stream-io/video-client").Call} Call */
/** @typedef {import("@stream-io/video-client").VideoTrackType} VideoTrackType */

export class StreamBindings {
  /**
   * `call()` → the joined call, or null; `sharesScreen(id)` → whether that participant's tile
   * shows their screen rather than their camera.
   * @param {{ call: () => Call | null, sharesScreen: (id: string) => boolean }} options
   */
  constructor({ call, sharesScreen }) {
    this.call = call;
    this.sharesScreen = sharesScreen;
    /** @type {Map<string, { element: HTMLVideoElement, type: VideoTrackType | null, unbind: (() => void) | null }>} */
    this.videos = new Map(); // by session ID
    /** @type {Map<string, { elements: HTMLAudioElement[], unbinds: (() => void)[] }>} */
    this.audios = new Map(); // by session ID
    this.sinkId = "";
  }

  /**
   * Lets Stream drive a remote tile's video.
   * @param {string} id the participant's session ID
   * @param {HTMLVideoElement | null | undefined} element
   */
  bindVideo(id, element) {
    if (!this.call() || !element) return;
    this.videos.get(id)?.unbind?.();
    this.videos.set(id, { element, type: null, unbind: null });
    this.rebindVideo(id);
  }

  /**
   * Binds the tile again when the participant starts or stops sharing their screen.
   * @param {string} id
   */
  rebindVideo(id) {
    const entry = this.videos.get(id);
    const call = this.call();
    if (!entry || !call) return;
    /** @type {VideoTrackType} */
    const type = this.sharesScreen(id) ? "screenShareTrack" : "videoTrack";
    if (entry.type === type && entry.unbind) return;
    entry.unbind?.();
    entry.type = type;
    entry.unbind = call.bindVideoElement(entry.element, id, type) ?? null;
  }

  /** @param {string} id */
  bindAudio(id) {
    const call = this.call();
    if (!call || this.audios.has(id)) return;
    let box = document.getElementById(AUDIO_BOX);
    if (!box) {
      box = document.createElement("div");
      box.id = AUDIO_BOX;
      box.hidden = true;
      document.body.append(box);
    }
    /** @type {{ elements: HTMLAudioElement[], unbinds: (() => void)[] }} */
    const entry = { elements: [], unbinds: [] };
    for (const type of AUDIO_TYPES) {
      const audio = document.createElement("audio");
      audio.autoplay = true;
      if (this.sinkId) audio.setSinkId?.(this.sinkId).catch(() => {});
      box.append(audio);
      entry.elements.push(audio);
      const unbind = call.bindAudioElement(audio, id, type);
      if (unbind) entry.unbinds.push(unbind);
    }
    this.audios.set(id, entry);
  }

  /** @param {string} id */
  unbind(id) {
    this.videos.get(id)?.unbind?.();
    this.videos.delete(id);
    const audio = this.audios.get(id);
    audio?.unbinds.forEach((u) => u());
    audio?.elements.forEach((el) => {
      el.srcObject = null;
      el.remove();
    });
    this.audios.delete(id);
  }

  /**
   * Remote audio plays on this speaker ("" for the system default).
   * @param {string | null | undefined} sinkId
   */
  setSinkId(sinkId) {
    this.sinkId = sinkId || "";
    for (const { elements } of this.audios.values()) {
      for (const el of elements) el.setSinkId?.(this.sinkId).catch(() => {});
    }
  }

  /** Unbinds everyone and removes the audio elements. */
  clear() {
    for (const id of new Set([...this.videos.keys(), ...this.audios.keys()])) this.unbind(id);
    document.getElementById(AUDIO_BOX)?.remove();
  }
}
