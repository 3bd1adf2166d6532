// A hosted provider's recording of the call (Stream's cloud recording), as the record control
// sees it. Our server starts and stops it, after checking who may:
//
//   POST /meeting/{id}/recordings        → 202 {provider, state: "starting"}
//   POST /meeting/{id}/recordings/stop   → 202 {provider, state: "stopping"}
//
// and the provider's call state says when it really runs (it takes a few seconds).
//
//   const c = new CloudRecording({ meetingId, confirmMs })
//   await c.toggle(running)        asks to start (running false) or stop it; rejects with
//                                  Error{message} to show (the request failed: back to idle)
//   c.settle(active)               the call state changed → "stopped" when that confirms a stop
//                                  I asked for, else null
//   c.controlState(active, may)    "idle" | "starting" | "recording" | "stopping"
//   c.state ("idle" | "starting" | "stopping") · c.mine (I started the one running)
//   c.reset()                      left the call
//   events: change {}, timeout {stopping}: the provider did not confirm within confirmMs

const CONFIRM_MS = 20000;

export class CloudRecording extends EventTarget {
  constructor({ meetingId, confirmMs = CONFIRM_MS }) {
    super();
    this.meetingId = meetingId;
    this.confirmMs = confirmMs;
    this.state = "idle";
    this.mine = false;
    this.timer = null;
  }

  set(state) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("change", { detail: {} }));
  }

  async toggle(running) {
    if (this.state !== "idle") return;
    const stopping = !!running;
    const waiting = stopping ? "stopping" : "starting";
    this.set(waiting);
    const path = `/meeting/${encodeURIComponent(this.meetingId)}/recordings${stopping ? "/stop" : ""}`;
    let res, body;
    try {
      res = await fetch(path, { method: "POST", headers: { Accept: "application/json" } });
      body = await res.json().catch(() => null);
    } catch {
      if (this.state === waiting) this.set("idle");
      throw new Error("Could not reach Yoom. Check your connection and try again.");
    }
    if (!res.ok) {
      if (this.state === waiting) this.set("idle");
      throw new Error(
        body?.error?.message || (stopping ? "Could not stop the recording. Try again." : "Could not start recording. Try again."),
      );
    }
    if (!stopping) this.mine = true;
    // The call state may have confirmed it while the server answered; else wait for it.
    if (this.state !== waiting) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (this.state !== waiting) return;
      if (!stopping) this.mine = false;
      this.set("idle");
      this.dispatchEvent(new CustomEvent("timeout", { detail: { stopping } }));
    }, this.confirmMs);
  }

  settle(active) {
    const stopped = this.state === "stopping" && !active;
    if ((this.state === "starting" && active) || stopped) {
      clearTimeout(this.timer);
      this.set("idle");
    }
    if (!active && this.state !== "starting") this.mine = false;
    return stopped ? "stopped" : null;
  }

  controlState(active, may) {
    if (!may) return "idle";
    if (this.state !== "idle") return this.state;
    return active ? "recording" : "idle";
  }

  reset() {
    clearTimeout(this.timer);
    this.timer = null;
    this.mine = false;
    this.state = "idle";
  }
}
