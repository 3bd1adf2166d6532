// Why the Stream adapter (stream.js) could not join a call, in the words room.js shows: each
// failure is an Error with a `code` room.js knows (unreachable, join_failed, …) and `ours`
// set, so stream.js can tell its own failures from the SDK's.

export const UNREACHABLE = "The video service did not answer. Check your connection, then retry.";

export function joinError(code, message) {
  return Object.assign(new Error(message), { code, ours: true });
}

// Why the SDK failed, in words: an answer from Stream refusing us, or no answer at all.
export function describeFailure(error) {
  if (typeof error?.status === "number" && error.status > 0) {
    const said = error.response?.data?.message || error.message;
    return joinError("join_failed", `The video service refused to let you join: ${said}`);
  }
  return joinError("unreachable", UNREACHABLE);
}

export function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(joinError("unreachable", UNREACHABLE)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
