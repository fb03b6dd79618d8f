// Generate: choose, drop or paste a photo for each slot and see it at once, or choose
// one from the library (a dialog htmx fills). A chosen photo is uploaded at once, with
// its progress shown in the slot, and kept by the server as a draft: the slot then
// holds only its reference (the `__kept` field, as for a library image), so Generate
// sends no file and the job is created as soon as it is pressed. Without this file the
// form still works, sending its files with the job.
import { formatBytes, toast } from "./core.js";
import { finishedWhileAway } from "./notify.js";

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

// --- Uploading a photo as soon as it is chosen ----------------------------------------

// The upload under way in each slot (an XMLHttpRequest: fetch reports no upload
// progress), and a promise Generate waits for before it sends the form.
const uploads = new Map();

function slotName(slot) {
  return slot.dataset.slot;
}

function showUploadError(slot, message) {
  const name = slotName(slot);
  let errors = slot.querySelector("#" + name + "-errors");
  if (!errors) {
    errors = document.createElement("div");
    errors.className = "field-error";
    errors.id = name + "-errors";
    errors.setAttribute("role", "alert");
    errors.tabIndex = -1;
    slot.appendChild(errors);
    const input = slot.querySelector("input[type=file]");
    input.setAttribute("aria-describedby", (input.getAttribute("aria-describedby") || "") + " " + errors.id);
  }
  const line = document.createElement("p");
  line.textContent = message;
  errors.replaceChildren(line);
  slot.classList.add("has-error");
}

function clearUploadError(slot) {
  const errors = slot.querySelector("#" + slotName(slot) + "-errors");
  if (errors) errors.remove();
  const input = slot.querySelector("input[type=file]");
  const describedBy = (input.getAttribute("aria-describedby") || "").split(" ").filter(function (id) {
    return id && id !== slotName(slot) + "-errors";
  });
  input.setAttribute("aria-describedby", describedBy.join(" "));
  slot.classList.remove("has-error");
  delete slot.dataset.refused;
}

function stopUpload(slot) {
  const running = uploads.get(slot);
  uploads.delete(slot);
  if (running) {
    running.stopped = true;
    running.request.abort();
  }
  const progress = slot.querySelector("[data-upload-progress]");
  progress.hidden = true;
  progress.value = 0;
  delete slot.dataset.uploading;
}

// The photos the form holds in its other slots: the server keeps them when it drops a
// designer's oldest drafts to make room for this one.
function otherKept(slot) {
  const form = slot.closest("form");
  return Array.prototype.filter.call(form.querySelectorAll("[data-slot]"), function (other) {
    return other !== slot && other.querySelector("[data-kept]").value;
  }).map(function (other) { return other.querySelector("[data-kept]").value; });
}

function keepReference(slot, reference) {
  const input = slot.querySelector("input[type=file]");
  const preview = slot.querySelector("[data-preview-image]");
  const meta = slot.querySelector("[data-file-meta]");
  // The file stays on this page only as its reference: Generate sends no bytes.
  input.value = "";
  slot.querySelector("[data-kept]").value = reference.id;
  slot.dataset.uploaded = reference.id;
  const objectUrl = preview.dataset.objectUrl;
  delete preview.dataset.objectUrl;
  preview.onload = function () { if (objectUrl) URL.revokeObjectURL(objectUrl); };
  preview.onerror = null;
  preview.src = reference.thumbnail;
  const name = document.createElement("span");
  name.className = "file-name";
  name.textContent = reference.name;
  meta.replaceChildren(name, " · " + reference.detail);
}

// A file the server refused is not kept: only its name stays, above the reason.
function refuse(slot, file, message) {
  const input = slot.querySelector("input[type=file]");
  const preview = slot.querySelector("[data-preview-image]");
  input.value = "";
  if (preview.dataset.objectUrl) URL.revokeObjectURL(preview.dataset.objectUrl);
  delete preview.dataset.objectUrl;
  preview.onload = null;
  preview.onerror = null;
  preview.removeAttribute("src");
  preview.hidden = true;
  slot.querySelector("[data-file-meta]").textContent = file.name;
  slot.querySelector("[data-dropzone]").classList.remove("has-file");
  slot.querySelector("[data-clear-slot]").hidden = true;
  showUploadError(slot, message);
  slot.dataset.refused = "true";
}

// A slot whose file was refused holds Generate back, its reason in view: sent, the form
// would only say the slot is empty, and the reason would be gone.
function heldByARefusal(form) {
  const slot = form.querySelector("[data-slot][data-refused]");
  if (!slot) return false;
  const reason = slot.querySelector("[role=alert]");
  reason.focus();
  reason.scrollIntoView({ block: "center" });
  return true;
}

function answerOf(request) {
  try {
    return JSON.parse(request.responseText);
  } catch (error) {
    return null;
  }
}

function uploadPhoto(slot, file) {
  stopUpload(slot);
  clearUploadError(slot);
  slot.querySelector("[data-kept]").value = "";
  delete slot.dataset.uploaded;
  const form = slot.closest("form");
  const progress = slot.querySelector("[data-upload-progress]");
  const body = new FormData();
  body.append("photo", file);
  otherKept(slot).forEach(function (id) { body.append("keep", id); });
  const request = new XMLHttpRequest();
  request.open("POST", slot.dataset.uploadUrl);
  request.setRequestHeader("X-CSRFToken", form.querySelector("[name=csrfmiddlewaretoken]").value);
  request.setRequestHeader("Accept", "application/json");
  request.upload.addEventListener("progress", function (event) {
    if (event.lengthComputable) progress.value = Math.round((event.loaded / event.total) * 100);
  });
  progress.value = 0;
  progress.hidden = false;
  slot.dataset.uploading = "true";
  const upload = { request: request, stopped: false };
  upload.done = new Promise(function (resolve) {
    request.addEventListener("loadend", function () {
      // Replaced by another photo, removed, or a library image chosen instead.
      if (upload.stopped) return resolve();
      uploads.delete(slot);
      progress.hidden = true;
      delete slot.dataset.uploading;
      const answer = answerOf(request);
      if (request.status === 201 && answer && answer.id) {
        keepReference(slot, answer);
      } else if (answer && answer.error) {
        refuse(slot, file, answer.error);
      } else {
        // Not uploaded (the connection, a session that expired): the file stays in its
        // input and goes with the form, checked there as it always was.
        toast("The photo could not be uploaded yet: it will be sent with the job.");
      }
      resolve();
    });
  });
  uploads.set(slot, upload);
  request.send(body);
}

function pickFile(slot, file) {
  showFile(slot, file);
  if (slot.dataset.uploadUrl) uploadPhoto(slot, file);
}

function setSlotFile(slot, file) {
  const input = slot.querySelector("input[type=file]");
  const transfer = new DataTransfer();
  transfer.items.add(file);
  input.files = transfer.files;
  pickFile(slot, file);
}

function clearSlot(slot) {
  const input = slot.querySelector("input[type=file]");
  const preview = slot.querySelector("[data-preview-image]");
  stopUpload(slot);
  clearUploadError(slot);
  input.value = "";
  slot.querySelector("[data-kept]").value = "";
  delete slot.dataset.uploaded;
  slot.querySelector("[data-file-meta]").textContent = "";
  slot.querySelector("[data-dropzone]").classList.remove("has-file");
  slot.querySelector("[data-clear-slot]").hidden = true;
  preview.removeAttribute("src");
  preview.hidden = true;
  input.focus();
}

// Generate waits for the uploads still under way, then sends the references (unless one
// of them was refused).
document.addEventListener("htmx:confirm", function (event) {
  const form = event.detail.elt;
  if (!form.matches || !form.matches("[data-generate-form]")) return;
  const pending = Array.from(uploads.entries()).filter(function (entry) {
    return form.contains(entry[0]);
  }).map(function (entry) { return entry[1].done; });
  if (!pending.length) {
    if (heldByARefusal(form)) event.preventDefault();
    return;
  }
  event.preventDefault();
  // Pressed again while waiting: the one send already waiting is enough.
  if (form.dataset.waitingForUploads) return;
  form.dataset.waitingForUploads = "true";
  form.setAttribute("aria-busy", "true");
  Promise.all(pending).then(function () {
    delete form.dataset.waitingForUploads;
    form.removeAttribute("aria-busy");
    if (!heldByARefusal(form)) event.detail.issueRequest(true);
  });
});

document.addEventListener("change", function (event) {
  const input = event.target;
  if (!input.matches || !input.matches(".dropzone-input")) return;
  const slot = input.closest("[data-slot]");
  if (input.files && input.files[0]) pickFile(slot, input.files[0]);
});

document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("[data-clear-slot]");
  if (button) clearSlot(button.closest("[data-slot]"));
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

// --- Choosing an image for a slot from the library ----------------------------------

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
  stopUpload(slot);
  clearUploadError(slot);
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

// --- Jobs that end while the tab is hidden -----------------------------------------

// The tray's cards say which jobs run and how each ended: those that ended while the tab
// was hidden are told (notify.js) once none of the designer's jobs runs any more, all of
// them until the tab is seen (a second batch's news counts the first one's too).
let runningJobs = new Set();
let endedAway = [];
let toldOf = 0;
function trayCards(tray, selector) {
  return Array.prototype.map.call(tray.querySelectorAll(selector), function (card) { return card.id; });
}
function countOf(count, one, many) {
  return count + " " + (count === 1 ? one : many);
}
function watchTray() {
  const tray = document.getElementById("job-tray");
  if (!tray) return;
  const running = new Set(trayCards(tray, ".job-card.job-pending"));
  if (document.visibilityState === "hidden") {
    runningJobs.forEach(function (id) { if (!running.has(id)) endedAway.push(id); });
  }
  runningJobs = running;
  if (running.size || Number(tray.dataset.running) || endedAway.length === toldOf) return;
  toldOf = endedAway.length;
  const among = function (ids) { return endedAway.filter(function (id) { return ids.includes(id); }).length; };
  const ready = among(trayCards(tray, ".job-card.job-complete"));
  const failed = among(trayCards(tray, ".job-card.job-error"));
  if (!ready && !failed) return;  // gone from the tray meanwhile (moved to the trash)
  const told = ready ? countOf(ready, "result ready", "results ready") + (failed ? ", " + failed + " failed" : "")
    : countOf(failed, "job failed", "jobs failed");
  finishedWhileAway({
    tag: "jobs",
    title: (failed ? "" : "✓ ") + told,
    heading: ready + failed === 1 ? "Your job has finished" : "Your jobs have finished",
    body: told + ".",
    toast: told + ": see Recent jobs.",
  });
}
document.addEventListener("visibilitychange", function () {
  if (document.visibilityState !== "visible") return;
  endedAway = [];  // seen in the tray now
  toldOf = 0;
});
document.addEventListener("htmx:afterSettle", watchTray);
watchTray();
