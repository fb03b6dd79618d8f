// Small behaviours htmx does not cover. Loaded with `defer`; no inline scripts (CSP).
(function () {
  "use strict";

  // A swap that fails at the network level would otherwise do nothing visible.
  function showToast(text) {
    let region = document.getElementById("toast-region");
    if (!region) {
      region = document.createElement("div");
      region.id = "toast-region";
      region.className = "toast-region";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    const toast = document.createElement("p");
    toast.className = "toast";
    toast.textContent = text;
    region.appendChild(toast);
    setTimeout(function () { toast.remove(); }, 6000);
  }
  window.nextryToast = showToast;

  document.addEventListener("htmx:sendError", function () {
    showToast("The dashboard could not be reached. Check your connection; nothing was lost.");
  });
  document.addEventListener("htmx:responseError", function (event) {
    const xhr = event.detail.xhr;
    // Responses that carry their own message (HX-Trigger: showMessage) say it themselves.
    if (xhr && xhr.getResponseHeader("HX-Trigger")) return;
    const status = xhr ? xhr.status : 0;
    showToast(status === 403
      ? "Your session has expired. Reload the page to log in again."
      : "Something went wrong on our side. Please try again.");
  });
  document.body.addEventListener("showMessage", function (event) {
    if (event.detail && event.detail.value) showToast(event.detail.value);
  });

  // --- Image slots: choose, drop or paste a file, and see it at once -------------------

  // The same rules as describe_size in dashboard/core/display.py, so a size reads the same
  // before and after the upload.
  function formatBytes(bytes) {
    const units = [[1024 * 1024 * 1024, "GB"], [1024 * 1024, "MB"], [1024, "KB"]];
    for (const [size, unit] of units) {
      if (bytes >= size) return String(Math.round((bytes * 10) / size) / 10) + " " + unit;
    }
    return bytes === 1 ? "1 byte" : bytes + " bytes";
  }

  function showFile(slot, file) {
    const preview = slot.querySelector("[data-preview-image]");
    const meta = slot.querySelector("[data-file-meta]");
    const zone = slot.querySelector("[data-dropzone]");
    const clear = slot.querySelector("[data-clear-slot]");
    if (preview.dataset.objectUrl) URL.revokeObjectURL(preview.dataset.objectUrl);
    const url = URL.createObjectURL(file);
    preview.dataset.objectUrl = url;
    meta.textContent = file.name + " · " + formatBytes(file.size);
    preview.onload = function () {
      meta.textContent = file.name + " · " + formatBytes(file.size) + " · " +
        preview.naturalWidth + " × " + preview.naturalHeight + " px";
    };
    preview.onerror = function () {
      meta.textContent = file.name + " · " + formatBytes(file.size) + " · this file does not look like an image";
    };
    preview.src = url;
    preview.hidden = false;
    zone.classList.add("has-file");
    clear.hidden = false;
  }

  function setSlotFile(slot, file) {
    const input = slot.querySelector("input[type=file]");
    const transfer = new DataTransfer();
    transfer.items.add(file);
    input.files = transfer.files;
    showFile(slot, file);
  }

  function clearSlot(slot) {
    const input = slot.querySelector("input[type=file]");
    const preview = slot.querySelector("[data-preview-image]");
    input.value = "";
    slot.querySelector("[data-kept]").value = "";
    slot.querySelector("[data-file-meta]").textContent = "";
    slot.querySelector("[data-dropzone]").classList.remove("has-file");
    slot.querySelector("[data-clear-slot]").hidden = true;
    preview.removeAttribute("src");
    preview.hidden = true;
    input.focus();
  }

  document.addEventListener("change", function (event) {
    const input = event.target;
    if (!input.matches || !input.matches(".dropzone-input")) return;
    const slot = input.closest("[data-slot]");
    if (input.files && input.files[0]) showFile(slot, input.files[0]);
  });

  document.addEventListener("click", function (event) {
    const button = event.target.closest && event.target.closest("[data-clear-slot]");
    if (button) clearSlot(button.closest("[data-slot]"));
  });

  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const zone = event.target.closest && event.target.closest("[data-dropzone], [data-multi-dropzone]");
      if (!zone) return;
      event.preventDefault();
      zone.classList.add("is-dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    document.addEventListener(type, function (event) {
      const zone = event.target.closest && event.target.closest("[data-dropzone], [data-multi-dropzone]");
      if (zone) zone.classList.remove("is-dragging");
    });
  });
  document.addEventListener("drop", function (event) {
    const zone = event.target.closest && event.target.closest("[data-dropzone]");
    if (!zone) return;
    event.preventDefault();
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) setSlotFile(zone.closest("[data-slot]"), file);
  });

  // A pasted image goes to the focused slot, else the first empty one.
  document.addEventListener("paste", function (event) {
    const form = document.querySelector("[data-generate-form]");
    if (!form || !event.clipboardData) return;
    const item = Array.prototype.find.call(event.clipboardData.items, function (entry) {
      return entry.kind === "file" && entry.type.indexOf("image/") === 0;
    });
    if (!item) return;
    const focused = document.activeElement && document.activeElement.closest("[data-slot]");
    const slots = Array.prototype.slice.call(form.querySelectorAll("[data-slot]"));
    const target = focused || slots.find(function (slot) {
      return !slot.querySelector("[data-dropzone]").classList.contains("has-file");
    }) || slots[0];
    const blob = item.getAsFile();
    const extension = (blob.type.split("/")[1] || "png").replace("jpeg", "jpg");
    const file = new File([blob], blob.name && blob.name !== "image." + extension ? blob.name : "pasted-image." + extension, { type: blob.type });
    event.preventDefault();
    setSlotFile(target, file);
  });

  // --- The library: choosing an image for a slot, adding several files ----------------

  // "Choose from library" loads the slot's picker into the dialog (htmx); here it opens
  // as a modal, and a choice fills the slot in place of a file (its `__kept` field).
  // Without JavaScript the picker is a page and a choice a link back to the form.
  let pickerOpener = null;
  function pickerDialog() {
    return document.getElementById("library-picker");
  }
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (event.detail.elt.matches("[data-open-picker]")) pickerOpener = event.detail.elt;
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    const dialog = pickerDialog();
    if (!dialog || event.detail.target !== dialog) return;
    if (!dialog.open) dialog.showModal();
    const search = dialog.querySelector("[data-picker-search]");
    if (search) search.focus();
  });
  function closePicker() {
    const dialog = pickerDialog();
    if (!dialog) return;
    if (dialog.open) dialog.close();
    dialog.innerHTML = "";
    if (pickerOpener && pickerOpener.isConnected) pickerOpener.focus();
  }
  document.addEventListener("close", function (event) {
    if (event.target === pickerDialog() && event.target.innerHTML) closePicker();
  }, true);
  function chooseFromLibrary(choice) {
    const dialog = pickerDialog();
    const picker = dialog.querySelector("[data-picker-for]");
    const form = document.querySelector("[data-generate-form]");
    const slot = form && form.querySelector('[data-slot="' + picker.dataset.pickerFor + '"]');
    if (!slot) return false;
    const input = slot.querySelector("input[type=file]");
    const preview = slot.querySelector("[data-preview-image]");
    const meta = slot.querySelector("[data-file-meta]");
    input.value = "";
    if (preview.dataset.objectUrl) URL.revokeObjectURL(preview.dataset.objectUrl);
    delete preview.dataset.objectUrl;
    preview.onload = null;
    preview.onerror = null;
    preview.src = choice.dataset.thumbUrl;
    preview.hidden = false;
    slot.querySelector("[data-kept]").value = choice.dataset.imageId;
    meta.textContent = "";
    const name = document.createElement("span");
    name.className = "file-name";
    name.textContent = choice.dataset.fileName;
    meta.append(name, " · from the library · " + choice.dataset.fileDetail);
    slot.querySelector("[data-dropzone]").classList.add("has-file");
    slot.querySelector("[data-clear-slot]").hidden = false;
    pickerOpener = slot.querySelector("[data-open-picker]");
    closePicker();
    return true;
  }
  document.addEventListener("click", function (event) {
    const dialog = pickerDialog();
    if (!dialog || !dialog.contains(event.target)) return;
    const close = event.target.closest("[data-close-picker]");
    if (close) {
      event.preventDefault();
      closePicker();
      return;
    }
    const choice = event.target.closest("[data-pick]");
    if (choice && chooseFromLibrary(choice)) event.preventDefault();
  });

  // Adding to the library: several files by chooser or drop; their names are listed.
  function listChosen(input) {
    const list = input.closest("form").querySelector("[data-chosen-files]");
    const names = Array.prototype.map.call(input.files, function (file) { return file.name; });
    list.textContent = names.length ? names.length + (names.length === 1 ? " file: " : " files: ") + names.join(", ") : "";
    input.closest("[data-multi-dropzone]").classList.toggle("has-files", names.length > 0);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("[data-multi-dropzone] input[type=file]")) listChosen(event.target);
  });
  document.addEventListener("drop", function (event) {
    const zone = event.target.closest && event.target.closest("[data-multi-dropzone]");
    if (!zone || !event.dataTransfer || !event.dataTransfer.files.length) return;
    event.preventDefault();
    const input = zone.querySelector("input[type=file]");
    input.files = event.dataTransfer.files;
    listChosen(input);
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    const form = event.detail.elt;
    if (!form.matches || !form.matches("[data-library-add]") || !event.detail.successful) return;
    form.querySelector("input[type=file]").value = "";
    listChosen(form.querySelector("input[type=file]"));
  });

  // --- Running jobs: elapsed time ticks between polls ---------------------------------

  // The same rule as elapsed() in dashboard/core/display.py.
  function elapsedText(since) {
    const seconds = Math.max(0, Math.round((Date.now() - since) / 1000));
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min " + (seconds % 60) + " s";
    return Math.floor(minutes / 60) + " h " + (minutes % 60) + " min";
  }
  function tick() {
    document.querySelectorAll("[data-elapsed-since]").forEach(function (node) {
      const since = Date.parse(node.getAttribute("data-elapsed-since"));
      if (!isNaN(since)) node.textContent = elapsedText(since);
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("htmx:afterSettle", tick);
  tick();

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

  // --- Trash: the "Undo" toast goes after its time; deleting for good asks first ------

  function dismissLater() {
    document.querySelectorAll("[data-dismiss-after]:not([data-dismissing])").forEach(function (toast) {
      toast.setAttribute("data-dismissing", "");
      setTimeout(function () { toast.remove(); }, Number(toast.getAttribute("data-dismiss-after")) * 1000);
    });
  }
  document.addEventListener("submit", function (event) {
    const form = event.target.closest && event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });

  // --- Focus after an action: where a keyboard user goes next -------------------------

  // The server marks what to focus after a swap (the new tray card after Generate, the
  // first error when it was refused): data-focus-after-swap.
  function focusMarked() {
    const marked = document.querySelector("[data-focus-after-swap]");
    if (!marked) return;
    marked.removeAttribute("data-focus-after-swap");
    marked.focus();
  }

  // A rating replaces its button group: the button that was pressed stays focused.
  let ratedFrom = null;
  // Deleting in the lightbox closes it: focus goes to the next result's card (else the
  // previous one, else the first), so reviewing goes on from there.
  let deletedFrom = null;
  document.addEventListener("htmx:beforeRequest", function (event) {
    const elt = event.detail.elt;
    if (elt.matches("[data-feedback]") && document.activeElement === elt) {
      ratedFrom = { container: elt.closest(".feedback").parentElement, name: elt.dataset.feedback };
    } else if (elt.matches("[data-delete-current]")) {
      deletedFrom = [elt.dataset.nextId, elt.dataset.previousId];
    }
  });
  function focusAfterAction() {
    if (ratedFrom) {
      const button = ratedFrom.container.isConnected && ratedFrom.container.querySelector(".feedback [data-feedback=" + ratedFrom.name + "]");
      ratedFrom = null;
      if (button) button.focus();
    }
    if (deletedFrom && !currentLightbox()) {
      const candidates = deletedFrom.filter(Boolean).map(function (id) { return document.getElementById("card-" + id); });
      deletedFrom = null;
      const card = candidates.find(Boolean) || document.querySelector("[data-card]");
      const target = card ? card.querySelector(".result-media") : document.getElementById("gallery-title");
      if (target === document.getElementById("gallery-title")) target.setAttribute("tabindex", "-1");
      if (target) target.focus();
    }
    focusMarked();
  }
  document.addEventListener("htmx:afterSettle", focusAfterAction);

  function onPageReady() {
    upgradeLightbox();
    updateSelection();
    dismissLater();
    // A swap that closed the lightbox (delete) gives the page its scrolling back.
    if (!currentLightbox()) document.documentElement.classList.remove("has-lightbox");
  }
  document.addEventListener("htmx:afterSwap", onPageReady);
  onPageReady();
  focusMarked();  // a page drawn whole (without htmx) after Generate, likewise
})();
