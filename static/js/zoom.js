// Zoom and pan, kept in step: every image of a zoom group ([data-zoom-group]) shows the
// same part at the same scale, so zooming one panel of the compare page zooms them all to
// the same point. The History lightbox's figure is a group of its own (one stage).
//
// A stage ([data-zoom-stage], the group itself when it has none inside) clips its images;
// each image is drawn `translate(x, y) scale(s)` from its top left corner, x and y as
// fractions of its own box, so the same numbers put the same point of images of any size
// under the same place. Wheel (and a trackpad's pinch) and two fingers zoom about the
// point under them; drag (mouse or one finger) pans once zoomed; keys (+ − 0 and the arrows
// once zoomed) act on the open lightbox's group, else on a page's [data-zoom-keys] group.
import "./core.js";

export const MAX_SCALE = 8;
export const KEY_STEP = 1.5;
const PAN_STEP = 0.1;  // an arrow key moves a tenth of the image
const states = new WeakMap();

function stateOf(group) {
  if (!states.has(group)) states.set(group, { scale: 1, x: 0, y: 0 });
  return states.get(group);
}

function stagesOf(group) {
  return group.matches("[data-zoom-stage]") ? [group] : Array.from(group.querySelectorAll("[data-zoom-stage]"));
}

function imagesOf(group) {
  return stagesOf(group).flatMap(function (stage) { return Array.from(stage.querySelectorAll("img")); });
}

function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

// Never past an image's edges: at scale s the offset runs from 1 - s (right edge) to 0.
function keepInside(state) {
  state.scale = clamp(state.scale, 1, MAX_SCALE);
  state.x = clamp(state.x, 1 - state.scale, 0);
  state.y = clamp(state.y, 1 - state.scale, 0);
}

function draw(group) {
  const state = stateOf(group);
  keepInside(state);
  const zoomed = state.scale > 1.001;
  const transform = zoomed ? "translate(" + state.x * 100 + "%, " + state.y * 100 + "%) scale(" + state.scale + ")" : "";
  imagesOf(group).forEach(function (image) { image.style.transform = transform; });
  group.classList.toggle("is-zoomed", zoomed);
  group.dataset.zoomScale = state.scale.toFixed(2);
  group.dispatchEvent(new CustomEvent("zoom-change", { bubbles: true, detail: { scale: state.scale } }));
}

// Where a point of the screen falls on a stage's image, as fractions of its untransformed box.
function pointOn(group, stage, clientX, clientY) {
  const image = stage.querySelector("img");
  if (!image) return { px: 0.5, py: 0.5, width: 1, height: 1 };
  const state = stateOf(group);
  const box = image.getBoundingClientRect();
  const width = box.width / state.scale;
  const height = box.height / state.scale;
  const left = box.left - state.x * width;
  const top = box.top - state.y * height;
  return {
    px: clamp((clientX - left) / width, 0, 1),
    py: clamp((clientY - top) / height, 0, 1),
    width: width,
    height: height,
  };
}

// Zoom by `factor` keeping the point (px, py) of the image where it is.
export function zoomAbout(group, factor, px, py) {
  const state = stateOf(group);
  const scale = clamp(state.scale * factor, 1, MAX_SCALE);
  state.x = px - ((px - state.x) / state.scale) * scale;
  state.y = py - ((py - state.y) / state.scale) * scale;
  state.scale = scale;
  draw(group);
}

export function zoomBy(group, factor) {
  zoomAbout(group, factor, 0.5, 0.5);
}

export function resetZoom(group) {
  states.set(group, { scale: 1, x: 0, y: 0 });
  draw(group);
}

export function isZoomed(group) {
  return stateOf(group).scale > 1.001;
}

function panBy(group, dx, dy) {
  const state = stateOf(group);
  state.x += dx;
  state.y += dy;
  draw(group);
}

function groupAt(target) {
  const stage = target && target.closest && target.closest("[data-zoom-stage]");
  const group = stage && stage.closest("[data-zoom-group]");
  return group ? { group: group, stage: stage } : null;
}

// --- Wheel (and a trackpad's pinch, which the browser sends as a wheel with Ctrl) -----

document.addEventListener("wheel", function (event) {
  const found = groupAt(event.target);
  if (!found) return;
  // Scrolling down over an image shown whole scrolls the page, as anywhere else.
  if (event.deltaY > 0 && !isZoomed(found.group)) return;
  event.preventDefault();
  const lines = event.deltaMode === 1 ? 16 : 1;
  const factor = Math.exp(-event.deltaY * lines * (event.ctrlKey ? 0.01 : 0.002));
  const point = pointOn(found.group, found.stage, event.clientX, event.clientY);
  zoomAbout(found.group, factor, point.px, point.py);
}, { passive: false });

// --- Dragging with a mouse or a pen once zoomed ----------------------------------------

let drag = null;
document.addEventListener("pointerdown", function (event) {
  if (event.pointerType === "touch" || event.button !== 0) return;
  const found = groupAt(event.target);
  if (!found || !isZoomed(found.group)) return;
  event.preventDefault();
  const point = pointOn(found.group, found.stage, event.clientX, event.clientY);
  drag = { group: found.group, x: event.clientX, y: event.clientY, width: point.width, height: point.height };
  found.stage.classList.add("is-dragging");
});
document.addEventListener("pointermove", function (event) {
  if (!drag || event.pointerType === "touch") return;
  panBy(drag.group, (event.clientX - drag.x) / drag.width, (event.clientY - drag.y) / drag.height);
  drag.x = event.clientX;
  drag.y = event.clientY;
});
["pointerup", "pointercancel"].forEach(function (type) {
  document.addEventListener(type, function () {
    if (!drag) return;
    document.querySelectorAll(".is-dragging").forEach(function (stage) { stage.classList.remove("is-dragging"); });
    drag = null;
  });
});
document.addEventListener("dragstart", function (event) {
  if (groupAt(event.target)) event.preventDefault();
});

// --- Touch: two fingers zoom (and move), one finger pans once zoomed -------------------

let touch = null;
function spread(touches) {
  return Math.hypot(touches[0].clientX - touches[1].clientX, touches[0].clientY - touches[1].clientY);
}
function middle(touches) {
  return { x: (touches[0].clientX + touches[1].clientX) / 2, y: (touches[0].clientY + touches[1].clientY) / 2 };
}
function startTouch(event) {
  const found = groupAt(event.target);
  if (!found) { touch = null; return; }
  const touches = event.touches;
  if (touches.length >= 2) {
    touch = { found: found, spread: spread(touches), middle: middle(touches) };
  } else if (isZoomed(found.group)) {
    touch = { found: found, middle: { x: touches[0].clientX, y: touches[0].clientY } };
  } else {
    touch = null;  // one finger on an image shown whole scrolls the page
  }
}
document.addEventListener("touchstart", startTouch, { passive: true });
document.addEventListener("touchmove", function (event) {
  if (!touch) return;
  event.preventDefault();
  const group = touch.found.group;
  const touches = event.touches;
  const now = touches.length >= 2 ? middle(touches) : { x: touches[0].clientX, y: touches[0].clientY };
  const point = pointOn(group, touch.found.stage, now.x, now.y);
  panBy(group, (now.x - touch.middle.x) / point.width, (now.y - touch.middle.y) / point.height);
  if (touches.length >= 2 && touch.spread) {
    const distance = spread(touches);
    zoomAbout(group, distance / touch.spread, point.px, point.py);
    touch.spread = distance;
  }
  touch.middle = now;
}, { passive: false });
document.addEventListener("touchend", function (event) {
  if (touch) startTouch(event.touches.length ? event : { target: null, touches: [] });
});

// --- Keys -------------------------------------------------------------------------------

const TYPING = "input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit]), textarea, select, [contenteditable]";
const PANS = { ArrowLeft: [PAN_STEP, 0], ArrowRight: [-PAN_STEP, 0], ArrowUp: [0, PAN_STEP], ArrowDown: [0, -PAN_STEP] };

function keyGroup() {
  const dialog = document.querySelector("dialog[data-lightbox]");
  if (dialog) return dialog.querySelector("[data-zoom-group]");
  return document.querySelector("[data-zoom-group][data-zoom-keys]");
}

// On the window, in the capture phase: before the lightbox's own keys (gallery.js), so an
// arrow pans a zoomed image instead of moving to the next result.
window.addEventListener("keydown", function (event) {
  if (event.altKey || event.ctrlKey || event.metaKey) return;
  if (event.target.closest && event.target.closest(TYPING)) return;
  const group = keyGroup();
  if (!group || !imagesOf(group).length) return;
  const key = event.key;
  if (key === "+" || key === "=") zoomBy(group, KEY_STEP);
  else if (key === "-" || key === "_") zoomBy(group, 1 / KEY_STEP);
  else if (key === "0") resetZoom(group);
  else if (PANS[key] && isZoomed(group)) panBy(group, PANS[key][0], PANS[key][1]);
  else return;
  event.preventDefault();
  event.stopPropagation();
}, true);
