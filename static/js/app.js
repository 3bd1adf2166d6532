// Yoom page behaviour: toasts, the modal dialog, copy buttons, local times and the home clock.
// Loaded as a module on every page; no inline script anywhere (the CSP forbids it).

const TOAST_LIFETIME_MS = 4000;

/** Shows a toast; only the newest stays, like the original app's. */
export function showToast(message, { error = false } = {}) {
  const area = document.getElementById("toasts");
  if (!area) return;
  const toast = document.createElement("div");
  toast.className = error ? "toast toast-error" : "toast";
  toast.setAttribute("role", error ? "alert" : "status");
  toast.dataset.toast = "";
  toast.textContent = message;
  area.append(toast);
  settleToasts(area);
}

function settleToasts(area) {
  const toasts = [...area.querySelectorAll("[data-toast]")];
  toasts.slice(0, -1).forEach((t) => t.remove());
  const last = toasts.at(-1);
  if (last && !last.dataset.timer) {
    last.dataset.timer = "1";
    setTimeout(() => last.remove(), TOAST_LIFETIME_MS);
  }
}

// Toasts the server appends (errors) and ones it asks for with HX-Trigger: {"toast": "..."}.
new MutationObserver(() => {
  const area = document.getElementById("toasts");
  if (area) settleToasts(area);
}).observe(document.documentElement, { childList: true, subtree: true });

document.body.addEventListener("toast", (e) => {
  const detail = e.detail ?? {};
  showToast(detail.value ?? detail.message ?? String(detail), { error: !!detail.error });
});

document.body.addEventListener("htmx:sendError", () => {
  showToast("Could not reach Yoom. Check your connection and try again.", { error: true });
});

// ---- Local times ---------------------------------------------------------------------------

const formats = {
  time: { hour: "numeric", minute: "2-digit" },
  date: { weekday: "long", year: "numeric", month: "long", day: "numeric" },
  datetime: { year: "numeric", month: "long", day: "numeric", hour: "numeric", minute: "2-digit" },
  short: { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" },
};

/** Renders every <time datetime data-format> below `root` in the viewer's time zone. */
export function localizeTimes(root = document) {
  root.querySelectorAll("time[datetime][data-format]").forEach((el) => {
    const when = new Date(el.getAttribute("datetime"));
    if (Number.isNaN(when.getTime())) return;
    let format = formats[el.dataset.format] ?? formats.datetime;
    if (el.dataset.format === "smart") {
      // Today: just the time. Another day: the date too.
      format = when.toDateString() === new Date().toDateString() ? formats.time : formats.short;
    }
    el.textContent = new Intl.DateTimeFormat(undefined, format).format(when);
    el.title = when.toString();
  });
}

function startClocks() {
  const clocks = document.querySelectorAll("[data-clock]");
  if (!clocks.length) return;
  const tick = () => {
    const now = new Date();
    clocks.forEach((el) => {
      const format = formats[el.dataset.clock] ?? formats.time;
      const text = new Intl.DateTimeFormat(undefined, format).format(now);
      if (el.textContent !== text) el.textContent = text;
      el.setAttribute("datetime", now.toISOString());
    });
  };
  tick();
  setInterval(tick, 1000);
}

// ---- Menus ---------------------------------------------------------------------------------

// <details data-dismissable> menus close on a click elsewhere and on Escape.
document.addEventListener("click", (e) => {
  document.querySelectorAll("details[data-dismissable][open]").forEach((d) => {
    if (!d.contains(e.target)) d.open = false;
  });
});
document.addEventListener("keydown", (e) => {
  if (e.key !== "Escape") return;
  document.querySelectorAll("details[data-dismissable][open]").forEach((d) => {
    d.open = false;
    d.querySelector("summary")?.focus();
  });
});

// ---- Modal ---------------------------------------------------------------------------------

function modal() {
  return document.getElementById("modal");
}

// What had the focus when the modal opened (the card or button that opened it): it gets the
// focus back when the modal closes, so a keyboard user continues where they were.
let modalOpener = null;

// htmx loads a modal's content into the <dialog>; open it once the content is in.
document.body.addEventListener("htmx:afterSwap", (e) => {
  const dialog = modal();
  if (dialog && e.detail.target === dialog && dialog.firstElementChild && !dialog.open) {
    modalOpener = document.activeElement;
    dialog.showModal();
    dialog.querySelector("[autofocus]")?.focus();
  }
});

// A modal dialog keeps Tab inside it: past the last control, Tab goes round to the first
// (and Shift+Tab from the first to the last) instead of out to the browser.
const FOCUSABLE = "a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), textarea:not([disabled]), [tabindex]:not([tabindex='-1'])";
document.addEventListener("keydown", (e) => {
  if (e.key !== "Tab") return;
  const dialog = [...document.querySelectorAll("dialog[open]")].pop();
  if (!dialog) return;
  const items = [...dialog.querySelectorAll(FOCUSABLE)].filter((el) => el.offsetParent !== null || el === document.activeElement);
  if (!items.length) return;
  const first = items[0];
  const last = items[items.length - 1];
  const inside = dialog.contains(document.activeElement);
  if (e.shiftKey && (document.activeElement === first || !inside)) {
    e.preventDefault();
    last.focus();
  } else if (!e.shiftKey && (document.activeElement === last || !inside)) {
    e.preventDefault();
    first.focus();
  }
});

document.addEventListener("click", (e) => {
  const close = e.target.closest("[data-close-modal]");
  if (close) modal()?.close();
  // A click on the backdrop lands on the dialog element itself.
  if (e.target === modal()) modal().close();
});

document.addEventListener("DOMContentLoaded", () => {
  // Empty the dialog when it closes, so the next opening starts fresh (no leftover form).
  modal()?.addEventListener("close", () => {
    modal().replaceChildren();
    if (modalOpener?.isConnected) modalOpener.focus();
    modalOpener = null;
  });
});

// ---- Copy buttons --------------------------------------------------------------------------

document.addEventListener("click", async (e) => {
  const button = e.target.closest("[data-copy]");
  if (!button) return;
  e.preventDefault();
  const text = button.dataset.copy;
  try {
    await navigator.clipboard.writeText(text);
    showToast(button.dataset.copied ?? "Link Copied");
  } catch {
    // No clipboard permission (or an insecure origin): show the text to copy by hand.
    window.prompt("Copy this link:", text);
  }
});

// ---- Schedule form: the viewer's time zone -------------------------------------------------

// The server needs the UTC offset of the chosen local time (not today's: DST may differ).
function syncOffset(form) {
  const input = form.querySelector("input[type=datetime-local]");
  const offset = form.querySelector("input[name=tz_offset]");
  if (!input || !offset) return;
  const local = input.value ? new Date(input.value) : new Date();
  offset.value = String((Number.isNaN(local.getTime()) ? new Date() : local).getTimezoneOffset());
}

document.addEventListener("input", (e) => {
  const form = e.target.closest?.("form[data-local-datetime]");
  if (form) syncOffset(form);
});

// Date pickers start at the next quarter hour, computed when the form appears (not at page load).
function primeDatePickers(root = document) {
  root.querySelectorAll("input[type=datetime-local][data-next-quarter]").forEach((input) => {
    if (input.value) return;
    const d = new Date(Date.now() + 15 * 60 * 1000);
    d.setMinutes(Math.ceil(d.getMinutes() / 15) * 15, 0, 0);
    const pad = (n) => String(n).padStart(2, "0");
    input.value = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}`;
    input.min = input.value.slice(0, 10) + "T00:00";
  });
  root.querySelectorAll("form[data-local-datetime]").forEach(syncOffset);
}

// ---- Wiring --------------------------------------------------------------------------------

function enhance(root) {
  localizeTimes(root);
  primeDatePickers(root);
}

document.body.addEventListener("htmx:load", (e) => enhance(e.detail.elt));
enhance(document);
startClocks();
