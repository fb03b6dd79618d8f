// History: the lightbox (a modal with keys to move, rate and delete), the before/after
// slider, the date filter, several results selected at once, and the Undo toast.
import "./core.js";

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
  const gallery = document.getElementById("gallery");
  const galleryUrl = gallery ? gallery.dataset.galleryUrl : null;
  dialog.close();
  dialog.remove();
  document.documentElement.classList.remove("has-lightbox");
  // Focus goes back to the card of the result last shown (the arrows may have moved
  // on from the one opened), else to the card that was opened.
  function focusShownCard() {
    const shown = shownId && document.getElementById("card-" + shownId);
    const target = (shown && shown.querySelector(".result-media")) || document.querySelector("[data-last-opened]");
    if (target) target.focus();
  }
  if (gallery && closeUrl === galleryUrl) {
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
// swapped in, waits for the swap to settle and then acts on the new content.
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
document.addEventListener("htmx:afterSettle", function () {
  const dialog = currentLightbox();
  if (!queuedKey || !dialog || dialog.closest(BUSY) || dialog.querySelector(BUSY)) return;
  const key = queuedKey;
  queuedKey = null;
  handleLightboxKey(dialog, key);
});

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

function dismissLater() {
  document.querySelectorAll("[data-dismiss-after]:not([data-dismissing])").forEach(function (toast) {
    toast.setAttribute("data-dismissing", "");
    setTimeout(function () { toast.remove(); }, Number(toast.getAttribute("data-dismiss-after")) * 1000);
  });
}

// Deleting in the lightbox closes it: focus goes to the next result's card (else the
// previous one, else the first), so reviewing goes on from there.
let deletedFrom = null;
document.addEventListener("htmx:beforeRequest", function (event) {
  const elt = event.detail.elt;
  if (elt.matches("[data-delete-current]")) deletedFrom = [elt.dataset.nextId, elt.dataset.previousId];
});
document.addEventListener("htmx:afterSettle", function () {
  if (!deletedFrom || currentLightbox()) return;
  const candidates = deletedFrom.filter(Boolean).map(function (id) { return document.getElementById("card-" + id); });
  deletedFrom = null;
  const card = candidates.find(Boolean) || document.querySelector("[data-card]");
  const target = card ? card.querySelector(".result-media") : document.getElementById("gallery-title");
  if (target === document.getElementById("gallery-title")) target.setAttribute("tabindex", "-1");
  if (target) target.focus();
});

function onPageReady() {
  upgradeLightbox();
  updateSelection();
  dismissLater();
  // A swap that closed the lightbox (delete) gives the page its scrolling back.
  if (!currentLightbox()) document.documentElement.classList.remove("has-lightbox");
}
document.addEventListener("htmx:afterSwap", onPageReady);
onPageReady();
