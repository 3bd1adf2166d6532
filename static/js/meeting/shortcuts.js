// Keyboard shortcuts in the call, and the dialog that lists them ("?"). Alt+letter shortcuts
// go by key position (event.code), so they work on any keyboard layout; none fires while
// someone types in a field.

const $ = (id) => document.getElementById(id);

/** Alt + key → the control it presses. The dialog's list is built from this table. */
export const SHORTCUTS = [
  { code: "KeyA", keys: "Alt+A", control: "toggle-mic", what: "Microphone on or off" },
  { code: "KeyV", keys: "Alt+V", control: "toggle-camera", what: "Camera on or off" },
  { code: "KeyS", keys: "Alt+S", control: "toggle-screen", what: "Share your screen, or stop" },
  { code: "KeyY", keys: "Alt+Y", control: "raise-hand", what: "Raise or lower your hand" },
  { code: "KeyU", keys: "Alt+U", control: "toggle-participants", what: "Participants panel" },
  { code: "KeyH", keys: "Alt+H", control: "toggle-chat", what: "Chat panel" },
];

const typing = (target) => !!target.closest?.("input, textarea, select, [contenteditable='true']");

/**
 * Listens for the shortcuts while `active()` (in the call). Opens the help dialog with "?" or
 * its button; the dialog is modal (focus stays in it) and gives focus back when it closes.
 */
export function bindShortcuts({ active }) {
  const dialog = $("shortcuts");
  const list = $("shortcut-list");
  let opener = null;

  for (const s of SHORTCUTS) {
    if (!$(s.control)) continue;
    const row = document.createElement("div");
    const key = document.createElement("dt");
    const kbd = document.createElement("kbd");
    kbd.textContent = s.keys;
    key.append(kbd);
    const what = document.createElement("dd");
    what.textContent = s.what;
    row.append(key, what);
    list.append(row);
  }

  function openHelp() {
    if (dialog.open) return;
    opener = document.activeElement;
    dialog.showModal();
  }
  dialog.addEventListener("close", () => {
    if (opener?.isConnected) opener.focus();
    opener = null;
  });
  $("shortcuts-button").addEventListener("click", openHelp);
  dialog.querySelector("[data-close-dialog]").addEventListener("click", () => dialog.close());
  // A click on the backdrop lands on the dialog itself.
  dialog.addEventListener("click", (e) => e.target === dialog && dialog.close());

  document.addEventListener("keydown", (e) => {
    if (!active() || e.ctrlKey || e.metaKey || e.repeat || typing(e.target)) return;
    if (e.key === "?" && !e.altKey) {
      e.preventDefault();
      openHelp();
      return;
    }
    if (!e.altKey || dialog.open) return;
    const shortcut = SHORTCUTS.find((s) => s.code === e.code);
    const button = shortcut && $(shortcut.control);
    if (!button || button.closest("[hidden]")) return;
    e.preventDefault();
    if (!button.disabled) button.click();
  });
}
