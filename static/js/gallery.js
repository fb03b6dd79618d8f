// History: the lightbox (a modal with keys to move, rate and delete), the before/after
// slider, the date filter, the filters folded on a phone, the keys to the results,
// several results selected at once, and the Undo toast.
import "./core.js";
import "./zoom.js";  // the lightbox zooms (wheel, pinch, + − 0)
import "./compare.js";  // Compare in the bulk bar

// --- History: the lightbox ---------------------------------------------------------

function currentLightbox() {
  return document.querySelector("dialog[data-lightbox]");
}

// The server renders the dialog open (so it works without JavaScript); here it
// becomes a real modal: focus stays inside and the gallery stays where it was.
function upgradeLightbox() {
  const dialog = currentLightbox();
  if (!dialog || dialog.dataset.modal) return;
  dialog.dataset.modal = "1";
  if (dialog.open) dialog.close();
  dialog.showModal();
  document.documentElement.classList.add("has-lightbox");
  dialog.addEventListener("cancel", function (event) {
    event.preventDefault();
    closeLightbox();
  });
}

function closeLightbox() {
  const dialog = currentLightbox();
  if (!dialog) return;
  const closeUrl = dialog.dataset.closeUrl;
  const shownId = dialog.dataset.itemId;
  // Noted here too: the lightbox may close (Escape at once) before its swap settled.
  lastShownId = shownId;
  const gallery = document.getElementById("gallery");
  const galleryUrl = gallery ? gallery.dataset.galleryUrl : null;
  // Opened from a run page (its cells' links): closing goes back to that page.
  const leaves = dialog.hasAttribute("data-close-leaves");
  dialog.close();
  dialog.remove();
  document.documentElement.classList.remove("has-lightbox");
  // Focus goes back to the card of the result last shown (the arrows may have moved
  // on from the one opened), else to the card that was opened.
  function focusShownCard() {
    const shown = shownId && document.getElementById("card-" + shownId);
    // A result a teammate deleted meanwhile is a card that says so (focusable itself).
    const onShown = shown && (shown.querySelector(".result-media") || (shown.matches("[data-removed]") && shown));
    const target = onShown || document.querySelector("[data-last-opened]");
    if (target) target.focus();
  }
  if (leaves) {
    window.location.assign(closeUrl);
  } else if (gallery && closeUrl === galleryUrl) {
    // Same page of results: keep the scroll position, just restore the address.
    history.pushState({}, "", closeUrl);
    focusShownCard();
  } else if (gallery && window.htmx) {
    // Moving through results crossed a page boundary: show that page.
    htmx.ajax("GET", closeUrl, { target: "#gallery", swap: "outerHTML" }).then(function () {
      history.pushState({}, "", closeUrl);
      focusShownCard();
    });
  } else {
    window.location.assign(closeUrl);
  }
}

document.addEventListener("click", function (event) {
  const close = event.target.closest && event.target.closest("dialog[data-lightbox] [data-close]");
  if (close) {
    event.preventDefault();
    closeLightbox();
    return;
  }
  const opener = event.target.closest && event.target.closest(".result-media");
  if (opener) {
    document.querySelectorAll("[data-last-opened]").forEach(function (node) { node.removeAttribute("data-last-opened"); });
    opener.setAttribute("data-last-opened", "");
  }
});

function clickIn(root, selector) {
  const target = root.querySelector(selector);
  if (target) target.click();
  return Boolean(target);
}

function handleLightboxKey(dialog, key) {
  if (key === "ArrowLeft") return clickIn(dialog, "[data-nav=previous]");
  if (key === "ArrowRight") return clickIn(dialog, "[data-nav=next]");
  const note = dialog.querySelector("[data-lightbox-note]");
  if (["l", "L", "d", "D"].includes(key) && note) {
    // A failed or running result has no rating buttons: say why nothing happened.
    note.textContent = "";
    setTimeout(function () { note.textContent = dialog.dataset.ratingRefused; }, 50);
    return true;
  }
  if (key === "l" || key === "L") return clickIn(dialog, "[data-feedback=like]");
  if (key === "d" || key === "D") return clickIn(dialog, "[data-feedback=dislike]");
  if (/^[1-9]$/.test(key)) return clickIn(dialog, "[data-reason-key='" + key + "']");
  if (key === "Delete") return clickIn(dialog, "[data-delete-current] button");
  if (key === "Escape" && !dialog.matches(":modal")) {
    // A dialog not (yet) modal gets no cancel event from the browser.
    closeLightbox();
    return true;
  }
  return false;
}

// A key pressed while a request runs, or before htmx has wired up what it just
// swapped in, waits for the swap to settle and then acts on the new content; or, when
// the answer draws nothing (a poll's 204, a failure), for the answer. (An answer that
// swaps is settling by its afterRequest: true while no swap here is delayed or made in
// a view transition, which would swap after it.)
const BUSY = ".htmx-request, .htmx-settling, .htmx-added";
let queuedKey = null;
document.addEventListener("keydown", function (event) {
  const dialog = currentLightbox();
  if (!dialog || event.altKey || event.ctrlKey || event.metaKey) return;
  const typing = event.target.closest && event.target.closest("input[type=text], input[type=search], textarea, select, input[type=range]");
  if (typing) return;
  const key = event.key;
  if (!["ArrowLeft", "ArrowRight", "l", "L", "d", "D", "Delete", "Escape"].includes(key) && !/^[1-9]$/.test(key)) return;
  if (key !== "Escape" && (dialog.closest(BUSY) || dialog.querySelector(BUSY))) {
    queuedKey = key;
    event.preventDefault();
    return;
  }
  if (handleLightboxKey(dialog, key)) event.preventDefault();
});
function pressQueuedKey() {
  const dialog = currentLightbox();
  if (!queuedKey || !dialog || dialog.closest(BUSY) || dialog.querySelector(BUSY)) return;
  const key = queuedKey;
  queuedKey = null;
  handleLightboxKey(dialog, key);
}
document.addEventListener("htmx:afterSettle", pressQueuedKey);
document.addEventListener("htmx:afterRequest", pressQueuedKey);

// The before/after slider: the range input reveals the result over the input photo.
document.addEventListener("input", function (event) {
  if (!event.target.matches("[data-compare-range]")) return;
  const compare = event.target.closest("[data-compare]");
  compare.style.setProperty("--reveal", event.target.value + "%");
});

// --- History: the date filter -------------------------------------------------------

// Runs before htmx sends the filter form (capture phase): a date typed in means
// "custom dates", and a preset makes typed dates moot, so clear them.
document.addEventListener("change", function (event) {
  const target = event.target;
  const form = target.closest && target.closest("form.filters");
  if (!form) return;
  if (target.matches("[data-date-bound]") && target.value) {
    form.querySelector("[data-custom-dates]").checked = true;
  } else if (target.name === "when" && !target.matches("[data-custom-dates]")) {
    form.querySelectorAll("[data-date-bound]").forEach(function (input) { input.value = ""; });
  }
}, true);

// --- History: the filters fold on a phone -----------------------------------------

// Wider than a phone the filter form is always open (app.css shows it before this runs);
// on a phone it folds behind "Filters (n)" and the designer opens it.
const WIDE = window.matchMedia("(min-width: 641px)");
function openFiltersWhenWide() {
  const panel = document.querySelector("[data-filters-panel]");
  if (panel) panel.open = WIDE.matches;
}
WIDE.addEventListener("change", openFiltersWhenWide);
openFiltersWhenWide();

// --- History: the keys to the results ----------------------------------------------

// "Skip to the results" and the G key focus the card of the result last shown in the
// lightbox, else the first card (without JavaScript the skip link leads to the grid).
// Kept by id: a card drawn again (it finished, a teammate rated it) is a new element.
let lastShownId = null;
function noteShownResult() {
  const dialog = currentLightbox();
  if (dialog) lastShownId = dialog.dataset.itemId;
}
document.addEventListener("htmx:afterSettle", noteShownResult);
noteShownResult();
function focusResults() {
  const results = document.getElementById("results");
  if (!results) return false;
  const shown = lastShownId && document.getElementById("card-" + lastShownId);
  const target = (shown && results.contains(shown) && shown.querySelector(".result-media")) || results.querySelector(".result-media") || results;
  target.focus();
  return true;
}
document.addEventListener("click", function (event) {
  const skip = event.target.closest && event.target.closest("[data-skip-to-results]");
  if (skip && focusResults()) event.preventDefault();
});
const FIELDS = "input:not([type=checkbox]):not([type=radio]):not([type=button]):not([type=submit]), textarea, select, [contenteditable]";
document.addEventListener("keydown", function (event) {
  if (event.key !== "g" && event.key !== "G") return;
  if (event.altKey || event.ctrlKey || event.metaKey || event.defaultPrevented || currentLightbox()) return;
  if (event.target.closest && event.target.closest(FIELDS)) return;
  if (focusResults()) event.preventDefault();
});
document.querySelectorAll("[data-grid-key-hint]").forEach(function (hint) { hint.hidden = false; });

// --- History: selecting several results --------------------------------------------

let lastChecked = null;
function selectionBoxes() {
  return Array.prototype.slice.call(document.querySelectorAll("[data-select]"));
}
function updateSelection() {
  const form = document.querySelector("[data-bulk-form]");
  if (!form) return;
  const boxes = selectionBoxes();
  const chosen = boxes.filter(function (box) { return box.checked; }).length;
  form.querySelector("[data-selected-count]").textContent = chosen ? chosen + " selected" : "";
  form.querySelectorAll("[data-bulk-action]").forEach(function (button) { button.disabled = chosen === 0; });
  const all = form.querySelector("[data-select-all]");
  all.checked = chosen > 0 && chosen === boxes.length;
  all.indeterminate = chosen > 0 && chosen < boxes.length;
  boxes.forEach(function (box) { box.closest("[data-card]").classList.toggle("is-selected", box.checked); });
}

document.addEventListener("click", function (event) {
  const box = event.target.closest && event.target.closest("[data-select]");
  if (!box) return;
  if (event.shiftKey && lastChecked && lastChecked !== box) {
    const boxes = selectionBoxes();
    const from = boxes.indexOf(lastChecked);
    const to = boxes.indexOf(box);
    boxes.slice(Math.min(from, to), Math.max(from, to) + 1).forEach(function (each) { each.checked = box.checked; });
  }
  lastChecked = box;
  updateSelection();
});
document.addEventListener("change", function (event) {
  if (event.target.matches("[data-select-all]")) {
    selectionBoxes().forEach(function (box) { box.checked = event.target.checked; });
    updateSelection();
  }
});
// "Download selected" posts the bulk form as a browser would, not through htmx: the
// answer is a ZIP to save (or, on a problem, a page with the message). Caught before
// the event reaches htmx's listener on the form; the browser's own submit goes on.
document.addEventListener("submit", function (event) {
  if (event.submitter && event.submitter.hasAttribute("data-native-submit")) event.stopPropagation();
}, true);
// The button that submitted the form is the submit event's own `submitter`: Safari and
// Firefox on macOS do not focus a clicked button, so document.activeElement is not it.
function bulkSubmitter(detail) {
  if (!detail.elt || !detail.elt.matches("[data-bulk-form]")) return null;
  return (detail.triggeringEvent && detail.triggeringEvent.submitter) || null;
}
document.addEventListener("htmx:confirm", function (event) {
  const submitter = bulkSubmitter(event.detail);
  const message = submitter && submitter.getAttribute("data-confirm-bulk");
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener("submit", function (event) {
  // Without htmx the browser submits the bulk form directly: confirm deletes here too.
  const submitter = event.submitter;
  if (window.htmx || !submitter) return;
  const message = submitter.getAttribute("data-confirm-bulk");
  if (message && !window.confirm(message)) event.preventDefault();
});

// --- The "Undo" toast goes after its time ------------------------------------------
// Not while the pointer rests on it or focus is in it: a designer reaching for Undo,
// or reading it with a screen reader, keeps it (WCAG 2.2.1, timing adjustable); its
// full time starts again when they leave it.

function dismissLater() {
  document.querySelectorAll("[data-dismiss-after]:not([data-dismissing])").forEach(function (toast) {
    toast.setAttribute("data-dismissing", "");
    const seconds = Number(toast.getAttribute("data-dismiss-after"));
    let timer = null;
    function hold() { clearTimeout(timer); timer = null; }
    function release() {
      if (toast.matches(":hover") || toast.contains(document.activeElement)) return;
      hold();
      timer = setTimeout(function () { toast.remove(); }, seconds * 1000);
    }
    toast.addEventListener("pointerenter", hold);
    toast.addEventListener("focusin", hold);
    toast.addEventListener("pointerleave", function () { setTimeout(release); });
    toast.addEventListener("focusout", function () { setTimeout(release); });
    release();
  });
}

// Deleting in the lightbox moves it on to the next result (else the previous), with the
// Undo in the dialog. Deleting the last one left closes it: focus goes to the next
// result's card (else the previous one, else the first), so reviewing goes on from there.
let deletedFrom = null;
document.addEventListener("htmx:beforeRequest", function (event) {
  const elt = event.detail.elt;
  if (elt.matches("[data-delete-current]")) deletedFrom = [elt.dataset.nextId, elt.dataset.previousId];
});
document.addEventListener("htmx:afterSettle", function () {
  const from = deletedFrom;
  deletedFrom = null;
  if (!from || currentLightbox()) return;
  const candidates = from.filter(Boolean).map(function (id) { return document.getElementById("card-" + id); });
  const card = candidates.find(Boolean) || document.querySelector("[data-card]");
  const target = card ? card.querySelector(".result-media") : document.getElementById("gallery-title");
  if (target === document.getElementById("gallery-title")) target.setAttribute("tabindex", "-1");
  if (target) target.focus();
});

// What a change made in the lightbox says there (a delete's Undo, a job run again, a
// problem) is drawn with the dialog, and a live region drawn with its text is not read
// out: the text is put in again once it is on the page, so screen readers say it.
function announce() {
  document.querySelectorAll("dialog[data-lightbox] [data-announce]:not([data-announced])").forEach(function (region) {
    region.setAttribute("data-announced", "");
    const text = region.textContent;
    region.textContent = "";
    setTimeout(function () { region.textContent = text; }, 50);
  });
}

// The results run again are drawn again as they end: focus on one stays on it.
let focusedRerun = null;
document.addEventListener("htmx:beforeSwap", function (event) {
  const focused = document.activeElement;
  focusedRerun = event.detail.target.id === "lightbox-reruns" && focused && focused.id && event.detail.target.contains(focused) ? focused.id : null;
});
document.addEventListener("htmx:afterSwap", function (event) {
  const again = focusedRerun && document.getElementById(focusedRerun);
  focusedRerun = null;
  if (again) again.focus();
  // On a phone the new attempt lands below the button, off the screen: bring it up.
  const source = event.detail.requestConfig && event.detail.requestConfig.elt;
  if (source && source.matches("[data-rerun]")) {
    const reruns = document.getElementById("lightbox-reruns");
    if (reruns) reruns.scrollIntoView({ block: "nearest" });
  }
});

function onPageReady() {
  upgradeLightbox();
  document.querySelectorAll("[data-compare-control][hidden]").forEach(function (control) { control.hidden = false; });
  announce();
  updateSelection();
  dismissLater();
  // A swap that closed the lightbox (delete) gives the page its scrolling back.
  if (!currentLightbox()) document.documentElement.classList.remove("has-lightbox");
}
document.addEventListener("htmx:afterSwap", onPageReady);
onPageReady();

// --- History: news since the page was drawn (views.news) --------------------------
// The news element asks, on the server's push or every 30 s without it, with what the
// page shows: the number its notice says, and each card's (and the open lightbox's)
// rating or removal. A card a request of this page is changing is left out of it.

function shownState(node) {
  const removed = node.matches("[data-removed]") ? node : node.querySelector("[data-removed]");
  if (removed) return removed.dataset.removed;
  const pressed = node.querySelector("[data-feedback][aria-pressed=true]");
  if (!pressed) return "unrated";
  return pressed.dataset.feedback === "like" ? "liked" : "disliked";
}
function shownPair(node, id) {
  return node.querySelector(".htmx-request") ? null : shownState(node) + ":" + id;
}
document.addEventListener("htmx:configRequest", function (event) {
  const elt = event.detail.elt;
  if (!elt.matches("[data-gallery-news]")) return;
  const params = event.detail.parameters;
  const notice = elt.querySelector("[data-new-count]");
  params.showing = notice ? notice.dataset.newCount : "0";
  params.card = Array.prototype.map.call(document.querySelectorAll("#gallery .grid > [id^='card-']"), function (card) {
    return shownPair(card, card.id.slice("card-".length));
  }).filter(Boolean);
  const dialog = currentLightbox();
  const review = document.getElementById("lightbox-review");
  const pair = dialog && review && shownPair(review, dialog.dataset.itemId);
  if (pair) params.lightbox = pair;
});

// A card or the lightbox's review drawn again keeps what the designer was doing there:
// the card's check box, a note being typed, and focus (on the same control, or on the
// card itself when it became "moved to the trash").
const CONTROLS = ["[data-select]", ".result-media", "[data-card-delete]", "textarea", "a"];
function sameControl(root, focused) {
  if (focused.dataset.feedback) return root.querySelector("[data-feedback=" + focused.dataset.feedback + "]");
  const selector = CONTROLS.find(function (each) { return focused.matches(each); });
  return selector ? root.querySelector(selector) : null;
}
let refocus = null;
// News is asked with what the page shows and answered later: meanwhile the designer may
// have changed the review (its answer drawn newer) or moved the lightbox on.
function staleReview(target, fresh) {
  const dialog = target.closest("dialog[data-lightbox]");
  if (dialog && fresh.dataset.itemId !== dialog.dataset.itemId) return true;
  const shown = target.querySelector("[data-review]");
  const drawn = fresh.querySelector("[data-review]");
  return Boolean(shown && drawn && Number(drawn.dataset.version) < Number(shown.dataset.version));
}
document.addEventListener("htmx:oobBeforeSwap", function (event) {
  const target = event.detail.target;
  const fresh = event.detail.fragment;
  if (!target.matches("[id^='card-'], #lightbox-review")) return;
  if (target.id === "lightbox-review" && staleReview(target, fresh)) {
    event.detail.shouldSwap = false;
    return;
  }
  const box = target.querySelector("[data-select]");
  const freshBox = fresh.querySelector("[data-select]");
  if (box && freshBox) freshBox.checked = box.checked;
  const note = target.querySelector("textarea");
  const freshNote = fresh.querySelector("textarea");
  if (note && freshNote && note.value !== note.defaultValue) freshNote.value = note.value;
  const focused = document.activeElement;
  if (focused && target.contains(focused)) {
    refocus = sameControl(fresh, focused) || fresh.querySelector("[tabindex='-1']") || fresh.firstElementChild;
  }
});
document.addEventListener("htmx:oobAfterSwap", function () {
  if (refocus && refocus.isConnected) {
    refocus.focus();
    refocus = null;
  }
});

// "Show them" draws the first page: focus goes to its first result, the newest.
let showingNews = false;
document.addEventListener("htmx:beforeRequest", function (event) {
  if (event.detail.elt.matches("[data-show-news]")) showingNews = true;
});
document.addEventListener("htmx:afterSettle", function () {
  if (!showingNews) return;
  showingNews = false;
  const first = document.querySelector("#gallery [data-card] .result-media");
  if (first) first.focus();
});
