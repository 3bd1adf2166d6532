// The participants panel: everyone in the call, searchable by name. The host also gets Mute
// and Remove beside everyone else (the waiting and removed lists are host-controls.js's).

import { iconElement } from "./icons.js";
import { initials } from "./media.js";

const fold = (s) => s.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();

export class ParticipantsPanel {
  /**
   * @param {{ host?: boolean, onMute?: (person) => void, onRemove?: (person) => void }} options
   */
  constructor({ host = false, onMute = () => {}, onRemove = () => {} } = {}) {
    this.host = host;
    this.panel = document.getElementById("participants");
    this.list = document.getElementById("participant-list");
    this.search = document.getElementById("participant-search");
    this.count = document.getElementById("participant-count");
    this.empty = document.getElementById("participant-empty");
    this.people = new Map(); // userId → person, for the host's buttons
    this.search.addEventListener("input", () => this.filter());
    this.list.addEventListener("click", (e) => {
      const button = e.target.closest?.("button[data-action]");
      const person = button && this.people.get(button.dataset.userId);
      if (!person) return;
      if (button.dataset.action === "mute") onMute(person);
      else if (button.dataset.action === "remove") onRemove(person);
    });
  }

  /** Redraws the list: me first, then raised hands, then everyone in order of arrival. */
  render(people) {
    const sorted = [...people].sort((a, b) => (b.local - a.local) || (b.hand - a.hand));
    // Redrawing must not throw the keyboard focus out of the list: it goes back to the same
    // button, or the next one of that person's, or their row.
    const focused = document.activeElement?.closest?.("#participant-list button[data-action]");
    const keep = focused && { userId: focused.dataset.userId, action: focused.dataset.action };
    this.people = new Map(sorted.filter((p) => !p.local && p.userId).map((p) => [p.userId, p]));
    this.list.replaceChildren(...sorted.map((p) => this.item(p)));
    this.count.textContent = String(people.length);
    this.filter();
    if (keep) {
      const row = [...this.list.children].find((li) => li.dataset.userId === keep.userId);
      const buttons = row ? [...row.querySelectorAll("button[data-action]")] : [];
      const target = buttons.find((b) => b.dataset.action === keep.action) ?? buttons[0] ?? null;
      if (target) target.focus();
      else this.search.focus();
    }
  }

  filter() {
    const query = fold(this.search.value.trim());
    let shown = 0;
    for (const li of this.list.children) {
      const match = !query || fold(li.dataset.name).includes(query);
      li.hidden = !match;
      shown += match ? 1 : 0;
    }
    this.empty.hidden = shown > 0;
  }

  item(person) {
    const li = document.createElement("li");
    li.className = "participant";
    li.dataset.peerId = person.id ?? "";
    li.dataset.userId = person.userId ?? "";
    li.dataset.name = person.name;
    if (person.local) li.classList.add("local");

    const avatar = document.createElement("span");
    avatar.className = "participant-avatar";
    avatar.setAttribute("aria-hidden", "true");
    avatar.textContent = initials(person.name);

    const label = document.createElement("span");
    label.className = "participant-label";
    label.append(tag(person.name, "participant-name"));
    if (person.local) label.append(tag("(You)", "you"));
    if (person.owner) label.append(tag("Host", "host-badge"));

    const state = document.createElement("span");
    state.className = "participant-state";
    const camera = person.video || person.screen;
    if (person.hand) state.append(iconElement("hand", "Hand raised", "state-icon hand"));
    if (person.screen) state.append(iconElement("screen", "Sharing screen", "state-icon on"));
    state.append(
      iconElement(person.audio ? "mic" : "micOff", person.audio ? "Microphone on" : "Microphone off", `state-icon ${person.audio ? "on" : "off"}`),
      iconElement(camera ? "camera" : "cameraOff", camera ? "Camera on" : "Camera off", `state-icon ${camera ? "on" : "off"}`),
    );
    li.append(avatar, label, state);
    if (this.host && !person.local && !person.owner && person.userId) {
      const actions = document.createElement("span");
      actions.className = "participant-actions";
      if (person.audio) actions.append(actionButton("mute", "Mute", person));
      actions.append(actionButton("remove", "Remove", person));
      li.append(actions);
    }
    return li;
  }
}

/** A button whose name is its visible word and then whom it is for. */
export function actionButton(action, word, person, className = "button button-small") {
  const button = document.createElement("button");
  button.type = "button";
  button.className = className;
  button.dataset.action = action;
  button.dataset.userId = person.userId ?? "";
  if (person.id) button.dataset.id = person.id;
  button.append(word, tag(` ${person.name}`, "visually-hidden"));
  return button;
}

function tag(text, className) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}
