// The stats panel's rows on the Stream meeting page, from the SDK's call stats reports
// (call.state.callStatsReport$): what we send to Stream's SFU and what we receive from it.
// There are no peer connections of ours to measure, so stats.js shows these rows as they are.

/** @typedef {import("@stream-io/video-client").CallStatsReport} CallStatsReport */
/** @typedef {import("@stream-io/video-client").AggregatedStatsReport} AggregatedStatsReport */

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
  const audio = report.subscriberAudioStats;
  /** @type {(s: AggregatedStatsReport | undefined) => string | null} */
  const size = (s) => (s?.highestFrameWidth ? `${s.highestFrameWidth}×${s.highestFrameHeight}` : null);
  const received = (audio?.totalPacketsReceived ?? 0) + (audio?.totalPacketsLost ?? 0);
  const where = report.datacenter ? ` (${report.datacenter})` : "";
  return [
    {
      name: `Sending to Stream${where}`,
      rtt: pub?.averageRoundTripTimeInMs || null,
      up: pub && before ? kbps(pub.totalBytesSent, before.publisherStats?.totalBytesSent ?? 0) : null,
      down: null,
      resolution: size(pub),
      loss: null,
    },
    {
      name: `Receiving from Stream${where}`,
      rtt: sub?.averageRoundTripTimeInMs || null,
      up: null,
      down: sub && before ? kbps(sub.totalBytesReceived, before.subscriberStats?.totalBytesReceived ?? 0) : null,
      resolution: size(sub),
      loss: received > 0 ? (100 * audio.totalPacketsLost) / received : null,
    },
  ];
}
