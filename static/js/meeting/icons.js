// Small inline icons for elements built in JS (the template draws its own). Constant markup
// only: nothing user-supplied is ever put into innerHTML.

const SVG = 'xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false"';
const MIC = '<path d="M12 2a3 3 0 0 0-3 3v7a3 3 0 0 0 6 0V5a3 3 0 0 0-3-3Z"/><path d="M19 10v2a7 7 0 0 1-14 0v-2"/><path d="M12 19v3"/>';
const CAMERA = '<path d="m16 13 5.2 3.5a.5.5 0 0 0 .8-.4V7.9a.5.5 0 0 0-.8-.4L16 11"/><rect x="2" y="6" width="14" height="12" rx="2"/>';
const SLASH = '<path d="m3 3 18 18"/>';
const HAND = '<path d="M18 11V6a2 2 0 0 0-4 0v5"/><path d="M14 10V4a2 2 0 0 0-4 0v6"/><path d="M10 10.5V6a2 2 0 0 0-4 0v8"/><path d="M18 8a2 2 0 1 1 4 0v6a8 8 0 0 1-8 8h-2c-2.8 0-4.5-.86-6-2.34l-3.6-3.6a2 2 0 0 1 2.83-2.83L7 15"/>';

export const icons = {
  mic: `<svg ${SVG}>${MIC}</svg>`,
  micOff: `<svg ${SVG}>${MIC}${SLASH}</svg>`,
  camera: `<svg ${SVG}>${CAMERA}</svg>`,
  cameraOff: `<svg ${SVG}>${CAMERA}${SLASH}</svg>`,
  hand: `<svg ${SVG}>${HAND}</svg>`,
  screen: `<svg ${SVG}><rect x="2" y="3" width="20" height="14" rx="2"/><path d="M8 21h8M12 17v4"/></svg>`,
};

/** A labelled icon: role=img with an accessible name and a tooltip. */
export function iconElement(name, label, className = "") {
  const span = document.createElement("span");
  span.className = className;
  span.setAttribute("role", "img");
  span.setAttribute("aria-label", label);
  span.title = label;
  span.innerHTML = icons[name];
  return span;
}
