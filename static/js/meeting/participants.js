// The participants panel: everyone in the call, searchable by name.

import { iconElement } from "./icons.js";
import { initials } from "./media.js";

const fold = (s) => s.normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();

export class ParticipantsPanel {
  constructor() {
    this.panel = document.getElementById("participants");
    this.list = document.getElementById("participant-list");
    this.search = document.getElementById("participant-search");
    this.count = document.getElementById("participant-count");
    this.empty = document.getElementById("participant-empty");
    this.search.addEventListener("input", () => this.filter());
  }

  /** Redraws the list: me first, then raised hands, then everyone in order of arrival. */
  render(people) {
    const sorted = [...people].sort((a, b) => (b.local - a.local) || (b.hand - a.hand));
    this.list.replaceChildren(...sorted.map(item));
    this.count.textContent = String(people.length);
    this.filter();
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
}

function item(person) {
  const li = document.createElement("li");
  li.className = "participant";
  li.dataset.peerId = person.id ?? "";
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
  return li;
}

function tag(text, className) {
  const span = document.createElement("span");
  span.className = className;
  span.textContent = text;
  return span;
}

