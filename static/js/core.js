// What every page needs beyond htmx: a toast when a request fails, the shared rules for
// sizes and elapsed times, running times that tick, focus after a swap, and confirmations.
// A module: each page loads its own feature's script (generate.js, gallery.js, library.js,
// runs.js), which imports this one; a page with no feature script loads it alone. No
// inline scripts (CSP).

// A swap that fails at the network level would otherwise do nothing visible.
export function toast(text) {
  let region = document.getElementById("toast-region");
  if (!region) {
    region = document.createElement("div");
    region.id = "toast-region";
    region.className = "toast-region";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    document.body.appendChild(region);
  }
  const note = document.createElement("p");
  note.className = "toast";
  note.textContent = text;
  region.appendChild(note);
  setTimeout(function () { note.remove(); }, 6000);
}

// The rules of describe_size() and elapsed() in dashboard/core/display.py: a size or
// a time reads the same before an upload as after it (tests/core/test_browser_shell.py
// checks that both sides agree).
export function formatBytes(bytes) {
  const units = [[1024 * 1024 * 1024, "GB"], [1024 * 1024, "MB"], [1024, "KB"]];
  for (const [size, unit] of units) {
    if (bytes >= size) return String(Math.floor((bytes * 10 + Math.floor(size / 2)) / size) / 10) + " " + unit;
  }
  return bytes === 1 ? "1 byte" : bytes + " bytes";
}
export function durationText(seconds) {
  if (seconds < 60) return seconds + " s";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return minutes + " min " + (seconds % 60) + " s";
  return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
}
function elapsedText(since) {
  return durationText(Math.max(0, Math.round((Date.now() - since) / 1000)));
}

document.addEventListener("htmx:sendError", function () {
  toast("The dashboard could not be reached. Check your connection; nothing was lost.");
});
document.addEventListener("htmx:responseError", function (event) {
  const xhr = event.detail.xhr;
  // Responses that carry their own message (HX-Trigger: showMessage) say it themselves.
  if (xhr && xhr.getResponseHeader("HX-Trigger")) return;
  const status = xhr ? xhr.status : 0;
  toast(status === 403
    ? "Your session has expired. Reload the page to log in again."
    : "Something went wrong on our side. Please try again.");
});
document.body.addEventListener("showMessage", function (event) {
  if (event.detail && event.detail.value) toast(event.detail.value);
});

// Running jobs (the tray, a run's cells): elapsed time ticks between polls.
function tick() {
  document.querySelectorAll("[data-elapsed-since]").forEach(function (node) {
    const since = Date.parse(node.getAttribute("data-elapsed-since"));
    if (!isNaN(since)) node.textContent = elapsedText(since);
  });
}
setInterval(tick, 1000);
document.addEventListener("htmx:afterSettle", tick);
tick();

// A place files can be dropped on (a Generate slot, the library's files, a run's slot)
// shows it is ready, and the browser does not open the file instead. The page's own
// script takes the files on "drop".
const DROP_ZONES = "[data-dropzone], [data-multi-dropzone], [data-run-dropzone]";
["dragenter", "dragover"].forEach(function (type) {
  document.addEventListener(type, function (event) {
    const zone = event.target.closest && event.target.closest(DROP_ZONES);
    if (!zone) return;
    event.preventDefault();
    zone.classList.add("is-dragging");
  });
});
["dragleave", "drop"].forEach(function (type) {
  document.addEventListener(type, function (event) {
    const zone = event.target.closest && event.target.closest(DROP_ZONES);
    if (zone) zone.classList.remove("is-dragging");
  });
});

// A form that asks first (cancel a run, delete for good, empty the trash).
document.addEventListener("submit", function (event) {
  const form = event.target.closest && event.target.closest("form[data-confirm]");
  if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
});

// Focus after an action, where a keyboard user goes next. The server marks what to
// focus after a swap (the new tray card after Generate, the first error when a form
// was refused): data-focus-after-swap.
function focusMarked() {
  const marked = document.querySelector("[data-focus-after-swap]");
  if (!marked) return;
  marked.removeAttribute("data-focus-after-swap");
  marked.focus();
}
// A rating replaces its button group: the button that was pressed stays focused.
let ratedFrom = null;
document.addEventListener("htmx:beforeRequest", function (event) {
  const elt = event.detail.elt;
  if (elt.matches("[data-feedback]") && document.activeElement === elt) {
    ratedFrom = { container: elt.closest(".feedback").parentElement, name: elt.dataset.feedback };
  }
});
document.addEventListener("htmx:afterSettle", function () {
  if (ratedFrom) {
    const button = ratedFrom.container.isConnected && ratedFrom.container.querySelector(".feedback [data-feedback=" + ratedFrom.name + "]");
    ratedFrom = null;
    if (button) button.focus();
  }
  focusMarked();
});
focusMarked();  // a page drawn whole (without htmx) after a refused form, likewise
