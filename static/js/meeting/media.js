// Local devices: opening the camera and microphone, listing them, and saying plainly what went
// wrong. Shared by the setup screen and the call; knows nothing about adapters or the DOM.

export const canPickSpeaker =
  typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;

export const canShareScreen = !!navigator.mediaDevices?.getDisplayMedia;

const PREFS_KEY = "yoom.devices";

/** The devices chosen last time ({camera, mic, speaker} device ids), or {} */
export function loadPrefs() {
  try {
    return JSON.parse(localStorage.getItem(PREFS_KEY) || "{}") || {};
  } catch {
    return {};
  }
}

export function savePrefs(prefs) {
  try {
    localStorage.setItem(PREFS_KEY, JSON.stringify(prefs));
  } catch {
    // Private mode or storage full: choices just are not remembered.
  }
}

// A device picked in the list must be that device ("exact"); a remembered one is only a wish
// ("ideal"), because it may have been unplugged since.
function constraints(kind, deviceId, exact) {
  const base =
    kind === "audio"
      ? { echoCancellation: true, noiseSuppression: true, autoGainControl: true }
      : { width: { ideal: 1280 }, height: { ideal: 720 }, frameRate: { ideal: 30, max: 30 } };
  if (!deviceId) return base;
  return { ...base, deviceId: exact ? { exact: deviceId } : { ideal: deviceId } };
}

function unsupported() {
  const error = new Error("getUserMedia is not available");
  error.name = "NotSupportedError";
  return error;
}

/**
 * Opens the camera and microphone, falling back to audio only, then video only, so that one
 * broken or blocked device does not cost the other. Never throws: {stream: MediaStream|null,
 * error: the first failure or null}.
 */
export async function openDevices({ audio = true, video = true, micId, cameraId, exact = false } = {}) {
  if (!navigator.mediaDevices?.getUserMedia) return { stream: null, error: unsupported() };
  const attempts = [];
  const a = constraints("audio", micId, exact);
  const v = constraints("video", cameraId, exact);
  if (audio && video) attempts.push({ audio: a, video: v });
  if (audio) attempts.push({ audio: a });
  if (video) attempts.push({ video: v });
  let firstError = null;
  for (const request of attempts) {
    try {
      const stream = await navigator.mediaDevices.getUserMedia(request);
      return { stream, error: firstError };
    } catch (error) {
      firstError ??= error;
      // A picked device that vanished: the default one is better than nothing.
      if (exact && error.name === "OverconstrainedError") {
        return openDevices({ audio, video });
      }
    }
  }
  return { stream: null, error: firstError };
}

/** One fresh track of `kind` ("audio" | "video"), or throws the browser's error. */
export async function openTrack(kind, deviceId) {
  if (!navigator.mediaDevices?.getUserMedia) throw unsupported();
  const request = { [kind]: constraints(kind, deviceId, false) };
  const stream = await navigator.mediaDevices.getUserMedia(request);
  return stream.getTracks()[0];
}

/** {audioinput, videoinput, audiooutput}: arrays of MediaDeviceInfo (labels empty before permission). */
export async function listDevices() {
  const out = { audioinput: [], videoinput: [], audiooutput: [] };
  if (!navigator.mediaDevices?.enumerateDevices) return out;
  try {
    for (const d of await navigator.mediaDevices.enumerateDevices()) {
      // Chrome lists "default" and "communications" aliases next to the real outputs/inputs.
      if (d.deviceId === "communications") continue;
      out[d.kind]?.push(d);
    }
  } catch {
    // Some embedded browsers refuse; no lists is not fatal.
  }
  return out;
}

export function stopStream(stream) {
  stream?.getTracks().forEach((t) => t.stop());
}

/** What kind of failure an error is: "blocked" | "missing" | "busy" | "unsupported" | "other". */
export function errorKind(error) {
  switch (error?.name) {
    case "NotAllowedError":
    case "SecurityError":
    case "PermissionDeniedError":
      return "blocked";
    case "NotFoundError":
    case "OverconstrainedError":
    case "DevicesNotFoundError":
      return "missing";
    case "NotReadableError":
    case "AbortError":
    case "TrackStartError":
      return "busy";
    case "NotSupportedError":
    case "TypeError":
      return "unsupported";
    default:
      return "other";
  }
}

const nouns = { audio: "microphone", video: "camera" };

/** Why one device cannot be used, short enough for a button title. */
export function deviceReason(kind, error) {
  const noun = nouns[kind];
  switch (errorKind(error)) {
    case "blocked":
      return `Your ${noun} is blocked in this browser's site settings`;
    case "missing":
      return `No ${noun} found`;
    case "busy":
      return `Your ${noun} is in use by another app`;
    case "unsupported":
      return `This browser cannot use a ${noun} here`;
    default:
      return `Your ${noun} could not be started`;
  }
}

/**
 * The setup screen's sentence for the result of openDevices: null when all is well. `got` says
 * which kinds did open; `error` is the first failure.
 */
export function describeProblem(error, got) {
  if (!error) return null;
  const kind = errorKind(error);
  if (got.audio && !got.video) {
    return `${deviceReason("video", error)}. You can join with your microphone only.`;
  }
  if (got.video && !got.audio) {
    return `${deviceReason("audio", error)}. You can join with your camera only; others won't hear you.`;
  }
  const still = "You can still join; others won't see or hear you.";
  switch (kind) {
    case "blocked":
      return `Camera and microphone are blocked. Allow them in your browser's address bar and reload the page — or join anyway. ${still}`;
    case "missing":
      return `No camera or microphone found. Plug one in, or join without them. ${still}`;
    case "busy":
      return `Your camera or microphone is in use by another app. Close that app and try again. ${still}`;
    case "unsupported":
      return `This browser cannot use a camera or microphone on this page (it needs a secure https connection). ${still}`;
    default:
      return `Your camera and microphone could not be started (${error.name || "unknown error"}). ${still}`;
  }
}

/** "Ada Lovelace" → "AL", like the server's initials(). */
export function initials(name) {
  const words = String(name || "").trim().split(/\s+/).filter(Boolean);
  if (!words.length) return "?";
  const first = [...words[0]][0];
  const last = words.length > 1 ? [...words.at(-1)][0] : "";
  return (first + last).toUpperCase();
}
