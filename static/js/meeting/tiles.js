// The video tiles and their arrangement. A person is {key, id, userId, name, image, audio,
// video, screen, hand, owner, local}; `key` is "local" for me and the peer id for others.

import { iconElement } from "./icons.js";
import { initials } from "./media.js";

const REACTION_MS = 3000;

export class Stage {
  constructor() {
    this.spotlight = document.getElementById("spotlight");
    this.strip = document.getElementById("strip");
    this.tiles = new Map();
    this.sinkId = "";
    this.layout = null;
    // The grid's shape depends on the space it has, which changes with the window and panels.
    this.resizer = new ResizeObserver(() => this.layout === "grid" && this.fitGrid());
    this.resizer.observe(this.strip);
  }

  add(person) {
    if (this.tiles.has(person.key)) return this.update(person);
    const tile = document.createElement("div");
    tile.className = "tile";
    tile.setAttribute("role", "group");
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    if (person.local) {
      tile.classList.add("local");
      // My own voice must never come back to me.
      video.muted = true;
      video.setAttribute("muted", "");
    } else if (this.sinkId) {
      video.setSinkId?.(this.sinkId).catch(() => {});
    }
    const placeholder = document.createElement("div");
    placeholder.className = "tile-placeholder";
    placeholder.setAttribute("aria-hidden", "true");
    const avatar = document.createElement("span");
    avatar.className = "tile-avatar";
    placeholder.append(avatar);

    const hand = iconElement("hand", "Hand raised", "tile-hand");

    const footer = document.createElement("div");
    footer.className = "tile-footer";
    const mic = iconElement("micOff", "Microphone off", "tile-mic-off");
    const name = document.createElement("span");
    name.className = "tile-name";
    footer.append(mic, name);

    const reactions = document.createElement("div");
    reactions.className = "tile-reactions";
    tile.append(video, placeholder, hand, footer, reactions);
    this.tiles.set(person.key, tile);
    this.strip.append(tile);
    this.update(person);
    return tile;
  }

  update(person) {
    const tile = this.tiles.get(person.key);
    if (!tile) return;
    if (person.id) tile.dataset.peerId = person.id;
    if (person.userId) tile.dataset.userId = person.userId;
    const label = person.local ? `${person.name} (You)` : person.name;
    tile.querySelector(".tile-name").textContent = label;
    tile.setAttribute("aria-label", label);
    tile.dataset.audio = person.audio ? "on" : "off";
    tile.dataset.video = person.video || person.screen ? "on" : "off";
    tile.classList.toggle("screen", !!person.screen);
    tile.classList.toggle("hand", !!person.hand);
    const avatar = tile.querySelector(".tile-avatar");
    if (avatar.dataset.name !== person.name || avatar.dataset.image !== (person.image || "")) {
      avatar.dataset.name = person.name;
      avatar.dataset.image = person.image || "";
      avatar.textContent = initials(person.name);
      if (person.image) {
        const img = new Image();
        img.alt = "";
        img.src = person.image;
        // A broken picture falls back to the initials already there.
        img.addEventListener("load", () => avatar.replaceChildren(img), { once: true });
      }
    }
  }

  remove(key) {
    const tile = this.tiles.get(key);
    if (!tile) return;
    const video = tile.querySelector("video");
    video.srcObject = null;
    tile.remove();
    this.tiles.delete(key);
  }

  clear() {
    for (const key of [...this.tiles.keys()]) this.remove(key);
  }

  /** The <video> of a tile, for adapters that bind remote video themselves. */
  videoOf(key) {
    return this.tiles.get(key)?.querySelector("video") ?? null;
  }

  setStream(key, stream) {
    const video = this.tiles.get(key)?.querySelector("video");
    if (!video || video.srcObject === stream) return;
    video.srcObject = stream;
    if (stream) video.play().catch(() => {});
  }

  setSinkId(sinkId) {
    this.sinkId = sinkId || "";
    for (const tile of this.tiles.values()) {
      if (!tile.classList.contains("local")) tile.querySelector("video").setSinkId?.(this.sinkId).catch(() => {});
    }
  }

  setSpeaking(key) {
    for (const [k, tile] of this.tiles) tile.classList.toggle("speaking", k === key);
  }

  react(key, emoji) {
    const box = this.tiles.get(key)?.querySelector(".tile-reactions");
    if (!box) return;
    const bubble = document.createElement("span");
    bubble.className = "reaction";
    bubble.textContent = emoji;
    // Spread simultaneous reactions so they don't stack exactly on top of each other.
    bubble.style.setProperty("--drift", `${Math.round(Math.random() * 60 - 30)}px`);
    box.append(bubble);
    while (box.children.length > 8) box.firstElementChild.remove();
    setTimeout(() => bubble.remove(), REACTION_MS);
  }

  /** Picks the column count that gives the biggest 16:9 tiles in the space there is. */
  fitGrid() {
    const n = Math.max(this.tiles.size, 1);
    const width = this.strip.clientWidth || 1;
    const height = this.strip.clientHeight || 1;
    let best = 1;
    let bestSize = 0;
    for (let cols = 1; cols <= n; cols++) {
      const size = Math.min(width / cols, (height / Math.ceil(n / cols)) * (16 / 9));
      if (size > bestSize + 0.5) {
        bestSize = size;
        best = cols;
      }
    }
    this.strip.style.setProperty("--cols", String(best));
    this.strip.style.setProperty("--rows", String(Math.ceil(n / best)));
  }

  /**
   * Places the tiles for `layout` ("grid" | "speaker-left" | "speaker-right"); `spotlight` is
   * the key of the tile to show big in the speaker layouts.
   */
  arrange(layout, spotlight, order) {
    const big = layout === "grid" ? null : this.tiles.get(spotlight) ?? null;
    this.spotlight.hidden = !big;
    if (big && big.parentElement !== this.spotlight) this.spotlight.replaceChildren(big);
    const rest = order.map((k) => this.tiles.get(k)).filter((t) => t && t !== big);
    rest.forEach((tile, i) => {
      if (this.strip.children[i] !== tile) this.strip.insertBefore(tile, this.strip.children[i] ?? null);
    });
    for (const [, tile] of this.tiles) tile.classList.toggle("spotlit", tile === big);
    this.layout = layout;
    this.strip.dataset.count = String(rest.length);
    if (layout === "grid") this.fitGrid();
    // Moving a playing <video> in the DOM can pause it in some browsers.
    for (const tile of this.tiles.values()) {
      const video = tile.querySelector("video");
      if (video.srcObject && video.paused) video.play().catch(() => {});
    }
  }
}
