// The host's side of the room: who waits to be let in (a toast when someone knocks, with a
// chime the first time, and a "Waiting" section in the participants panel), who was removed
// (with "Allow back"), the lock and the waiting room, "Mute all" and "Lower all hands". Every
// decision goes to the room through the adapter; the room checks it is the host's and answers
// with the new state, which is what this shows.

import { actionButton } from "./participants.js";
import { initials } from "./media.js";
import { $, announce, call, toast } from "./call-context.js";

const OUT_OF_REACH = "Not connected to the meeting. Try again in a moment.";

export class HostControls {
  constructor() {
    this.waiting = [];
    this.chimed = false;
    this.knockHidden = false;
    this.lock = $("lock-meeting");
    this.waitingRoom = $("waiting-room-switch");
    this.lock.addEventListener("change", () => this.ask((a) => a.setLocked(this.lock.checked), () => (this.lock.checked = !this.lock.checked)));
    this.waitingRoom.addEventListener("change", () =>
      this.ask((a) => a.setWaitingRoom(this.waitingRoom.checked), () => (this.waitingRoom.checked = !this.waitingRoom.checked)),
    );
    $("mute-all").addEventListener("click", () => this.ask((a) => a.muteAll()) && toast("Everyone else was asked to mute."));
    $("lower-hands").addEventListener("click", () => this.ask((a) => a.lowerHands()) && announce("All hands lowered"));
    $("admit-all").addEventListener("click", () => this.ask((a) => a.admitAll()));
    $("knock-admit-all").addEventListener("click", () => this.ask((a) => a.admitAll()));
    $("knock-admit").addEventListener("click", (e) => this.ask((a) => a.admit(e.currentTarget.dataset.id)));
    $("knock-deny").addEventListener("click", (e) => this.ask((a) => a.deny(e.currentTarget.dataset.id)));
    $("knock-close").addEventListener("click", () => {
      this.knockHidden = true;
      this.renderKnock();
      $("toggle-participants").focus();
    });
    $("waiting-list").addEventListener("click", (e) => {
      const button = e.target.closest?.("button[data-action]");
      if (!button) return;
      const id = button.dataset.id;
      this.ask((a) => (button.dataset.action === "admit" ? a.admit(id) : a.deny(id)));
    });
    $("removed-list").addEventListener("click", (e) => {
      const button = e.target.closest?.("button[data-action='allow-back']");
      if (button) this.ask((a) => a.allowBack(button.dataset.userId));
    });
  }

  /** Runs a request on the adapter; false (and says so, and undoes `revert`) when it cannot go. */
  ask(request, revert = () => {}) {
    const sent = !!call.adapter && request(call.adapter);
    if (!sent) {
      revert();
      toast(OUT_OF_REACH, { error: true });
    }
    return sent;
  }

  setRoomState({ locked, waitingRoom }) {
    this.lock.checked = locked;
    this.waitingRoom.checked = waitingRoom;
  }

  // ---- The waiting room ---------------------------------------------------------------------

  /** Someone knocked: the toast comes back, the first knock chimes, and it is announced. */
  knock(person) {
    // Turned away a moment ago and knocking again: listed, but no toast and no announcement.
    if (person.quiet) return;
    this.knockHidden = false;
    if (!this.chimed) {
      this.chimed = true;
      chime();
    }
    announce(`${person.name} is waiting to join`);
  }

  setWaiting(people) {
    const focused = document.activeElement?.closest?.("#waiting-list, #knock") ? document.activeElement : null;
    this.waiting = people;
    $("waiting-count").textContent = String(people.length);
    $("waiting-section").hidden = people.length === 0;
    $("admit-all").hidden = people.length < 2;
    $("waiting-list").replaceChildren(...people.map(waitingItem));
    if (people.length && !this.chimed) {
      this.chimed = true;
      chime();
    }
    this.renderKnock();
    // The button pressed may have gone with the person it was for: stay near.
    if (focused && (!focused.isConnected || focused.closest("[hidden]"))) {
      const inList = !focused.isConnected;
      const same = [...$("waiting-list").querySelectorAll("button")].find(
        (b) => b.dataset.id === focused.dataset.id && b.dataset.action === focused.dataset.action,
      );
      const next = inList ? same ?? $("waiting-list").querySelector("button") : $("knock").hidden ? null : $("knock-admit");
      (next ?? (inList ? $("participant-search") : $("toggle-participants"))).focus();
    }
  }

  /** The toast shows whoever knocked last, and how many more wait. */
  renderKnock() {
    const last = this.waiting.filter((p) => !p.quiet).at(-1);
    $("knock").hidden = !last || this.knockHidden;
    if (!last) return;
    const others = this.waiting.length - 1;
    $("knock-text").textContent =
      others === 0
        ? `${last.name} wants to join`
        : `${last.name} and ${others} ${others === 1 ? "other" : "others"} want to join`;
    $("knock-avatar").replaceChildren(avatar(last));
    for (const id of ["knock-admit", "knock-deny"]) $(id).dataset.id = last.id;
    $("knock-admit-who").textContent = ` ${last.name}`;
    $("knock-deny-who").textContent = ` ${last.name}`;
    $("knock-admit-all").hidden = others === 0;
  }

  setRemoved(people) {
    $("removed-section").hidden = people.length === 0;
    $("removed-list").replaceChildren(
      ...people.map((p) => {
        const li = document.createElement("li");
        li.className = "participant";
        li.dataset.userId = p.userId;
        const name = document.createElement("span");
        name.className = "participant-name participant-label";
        name.textContent = p.name;
        li.append(name, actionButton("allow-back", "Allow back", p));
        return li;
      }),
    );
  }

  /** In the call now: a queue that was there before I came is news. */
  entered() {
    const n = this.waiting.length;
    if (n) announce(n === 1 ? `${this.waiting[0].name} is waiting to join` : `${n} people are waiting to join`);
  }

  reset() {
    this.waiting = [];
    $("knock").hidden = true;
  }

  // ---- Everyone in the call -----------------------------------------------------------------

  /** Asks one person (every window of theirs) to mute. */
  mute(person) {
    if (this.ask((a) => a.mute(person.userId))) announce(`${person.name} was asked to mute`);
  }

  /** Removes someone, once the host confirms: they cannot come back until allowed. */
  remove(person) {
    const sure = window.confirm(`Remove ${person.name} from the meeting? They cannot come back unless you allow them back.`);
    if (sure && this.ask((a) => a.remove(person.userId))) announce(`${person.name} was removed`);
  }
}

function waitingItem(person) {
  const li = document.createElement("li");
  li.className = "participant";
  li.dataset.id = person.id;
  const label = document.createElement("span");
  label.className = "participant-label";
  const name = document.createElement("span");
  name.className = "participant-name";
  name.textContent = person.name;
  label.append(name);
  const actions = document.createElement("span");
  actions.className = "participant-actions";
  actions.append(actionButton("admit", "Admit", person, "button button-small button-green"), actionButton("deny", "Deny", person));
  li.append(avatar(person, "participant-avatar"), label, actions);
  return li;
}

/** A person's picture, or their initials when they have none (or it does not load). */
function avatar(person, className = "") {
  const span = document.createElement("span");
  span.className = className;
  span.setAttribute("aria-hidden", "true");
  span.textContent = initials(person.name);
  if (person.image) {
    const img = new Image();
    img.alt = "";
    img.src = person.image;
    img.addEventListener("load", () => span.replaceChildren(img), { once: true });
  }
  return span;
}

/** A short two-note chime, made on the spot (no sound file). */
function chime() {
  try {
    const ctx = new AudioContext();
    const start = ctx.currentTime + 0.02;
    [660, 880].forEach((frequency, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      const at = start + i * 0.16;
      osc.type = "sine";
      osc.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.18, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.28);
      osc.connect(gain).connect(ctx.destination);
      osc.start(at);
      osc.stop(at + 0.3);
    });
    setTimeout(() => ctx.close().catch(() => {}), 1000);
    document.body.dataset.knockChime = "played";
  } catch {
    // No audio here: the toast and the announcement still say it.
  }
}
