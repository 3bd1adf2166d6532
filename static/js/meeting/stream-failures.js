// Why the Stream adapter (stream.js) could not join a call, or lost it, in the words room.js
// shows. A failure to join is an Error with a `code` room.js knows (unreachable, join_failed,
// …) and `ours` set, so stream.js can tell its own failures from the SDK's.

export const UNREACHABLE = "The video service did not answer. Check your connection, then retry.";
// After joining: reconnecting gave up (room.js offers a retry), or the host removed me.
export const CONNECTION_LOST = "Lost the connection to the video service.";
export const REMOVED = "You were removed from the meeting.";

/** @typedef {Error & { code: string, ours: true }} JoinError */

/**
 * @param {string} code
 * @param {string} message
 * @returns {JoinError}
 */
export function joinError(code, message) {
  return Object.assign(new Error(message), { code, ours: /** @type {const} */ (true) });
}

/**
 * @param {unknown} error
 * @returns {error is JoinError}
 */
export function isJoinError(error) {
  return error instanceof Error && "ours" in error && error.ours === true;
}

/**
 * What stream.js reads of an error the SDK threw: an ErrorFromResponse (Stream answered) has
 * the HTTP status and Stream's own message; a network failure has neither.
 * @typedef {{ status?: unknown, message?: string, response?: { data?: { message?: string } } }} SdkError
 */

/**
 * Why the SDK failed, in words: an answer from Stream refusing us, or no answer at all.
 * @param {unknown} error
 * @returns {JoinError}
 */
export function describeFailure(error) {
  const e = /** @type {SdkError | null | undefined} */ (error);
  if (typeof e?.status === "number" && e.status > 0) {
    const said = e.response?.data?.message || e.message;
    return joinError("join_failed", `The video service refused to let you join: ${said}`);
  }
  return joinError("unreachable", UNREACHABLE);
}

/**
 * `promise`, or an "unreachable" failure after `ms`.
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @returns {Promise<T>}
 */
export function withTimeout(promise, ms) {
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  /** @type {Promise<never>} */
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(joinError("unreachable", UNREACHABLE)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
