// The video tiles and their arrangement. A person is {key, id, userId, name, image, audio,
// video, screen, hand, owner, local}; `key` is "local" for me and the peer id for others.
//
// The grid shows a page of tiles at a time (GRID_PAGE_SIZE, mine included, on every page),
// with previous/next buttons when there is more than one page. Tiles of other pages are
// hidden, so adapters that receive video only for what is on screen (the built-in media
// server's, Stream's) stop receiving theirs. Events: "arranged" after every arrangement (the
// tiles shown or their sizes may have changed), "page" {page, pages} when the person turns a
// page (page counts from 0).

import { iconElement } from "./icons.js";
import { initials } from "./media.js";

const REACTION_MS = 3000;

/**
 * Tiles on one grid page, mine included: the media server forwards video to at most 25
 * tiles (MAX_VIDEO_SLOTS in sfu.js), so a page never asks for more.
 */
export const GRID_PAGE_SIZE = 25;

/**
 * The tiles one grid page shows: {keys, page, pages}. `order` is every key, "local" (me) and
 * the others in a stable order (who came first); `featured` are keys to keep in view whatever
 * the page, most important first (a shared screen, the active speaker). My tile is on every
 * page, then the page's share of the others; someone featured from another page takes the
 * free places of the page, else the last ones, but never all of a page's own people, so
 * turning pages still shows everyone. `page` (from 0) is clamped to the pages there are, so a
 * page never ends up empty when people leave.
 */
export function gridPage(order, featured, size, page) {
  const pinned = order.filter((k) => k === "local");
  const others = order.filter((k) => k !== "local");
  const per = Math.max(1, size - pinned.length);
  const pages = Math.max(1, Math.ceil(others.length / per));
  const at = Math.min(Math.max(0, Math.trunc(page) || 0), pages - 1);
  const own = others.slice(at * per, (at + 1) * per);
  const shown = [...own];
  for (const key of featured) {
    if (!others.includes(key) || shown.includes(key)) continue;
    if (shown.length < per) {
      shown.push(key);
      continue;
    }
    // The last of the page's own people who is not featured gives way, if one stays.
    const stays = shown.filter((k) => own.includes(k));
    const out = stays.findLast((k) => !featured.includes(k));
    if (stays.length < 2 || out === undefined) continue;
    shown[shown.indexOf(out)] = key;
  }
  return { keys: [...pinned, ...shown], page: at, pages };
}

export class Stage extends EventTarget {
  constructor() {
    super();
    this.call = document.getElementById("call");
    this.spotlight = document.getElementById("spotlight");
    this.strip = document.getElementById("strip");
    this.tiles = new Map();
    this.sinkId = "";
    this.layout = null;
    this.page = 0;
    this.pages = 1;
    this.last = null; // the last arrange()'s arguments, to show another page with
    this.pager = document.getElementById("grid-pager");
    this.pageText = document.getElementById("grid-page");
    this.prevButton = document.getElementById("grid-prev");
    this.nextButton = document.getElementById("grid-next");
    this.prevButton?.addEventListener("click", () => this.turn(-1));
    this.nextButton?.addEventListener("click", () => this.turn(1));
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
    this.page = 0;
    this.last = null;
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

  /**
   * Tiles per grid page: GRID_PAGE_SIZE, or fewer when the call section says so in
   * data-grid-page-size (browser tests span pages with a handful of participants that way).
   */
  pageSize() {
    const wanted = Number(this.call?.dataset.gridPageSize);
    return Number.isInteger(wanted) && wanted >= 2 ? Math.min(wanted, GRID_PAGE_SIZE) : GRID_PAGE_SIZE;
  }

  /** Shows the grid page `step` pages on (±1), if there is one. */
  turn(step) {
    const page = this.page + step;
    if (!this.last || this.layout !== "grid" || page < 0 || page >= this.pages) return;
    this.page = page;
    this.arrange(...this.last);
    this.dispatchEvent(new CustomEvent("page", { detail: { page: this.page, pages: this.pages } }));
  }

  renderPager() {
    if (!this.pager) return;
    this.pager.hidden = !(this.layout === "grid" && this.pages > 1);
    this.pageText.textContent = `Page ${this.page + 1} of ${this.pages}`;
    // aria-disabled rather than disabled: the focus stays on a button that reaches the end.
    this.prevButton.setAttribute("aria-disabled", String(this.page === 0));
    this.nextButton.setAttribute("aria-disabled", String(this.page >= this.pages - 1));
  }

  /** Picks the column count that gives the biggest 16:9 tiles in the space there is. */
  fitGrid() {
    const n = Math.max([...this.strip.children].filter((t) => !t.hidden).length, 1);
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
   * the key of the tile to show big in the speaker layouts; `order` every key, "local" first;
   * `featured` who the grid keeps in view on every page (see gridPage).
   */
  arrange(layout, spotlight, order, featured = []) {
    this.last = [layout, spotlight, order, featured];
    this.layout = layout;
    const big = layout === "grid" ? null : this.tiles.get(spotlight) ?? null;
    this.spotlight.hidden = !big;
    if (big && big.parentElement !== this.spotlight) this.spotlight.replaceChildren(big);
    const all = order.map((k) => this.tiles.get(k)).filter((t) => t && t !== big);
    let shown = all;
    if (layout === "grid") {
      const view = gridPage(order.filter((k) => this.tiles.has(k)), featured, this.pageSize(), this.page);
      this.page = view.page;
      this.pages = view.pages;
      shown = view.keys.map((k) => this.tiles.get(k));
    }
    // The page's tiles first, in their order; the other pages' after them, hidden.
    const rest = [...shown, ...all.filter((t) => !shown.includes(t))];
    rest.forEach((tile, i) => {
      if (this.strip.children[i] !== tile) this.strip.insertBefore(tile, this.strip.children[i] ?? null);
      tile.hidden = i >= shown.length;
    });
    if (big) big.hidden = false;
    for (const [, tile] of this.tiles) tile.classList.toggle("spotlit", tile === big);
    this.strip.dataset.count = String(shown.length);
    this.renderPager();
    if (layout === "grid") this.fitGrid();
    // Moving a playing <video> in the DOM can pause it in some browsers.
    for (const tile of this.tiles.values()) {
      const video = tile.querySelector("video");
      if (video.srcObject && video.paused) video.play().catch(() => {});
    }
    this.dispatchEvent(new Event("arranged"));
  }
}
