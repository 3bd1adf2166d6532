// Call stats: per remote participant, from each peer connection's getStats() every 2 s, and
// only while the panel is open (getStats is not free). An adapter without peer connections of
// its own (Stream) hands over ready rows instead.

const REFRESH_MS = 2000;

export class StatsPanel {
  /**
   * `source()` → Map peerId → RTCPeerConnection; `nameOf(peerId)` → display name; `rows()` →
   * ready rows ({name, rtt, up, down, resolution, loss}) or null to measure `source()`.
   */
  constructor({ source, nameOf, rows = () => null }) {
    this.rows = rows;
    this.panel = document.getElementById("stats");
    this.body = document.getElementById("stats-body");
    this.empty = document.getElementById("stats-empty");
    this.source = source;
    this.nameOf = nameOf;
    this.previous = new Map(); // peerId → {at, sent, received}
    this.timer = null;
  }

  get open() {
    return !this.panel.hidden;
  }

  show() {
    this.panel.hidden = false;
    this.refresh();
    this.timer ??= setInterval(() => this.refresh(), REFRESH_MS);
  }

  hide() {
    this.panel.hidden = true;
    clearInterval(this.timer);
    this.timer = null;
    this.previous.clear();
  }

  async refresh() {
    const ready = this.rows();
    if (ready) {
      this.body.replaceChildren(...ready.map(row));
      this.empty.hidden = ready.length > 0;
      return;
    }
    const connections = [...(this.source()?.entries() ?? [])];
    const rows = await Promise.all(connections.map(([id, pc]) => this.measure(id, pc).catch(() => null)));
    if (!this.open) return;
    const present = new Set(connections.map(([id]) => id));
    for (const id of this.previous.keys()) if (!present.has(id)) this.previous.delete(id);
    this.body.replaceChildren(...rows.filter(Boolean).map(row));
    this.empty.hidden = rows.some(Boolean);
  }

  async measure(id, pc) {
    if (pc.connectionState === "closed") return null;
    const report = await pc.getStats();
    let rtt = null;
    let sent = 0;
    let received = 0;
    let lost = 0;
    let packets = 0;
    let resolution = null;
    let pairId = null;
    report.forEach((s) => {
      if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    report.forEach((s) => {
      if (s.type === "candidate-pair") {
        const chosen = pairId ? s.id === pairId : s.nominated && s.state === "succeeded";
        if (chosen && s.currentRoundTripTime != null) rtt = s.currentRoundTripTime * 1000;
      } else if (s.type === "outbound-rtp") {
        sent += s.bytesSent || 0;
      } else if (s.type === "inbound-rtp") {
        received += s.bytesReceived || 0;
        lost += Math.max(0, s.packetsLost || 0);
        packets += s.packetsReceived || 0;
        if (s.kind === "video" && s.frameWidth) resolution = `${s.frameWidth}×${s.frameHeight}`;
      }
    });
    const now = performance.now();
    const before = this.previous.get(id);
    this.previous.set(id, { at: now, sent, received });
    const kbps = (bytes, earlier) =>
      before && now > before.at ? Math.max(0, ((bytes - earlier) * 8) / (now - before.at)) : null;
    return {
      name: this.nameOf(id),
      rtt,
      up: kbps(sent, before?.sent),
      down: kbps(received, before?.received),
      resolution,
      loss: lost + packets > 0 ? (100 * lost) / (lost + packets) : null,
    };
  }
}

function row(stats) {
  const tr = document.createElement("tr");
  const th = document.createElement("th");
  th.scope = "row";
  th.textContent = stats.name;
  const dash = "—";
  const cells = [
    stats.rtt == null ? dash : String(Math.round(stats.rtt)),
    stats.up == null ? dash : String(Math.round(stats.up)),
    stats.down == null ? dash : String(Math.round(stats.down)),
    stats.resolution ?? dash,
    stats.loss == null ? dash : stats.loss.toFixed(1),
  ].map((text) => {
    const td = document.createElement("td");
    td.textContent = text;
    return td;
  });
  tr.append(th, ...cells);
  return tr;
}
