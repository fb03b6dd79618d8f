// What every page needs beyond htmx: a toast when a request fails, the shared rules for
// sizes and elapsed times, running times that tick, focus after a swap, and confirmations.
// A module: each page loads its own feature's script (generate.js, gallery.js, library.js,
// runs.js), which imports this one; a page with no feature script loads it alone. No
// inline scripts (CSP).

// A swap that fails at the network level would otherwise do nothing visible.
// The page's one polite live region for toasts (notify.js says its news there too).
export function toastRegion() {
  let region = document.getElementById("toast-region");
  if (!region) {
    region = document.createElement("div");
    region.id = "toast-region";
    region.className = "toast-region";
    region.setAttribute("role", "status");
    region.setAttribute("aria-live", "polite");
    document.body.appendChild(region);
  }
  return region;
}

export function toast(text) {
  const note = document.createElement("p");
  note.className = "toast";
  note.textContent = text;
  toastRegion().appendChild(note);
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

// Live updates (dashboard/live/, the README's "Live updates"). What polls (the tray, the
// gallery's running cards, a run's matrix) is marked data-live; while the page's event
// stream is open, the server says when something it shows changed, the element asks its
// own poll URL at once ("live-refresh" in its hx-trigger), and its timed polls are skipped.
// A stream that fails or is refused (no Redis, a proxy that buffers) gives the polls
// back; the first answer after each (re)connection refreshes everything, so a change
// made while the stream was down is not missed.
const LIVE_REFRESH = "live-refresh";
let streamOpen = false;

function refreshLive(wanted) {
  document.querySelectorAll("[data-live][hx-get]").forEach(function (node) {
    if (wanted(node)) htmx.trigger(node, LIVE_REFRESH);
  });
}
const onEvent = {
  "job-changed": function () {
    refreshLive(function (node) { return node.dataset.live === "job"; });
  },
  "result-changed": function (data) {
    const shown = data.more || data.ids.some(function (id) { return document.getElementById("card-" + id); });
    // An element following results that are not cards (the lightbox's results run again) names them.
    function follows(node) {
      const ids = (node.dataset.liveIds || "").split(",");
      return data.more || data.ids.some(function (id) { return ids.includes(id); });
    }
    // "results": the gallery's news, which asks about any result (added above it, or shown).
    refreshLive(function (node) {
      return (node.dataset.live === "result" && (node.dataset.liveIds ? follows(node) : shown)) || node.dataset.live === "results";
    });
  },
  "run-changed": function (data) {
    refreshLive(function (node) { return node.dataset.live === "run" && data.runs.includes(Number(node.dataset.liveRun)); });
  },
};

// A timed poll of a live element is not sent while the stream is open (htmx's polls
// carry no triggering event; a refresh carries LIVE_REFRESH).
document.addEventListener("htmx:confirm", function (event) {
  const timed = !event.detail.triggeringEvent;
  if (streamOpen && timed && event.detail.elt.matches("[data-live]")) event.preventDefault();
});

// Marked, so a refresh can be told from a poll in the access log (and in the tests).
document.addEventListener("htmx:configRequest", function (event) {
  const trigger = event.detail.triggeringEvent;
  if (trigger && trigger.type === LIVE_REFRESH) event.detail.headers["X-Live-Refresh"] = "1";
});

// Push refused (204: no Redis here, or it is down): polling, and another try this much later.
const LIVE_RETRY_AFTER_REFUSAL_MS = 60000;
let source = null;
function listen() {
  const url = document.body.dataset.eventsUrl;
  if (source || !url || !window.EventSource || !document.querySelector("[data-live]")) return;
  source = new EventSource(url);
  source.addEventListener("open", function () {
    streamOpen = true;
    document.body.dataset.liveStream = "open";
    refreshLive(function () { return true; });
  });
  source.addEventListener("error", function () {
    // EventSource reconnects by itself after a stream that ended (readyState
    // CONNECTING); one that was refused (not a stream) is CLOSED for good.
    streamOpen = false;
    if (source.readyState !== EventSource.CLOSED) {
      document.body.dataset.liveStream = "reconnecting";
      return;
    }
    document.body.dataset.liveStream = "closed";
    source = null;
    setTimeout(listen, LIVE_RETRY_AFTER_REFUSAL_MS);
  });
  Object.keys(onEvent).forEach(function (name) {
    source.addEventListener(name, function (message) { onEvent[name](JSON.parse(message.data)); });
  });
}
listen();
// A page that had nothing to follow may gain it (the tray after Generate).
document.addEventListener("htmx:afterSettle", listen);

// News that comes while a live element's own request is in flight: htmx queues the
// refresh on that element, and drops it when the answer replaces the element (outerHTML),
// though the answer may have been drawn before the news. It is asked again, of the
// element drawn in its place (two jobs of a run ending a moment apart).
const refreshAfterSwap = new Set();
document.addEventListener(LIVE_REFRESH, function (event) {
  const node = event.target;
  if (node.id && node.matches("[data-live].htmx-request")) refreshAfterSwap.add(node.id);
}, true);
document.addEventListener("htmx:afterRequest", function (event) {
  if (event.detail.elt.isConnected) refreshAfterSwap.delete(event.detail.elt.id);  // htmx's queue asks again
});
document.addEventListener("htmx:afterSettle", function () {
  refreshAfterSwap.forEach(function (id) {
    const node = document.getElementById(id);
    if (node && node.classList.contains("htmx-request")) return;  // after its answer, then
    refreshAfterSwap.delete(id);
    if (node && node.matches("[data-live][hx-get]")) htmx.trigger(node, LIVE_REFRESH);
  });
});
