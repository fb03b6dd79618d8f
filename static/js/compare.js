// Compare: in History, the bulk bar's Compare (two to four selected results, else it says
// why not); on the compare page, the zoom buttons and level, and Esc back to History.
// Zoom and pan in step are zoom.js's.
import "./core.js";
import { KEY_STEP, resetZoom, zoomBy } from "./zoom.js";

const FEWEST = 2;
const MOST = 4;

// --- History: Compare the selected results ------------------------------------------

function compareHint(count) {
  if (count === 1) return "Select " + FEWEST + " to " + MOST + " results to compare them.";
  if (count > MOST) return "Compare takes " + MOST + " results at most: " + count + " are selected.";
  return "";
}

// After gallery.js's own handlers of the same events (a range with Shift, Select all).
function updateCompare() {
  const button = document.querySelector("[data-compare-selected]");
  if (!button) return;
  const count = document.querySelectorAll("[data-select]:checked").length;
  button.disabled = count < FEWEST || count > MOST;
  const hint = document.querySelector("[data-compare-hint]");
  const text = compareHint(count);
  if (hint && hint.textContent !== text) hint.textContent = text;
}
function updateCompareSoon() {
  setTimeout(updateCompare, 0);
}
document.addEventListener("click", updateCompareSoon);
document.addEventListener("change", updateCompareSoon);
document.addEventListener("htmx:afterSwap", updateCompareSoon);
updateCompare();

// --- The compare page ----------------------------------------------------------------

const group = document.querySelector("[data-zoom-group][data-zoom-keys]");
if (group) {
  document.querySelectorAll("[data-zoom-hint], [data-zoom-tools]").forEach(function (node) { node.hidden = false; });
  const level = document.querySelector("[data-zoom-level]");
  group.addEventListener("zoom-change", function (event) {
    if (level) level.textContent = Math.round(event.detail.scale * 100) + "%";
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-zoom-in], [data-zoom-out], [data-zoom-reset]");
    if (!button) return;
    if (button.matches("[data-zoom-reset]")) resetZoom(group);
    else zoomBy(group, button.matches("[data-zoom-in]") ? KEY_STEP : 1 / KEY_STEP);
  });
}

// Esc goes back to History as it was left: its filters and page are in the back link.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Escape" || event.defaultPrevented) return;
  const back = document.querySelector("[data-compare-back]");
  if (back) window.location.assign(back.href);
});
