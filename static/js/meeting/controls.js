// The controls bar: buttons, the reactions menu, the side panels and the layout picker (its
// keyboard shortcuts are in shortcuts.js). It only reports intents; room.js decides what they do.

import { bindShortcuts } from "./shortcuts.js";

const $ = (id) => document.getElementById(id);
const LAYOUTS = ["grid", "speaker-left", "speaker-right"];
const LAYOUT_KEY = "yoom.layout";

function setToggle(button, pressed, title, disabled = false) {
  button.setAttribute("aria-pressed", String(pressed));
  button.title = title;
  button.disabled = disabled;
}

export function bindControls(h) {
  const call = $("call");
  const menu = $("reactions-menu");
  const reactionsButton = $("reactions-button");
  const layout = $("layout-select");
  const participants = $("participants");
  const participantsButton = $("toggle-participants");
  const statsButton = $("toggle-stats");

  $("toggle-mic").addEventListener("click", h.toggleMic);
  $("toggle-camera").addEventListener("click", h.toggleCamera);
  $("toggle-screen").addEventListener("click", h.toggleScreen);
  $("raise-hand").addEventListener("click", (e) => h.setHand(e.currentTarget.getAttribute("aria-pressed") !== "true"));
  $("leave-button").addEventListener("click", h.leave);
  $("end-for-everyone")?.addEventListener("click", h.endForEveryone);
  $("toggle-record").addEventListener("click", h.toggleRecording);

  // ---- Recording options (the host only): "Let everyone record" -------------------------
  const recordMenu = $("record-menu");
  const recordOptions = $("record-options");
  const allowRecording = $("allow-recording");
  function openRecordMenu(open) {
    if (!recordMenu) return;
    recordMenu.hidden = !open;
    recordOptions.setAttribute("aria-expanded", String(open));
    if (open) allowRecording.focus();
  }
  recordOptions?.addEventListener("click", () => openRecordMenu(recordMenu.hidden));
  recordMenu?.addEventListener("keydown", (e) => {
    if (e.key !== "Escape") return;
    openRecordMenu(false);
    recordOptions.focus();
  });
  allowRecording?.addEventListener("change", () => h.setRecordingAllowed(allowRecording.checked));

  // ---- Reactions menu ---------------------------------------------------------------------
  const choices = () => [...menu.querySelectorAll(".reaction-choice")];
  function openMenu(open) {
    menu.hidden = !open;
    reactionsButton.setAttribute("aria-expanded", String(open));
    if (open) choices()[0]?.focus();
  }
  reactionsButton.addEventListener("click", () => openMenu(menu.hidden));
  menu.addEventListener("click", (e) => {
    const choice = e.target.closest(".reaction-choice");
    if (!choice) return;
    h.react(choice.dataset.emoji);
    openMenu(false);
    reactionsButton.focus();
  });
  menu.addEventListener("keydown", (e) => {
    const list = choices();
    const i = list.indexOf(document.activeElement);
    const moves = { ArrowRight: i + 1, ArrowDown: i + 1, ArrowLeft: i - 1, ArrowUp: i - 1, Home: 0, End: list.length - 1 };
    if (e.key in moves) {
      e.preventDefault();
      list[(moves[e.key] + list.length) % list.length].focus();
    } else if (e.key === "Escape") {
      openMenu(false);
      reactionsButton.focus();
    }
  });
  document.addEventListener("click", (e) => {
    if (!menu.hidden && !menu.contains(e.target) && !reactionsButton.contains(e.target)) openMenu(false);
    if (recordMenu && !recordMenu.hidden && !recordMenu.contains(e.target) && !recordOptions.contains(e.target)) {
      openRecordMenu(false);
    }
  });

  // ---- Layout -----------------------------------------------------------------------------
  let saved = null;
  try {
    saved = localStorage.getItem(LAYOUT_KEY);
  } catch {
    // No storage: the default layout.
  }
  if (LAYOUTS.includes(saved)) {
    layout.value = saved;
    call.dataset.layout = saved;
  }
  layout.addEventListener("change", () => {
    if (!LAYOUTS.includes(layout.value)) return;
    call.dataset.layout = layout.value;
    try {
      localStorage.setItem(LAYOUT_KEY, layout.value);
    } catch {
      // Not remembered; still applied.
    }
    h.setLayout(layout.value);
  });

  // ---- Side panels ------------------------------------------------------------------------
  function showParticipants(open) {
    participants.hidden = !open;
    participantsButton.setAttribute("aria-pressed", String(open));
    participantsButton.setAttribute("aria-expanded", String(open));
    if (open) $("participant-search").focus();
  }
  function showStats(open) {
    if (open) h.stats.show();
    else h.stats.hide();
    statsButton.setAttribute("aria-pressed", String(open));
    statsButton.setAttribute("aria-expanded", String(open));
  }
  participantsButton.addEventListener("click", () => showParticipants(participants.hidden));
  $("close-participants").addEventListener("click", () => {
    showParticipants(false);
    participantsButton.focus();
  });
  statsButton.addEventListener("click", () => showStats(!h.stats.open));
  $("close-stats").addEventListener("click", () => {
    showStats(false);
    statsButton.focus();
  });
  for (const panel of [participants, $("stats")]) {
    panel.addEventListener("keydown", (e) => {
      if (e.key !== "Escape") return;
      if (panel === participants) showParticipants(false);
      else showStats(false);
      (panel === participants ? participantsButton : statsButton).focus();
    });
  }

  bindShortcuts({ active: h.active });

  return {
    update(s) {
      const mic = $("toggle-mic");
      const camera = $("toggle-camera");
      const micBlocked = !s.hasTrack.audio && s.unavailable.audio;
      const cameraBlocked = !s.hasTrack.video && s.unavailable.video;
      setToggle(mic, s.audio, micBlocked || `Turn ${s.audio ? "off" : "on"} microphone (Alt+A)`, !!micBlocked);
      setToggle(camera, s.video, cameraBlocked || `Turn ${s.video ? "off" : "on"} camera (Alt+V)`, !!cameraBlocked);
      setToggle(
        $("toggle-screen"),
        s.sharing,
        s.canShare ? (s.sharing ? "Stop sharing your screen (Alt+S)" : "Share your screen (Alt+S)") : "Screen sharing is not available in this browser",
        !s.canShare,
      );
      setToggle($("raise-hand"), s.hand, s.hand ? "Lower your hand (Alt+Y)" : "Raise your hand (Alt+Y)");
    },
    /**
     * The record button and the host's option. `state`: my recorder's ("idle" | "starting" |
     * "recording" | "stopping"); `canRecord`: may I start one; `allowed`: does the host let
     * everyone; `permissionBusy`: that choice is being saved.
     */
    updateRecording({ state, canRecord, allowed, permissionBusy = false, othersRecording = false }) {
      const button = $("toggle-record");
      const mine = state !== "idle";
      const on = state === "recording" || state === "stopping";
      // Someone who may no longer start one can still stop their own.
      $("record-control").hidden = !(canRecord || mine);
      button.setAttribute("aria-pressed", String(on));
      button.setAttribute("aria-label", on ? "Stop recording" : "Record");
      // Busy rather than disabled, so the focus stays on the button just pressed; room.js
      // ignores presses until it settles.
      const settling = state === "starting" || state === "stopping";
      button.toggleAttribute("aria-busy", settling);
      button.setAttribute("aria-disabled", String(settling));
      button.title =
        state === "starting"
          ? "Starting the recording…"
          : state === "stopping"
            ? "Saving the recording…"
            : on
              ? "Stop recording"
              : othersRecording
                ? "Someone else is recording this call"
                : "Record the call";
      if (allowRecording) {
        allowRecording.checked = !!allowed;
        // Not disabled while saving: that would throw the keyboard focus out of the menu.
        allowRecording.toggleAttribute("aria-busy", !!permissionBusy);
      }
    },
    closeMenus() {
      openRecordMenu(false);
      openMenu(false);
      showParticipants(false);
      showStats(false);
    },
  };
}
