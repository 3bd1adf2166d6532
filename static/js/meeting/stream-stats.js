// The stats panel's rows on the Stream meeting page, from the SDK's call stats reports
// (call.state.callStatsReport$): what we send to Stream's SFU and what we receive from it.
// There are no peer connections of ours to measure, so stats.js shows these rows as they are.
//
// A report keeps video (publisherStats, subscriberStats) and audio (publisherAudioStats,
// subscriberAudioStats) apart: the bit rates add both, so someone with only a microphone does
// not show 0; the round-trip time is the video's, else the audio's (the same connection).

/** @typedef {import("@stream-io/video-client").CallStatsReport} CallStatsReport */
/** @typedef {import("@stream-io/video-client").AggregatedStatsReport} AggregatedStatsReport */
/** @typedef {import("@stream-io/video-client").AudioAggregatedStats} AudioAggregatedStats */

/**
 * A row as stats.js draws it: round-trip time (ms), bit rates (kbit/s), resolution and packet
 * loss (%); null where there is nothing to say.
 * @typedef {{ name: string, rtt: number | null, up: number | null, down: number | null,
 *   resolution: string | null, loss: number | null }} StatsRow
 */

/**
 * Rows from the latest report; `before`, the report before it, gives the bit rates.
 * @param {CallStatsReport} report
 * @param {CallStatsReport | null} before
 * @returns {StatsRow[]}
 */
export function statsRows(report, before) {
  const seconds = before && report.timestamp > before.timestamp ? (report.timestamp - before.timestamp) / 1000 : 0;
  /** @type {(now: number, then: number) => number | null} */
  const kbps = (now, then) => (seconds ? Math.max(0, ((now - then) * 8) / 1000 / seconds) : null);
  const pub = report.publisherStats;
  const sub = report.subscriberStats;
  const pubAudio = report.publisherAudioStats;
  const subAudio = report.subscriberAudioStats;
  /** @type {(s: AggregatedStatsReport | undefined) => string | null} */
  const size = (s) => (s?.highestFrameWidth ? `${s.highestFrameWidth}×${s.highestFrameHeight}` : null);
  /** @type {(video?: AggregatedStatsReport, audio?: AudioAggregatedStats) => number | null} */
  const rtt = (video, audio) => video?.averageRoundTripTimeInMs || audio?.averageRoundTripTimeInMs || null;
  /** @type {(r: CallStatsReport | null) => number} */
  const sent = (r) => (r?.publisherStats?.totalBytesSent ?? 0) + (r?.publisherAudioStats?.totalBytesSent ?? 0);
  /** @type {(r: CallStatsReport | null) => number} */
  const got = (r) => (r?.subscriberStats?.totalBytesReceived ?? 0) + (r?.subscriberAudioStats?.totalBytesReceived ?? 0);
  const packets = (subAudio?.totalPacketsReceived ?? 0) + (subAudio?.totalPacketsLost ?? 0);
  const where = report.datacenter ? ` (${report.datacenter})` : "";
  return [
    {
      name: `Sending to Stream${where}`,
      rtt: rtt(pub, pubAudio),
      up: (pub || pubAudio) && before ? kbps(sent(report), sent(before)) : null,
      down: null,
      resolution: size(pub),
      loss: null,
    },
    {
      name: `Receiving from Stream${where}`,
      rtt: rtt(sub, subAudio),
      up: null,
      down: (sub || subAudio) && before ? kbps(got(report), got(before)) : null,
      resolution: size(sub),
      loss: packets > 0 ? (100 * subAudio.totalPacketsLost) / packets : null,
    },
  ];
}
