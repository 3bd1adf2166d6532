// The chat panel in the call: the meeting's messages (kept by the server, so a late joiner
// gets them all), a box to write in (Enter sends, Shift+Enter a new line), the unread count on
// its toggle, and for the host a Delete on every message. Text is only ever set as text; the
// one thing made of it is a link, for http(s) addresses.

const MAX_CHARS = 2000; // the server's limit, after trimming
const ANNOUNCE_CHARS = 120;
// Codes the room answers a chat message with; shown in place when they follow a send.
const CHAT_REFUSALS = new Set(["too_large", "rate_limited", "chat_full", "bad_message"]);
const REFUSAL_WINDOW_MS = 10000;
const URL_PATTERN = /https?:\/\/[^\s<>"]+/gi;

const $ = (id) => document.getElementById(id);
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });

export class ChatPanel {
  /**
   * @param {{ selfId: string, host: boolean, send: (text: string) => boolean,
   *   remove: (seq: number) => boolean, announce: (text: string) => void }} options
   */
  constructor({ selfId, host, send, remove, announce }) {
    Object.assign(this, { selfId, host, sendText: send, removeMessage: remove, announce });
    this.panel = $("chat");
    this.toggle = $("toggle-chat");
    this.badge = $("chat-unread");
    this.log = $("chat-log");
    this.empty = $("chat-empty");
    this.input = $("chat-input");
    this.error = $("chat-error");
    this.unread = 0;
    this.lastSeq = 0;
    this.seenHistory = false;
    this.lastSent = null; // {text, at}: what to give back if the room refuses it

    this.toggle.addEventListener("click", () => this.show(this.panel.hidden));
    $("close-chat").addEventListener("click", () => {
      this.show(false);
      this.toggle.focus();
    });
    this.panel.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      this.show(false);
      this.toggle.focus();
    });
    $("chat-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.submit();
    });
    this.input.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.submit();
      }
    });
    this.input.addEventListener("input", () => this.setError(null));
    this.log.addEventListener("click", (e) => {
      const button = e.target.closest?.(".chat-delete");
      if (button) this.confirmDelete(Number(button.closest(".chat-message").dataset.seq));
    });
  }

  get open() {
    return !this.panel.hidden;
  }

  show(open) {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-pressed", String(open));
    this.toggle.setAttribute("aria-expanded", String(open));
    this.toggle.title = open ? "Hide chat (Alt+H)" : "Show chat (Alt+H)";
    if (open) {
      this.setUnread(0);
      this.scrollToEnd();
      this.input.focus();
    }
  }

  setUnread(n) {
    this.unread = n;
    this.badge.hidden = n === 0;
    this.badge.textContent = n > 99 ? "99+" : String(n);
    this.toggle.setAttribute("aria-label", n === 0 ? "Chat" : `Chat, ${this.badge.textContent} unread`);
  }

  // ---- Messages ----------------------------------------------------------------------------

  /** The whole chat, from a (re)join's welcome; what came while I was away counts as unread. */
  setHistory(messages) {
    const fresh = this.seenHistory ? messages.filter((m) => m.seq > this.lastSeq && !this.mine(m) && !m.deleted) : [];
    this.log.replaceChildren(...messages.map((m) => this.item(m)));
    this.lastSeq = Math.max(this.lastSeq, ...messages.map((m) => m.seq));
    this.seenHistory = true;
    if (fresh.length && !this.open) this.setUnread(this.unread + fresh.length);
    this.empty.hidden = messages.length > 0;
    this.scrollToEnd();
  }

  add(message) {
    if (this.log.querySelector(`[data-seq="${Number(message.seq)}"]`)) return;
    const atEnd = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.log.append(this.item(message));
    this.lastSeq = Math.max(this.lastSeq, message.seq);
    this.empty.hidden = true;
    const mine = this.mine(message);
    // My message made it: a refusal that follows is about another one.
    if (mine && this.lastSent?.text.trim() === message.text) this.lastSent = null;
    if (atEnd || mine) this.scrollToEnd();
    if (mine) return;
    if (!this.open) this.setUnread(this.unread + 1);
    const text = message.text.replace(/\s+/g, " ").trim();
    const short = text.length > ANNOUNCE_CHARS ? `${text.slice(0, ANNOUNCE_CHARS - 1).trimEnd()}…` : text;
    this.announce(`Chat from ${message.name}: ${short}`);
  }

  markDeleted(seq) {
    const li = this.log.querySelector(`[data-seq="${Number(seq)}"]`);
    if (!li) return;
    const hadFocus = li.contains(document.activeElement);
    li.replaceWith(this.item({ ...this.messageOf(li), deleted: true, text: "" }));
    if (hadFocus) this.log.focus();
  }

  mine(message) {
    return !!message.userId && message.userId === this.selfId;
  }

  messageOf(li) {
    return { seq: Number(li.dataset.seq), userId: li.dataset.userId || null, name: li.dataset.name, at: Number(li.dataset.at) };
  }

  item(message) {
    const li = document.createElement("li");
    li.className = "chat-message";
    if (this.mine(message)) li.classList.add("mine");
    Object.assign(li.dataset, { seq: String(message.seq), userId: message.userId ?? "", name: message.name, at: String(message.at) });
    const when = new Date(message.at * 1000);
    const meta = document.createElement("p");
    meta.className = "chat-meta";
    const author = document.createElement("span");
    author.className = "chat-author";
    author.textContent = message.name;
    const time = document.createElement("time");
    time.dateTime = when.toISOString();
    time.textContent = timeFormat.format(when);
    time.title = when.toLocaleString();
    meta.append(author, " ", time);
    const body = document.createElement("p");
    body.className = "chat-text";
    if (message.deleted) {
      body.classList.add("chat-deleted");
      body.textContent = "Message deleted by the host";
    } else {
      body.append(...linkify(message.text));
    }
    li.append(meta, body);
    if (this.host && !message.deleted) {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chat-delete";
      button.append("Delete", hidden(` message from ${message.name} at ${time.textContent}`));
      li.append(button);
    }
    return li;
  }

  scrollToEnd() {
    this.log.scrollTop = this.log.scrollHeight;
  }

  confirmDelete(seq) {
    if (!Number.isFinite(seq) || !window.confirm("Delete this message for everyone?")) return;
    if (!this.removeMessage(seq)) this.setError("Not connected to the meeting. Try again in a moment.");
  }

  // ---- Writing ------------------------------------------------------------------------------

  submit() {
    const text = this.input.value;
    const trimmed = text.trim();
    if (!trimmed) return this.setError("Type a message first.");
    const length = [...trimmed].length;
    if (length > MAX_CHARS) {
      return this.setError(`A message can be at most ${MAX_CHARS.toLocaleString("en")} characters; this one has ${length.toLocaleString("en")}.`);
    }
    if (!this.sendText(text)) return this.setError("Not connected to the meeting. Try again in a moment.");
    this.lastSent = { text, at: Date.now() };
    this.input.value = "";
    this.setError(null);
  }

  /** A refusal from the room: true when it was about a message I just sent (shown here). */
  notice(code, message) {
    const sent = this.lastSent;
    if (!CHAT_REFUSALS.has(code) || !sent || Date.now() - sent.at > REFUSAL_WINDOW_MS) return false;
    this.lastSent = null;
    // Given back to edit or send again, unless something new was typed since.
    if (!this.input.value) this.input.value = sent.text;
    this.setError(message || "The message was not sent.");
    if (!this.open) this.show(true);
    this.announce(message);
    return true;
  }

  setError(text) {
    this.error.hidden = !text;
    this.error.textContent = text ?? "";
    if (text) this.input.setAttribute("aria-invalid", "true");
    else this.input.removeAttribute("aria-invalid");
  }

  reset() {
    this.show(false);
    this.setUnread(0);
  }
}

/** Text and links: every http(s) address becomes a link opening in a new tab, the rest text. */
export function linkify(text) {
  const parts = [];
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    let address = match[0];
    // Sentence punctuation after an address is not part of it; nor is a ")" it did not open.
    while (/[.,;:!?'"]$/.test(address) || (address.endsWith(")") && !address.includes("("))) {
      address = address.slice(0, -1);
    }
    let url;
    try {
      url = new URL(address);
    } catch {
      continue;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") continue;
    if (match.index > last) parts.push(text.slice(last, match.index));
    const a = document.createElement("a");
    a.href = url.href;
    a.textContent = address;
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    parts.push(a);
    last = match.index + address.length;
  }
  if (last < text.length) parts.push(text.slice(last));
  return parts;
}

function hidden(text) {
  const span = document.createElement("span");
  span.className = "visually-hidden";
  span.textContent = text;
  return span;
}
