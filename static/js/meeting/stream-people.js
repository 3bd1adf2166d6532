// Remote participants on the Stream meeting page as room.js sees them (the shape mesh.js
// sends too), from the SDK's participant state and what the page knows besides: raised hands
// (custom events between the pages) and who the host is (our server says, in data-host-id).

/** @typedef {import("@stream-io/video-client").StreamVideoParticipant} StreamVideoParticipant */
/** @typedef {Pick<typeof import("/static/vendor/stream/stream-video-client.js"), "hasAudio" | "hasVideo" | "hasScreenShare">} Tracks */
/**
 * @typedef {{ id: string, userId: string, name: string, image: string | null, audio: boolean,
 *   video: boolean, screen: boolean, hand: boolean, owner: boolean }} Participant
 */

/** What makes room.js draw a participant's tile again when it changes. @type {readonly (keyof Participant)[]} */
const SHOWN = ["name", "image", "audio", "video", "screen", "hand", "owner"];

/**
 * @param {StreamVideoParticipant} p
 * @param {Tracks} tracks the SDK's helpers that say what a participant publishes
 * @param {{ hand: boolean, hostId: string | null }} known
 * @returns {Participant}
 */
export function participantOf(p, { hasAudio, hasVideo, hasScreenShare }, { hand, hostId }) {
  return {
    id: p.sessionId,
    userId: p.userId,
    name: p.name || p.userId || "Participant",
    image: p.image || null,
    audio: hasAudio(p),
    video: hasVideo(p),
    screen: hasScreenShare(p),
    hand,
    owner: !!p.userId && p.userId === hostId,
  };
}

/**
 * Whether room.js must be told: something it shows changed.
 * @param {Participant} before
 * @param {Participant} after
 */
export function changed(before, after) {
  return SHOWN.some((k) => before[k] !== after[k]);
}
