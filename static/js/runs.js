// Matrix runs: several new files per slot (chooser or drop) with previews to remove,
// the live "N × M = K jobs" count and size check, and the run page's progress bars.
// No inline scripts (CSP); the form works without this file, only less helpfully.
import { formatBytes } from "./core.js";
import { finishedWhileAway } from "./notify.js";

// The files chosen so far, per slot: choosing again adds to them rather than
// replacing them, and each can be removed; the file input always holds them all.
const chosenFiles = new WeakMap();

function filesOf(slot) {
  if (!chosenFiles.has(slot)) chosenFiles.set(slot, []);
  return chosenFiles.get(slot);
}

function sameFile(a, b) {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

function syncInput(slot) {
  const input = slot.querySelector("[data-run-files]");
  const transfer = new DataTransfer();
  filesOf(slot).forEach(function (file) { transfer.items.add(file); });
  input.files = transfer.files;
}

function drawFiles(slot) {
  const list = slot.querySelector("[data-new-files]");
  list.querySelectorAll("img[data-object-url]").forEach(function (img) { URL.revokeObjectURL(img.dataset.objectUrl); });
  list.textContent = "";
  const label = slot.dataset.slotLabel;
  filesOf(slot).forEach(function (file, index) {
    const item = document.createElement("li");
    item.className = "new-file";
    const img = document.createElement("img");
    img.alt = "";
    img.width = 48;
    img.height = 60;
    const url = URL.createObjectURL(file);
    img.dataset.objectUrl = url;
    img.src = url;
    const text = document.createElement("span");
    text.className = "new-file-name";
    text.textContent = file.name + " · " + formatBytes(file.size);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "button button-quiet button-small";
    remove.dataset.removeFile = String(index);
    remove.textContent = "Remove";
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = " " + file.name + " from the " + label + " files";
    remove.appendChild(hidden);
    item.append(img, text, remove);
    list.appendChild(item);
  });
}

function addFiles(slot, files) {
  const kept = filesOf(slot);
  Array.prototype.forEach.call(files, function (file) {
    if (file.type && file.type.indexOf("image/") !== 0) return;
    if (!kept.some(function (each) { return sameFile(each, file); })) kept.push(file);
  });
  syncInput(slot);
  drawFiles(slot);
  update(slot.closest("[data-run-form]"));
}

function update(form) {
  if (!form) return;
  const slots = Array.prototype.slice.call(form.querySelectorAll("[data-run-slot]"));
  const counts = slots.map(function (slot) {
    const ticked = slot.querySelectorAll("[data-pick]:checked").length;
    const count = ticked + filesOf(slot).length;
    slot.querySelector("[data-slot-count]").textContent = count + " chosen";
    return count;
  });
  const total = counts.reduce(function (product, count) { return product * count; }, 1);
  const parts = slots.map(function (slot, index) {
    return counts[index] + " " + slot.dataset.slotLabel + (counts[index] === 1 ? "" : "s");
  });
  const maxJobs = Number(form.dataset.maxJobs);
  const output = form.querySelector("[data-run-count]");
  output.textContent = "";
  output.append(parts.join(" × ") + " = ");
  const strong = document.createElement("strong");
  strong.textContent = total + " job" + (total === 1 ? "" : "s");
  output.appendChild(strong);
  if (total > maxJobs) {
    output.append(" · one run sends at most " + maxJobs + ": untick some images");
    output.classList.add("is-over");
  } else {
    output.classList.remove("is-over");
  }
  const bytes = slots.reduce(function (sum, slot) {
    return sum + filesOf(slot).reduce(function (inner, file) { return inner + file.size; }, 0);
  }, 0);
  const limit = Number(form.dataset.requestMax);
  const sizeError = form.querySelector("[data-run-size-error]");
  const tooBig = bytes > limit;
  sizeError.hidden = !tooBig;
  sizeError.textContent = tooBig
    ? "These new files are " + formatBytes(bytes) + " together; one send can carry at most " + form.dataset.requestMaxText +
      ". Remove some, press “Add files and keep choosing”, then add the rest."
    : "";
  form.querySelector("[data-run-start]").disabled = tooBig || total > maxJobs;
  form.querySelector("[data-run-keep]").disabled = tooBig;
}

document.addEventListener("change", function (event) {
  const target = event.target;
  if (target.matches("[data-run-files]")) {
    const slot = target.closest("[data-run-slot]");
    // The input now holds only the newest choice: add it to those chosen before.
    const fresh = Array.prototype.slice.call(target.files);
    addFiles(slot, fresh);
  } else if (target.matches("[data-pick]")) {
    update(target.closest("[data-run-form]"));
  }
});

document.addEventListener("click", function (event) {
  const remove = event.target.closest && event.target.closest("[data-remove-file]");
  if (!remove) return;
  const slot = remove.closest("[data-run-slot]");
  const index = Number(remove.dataset.removeFile);
  filesOf(slot).splice(index, 1);
  syncInput(slot);
  drawFiles(slot);
  update(slot.closest("[data-run-form]"));
  const next = slot.querySelectorAll("[data-remove-file]")[Math.min(index, filesOf(slot).length - 1)];
  (next || slot.querySelector("[data-run-files]")).focus();
});

document.addEventListener("drop", function (event) {
  const zone = event.target.closest && event.target.closest("[data-run-dropzone]");
  if (!zone) return;
  event.preventDefault();
  if (event.dataTransfer && event.dataTransfer.files.length) addFiles(zone.closest("[data-run-slot]"), event.dataTransfer.files);
});

// Enter or "Search" in a library search searches in place (htmx) rather than loading
// the page again through its own small GET form, which would drop the files chosen.
document.addEventListener("keydown", function (event) {
  if (event.key !== "Enter" || !window.htmx) return;
  const search = event.target.closest && event.target.closest("[data-picker-search]");
  if (!search) return;
  event.preventDefault();
  htmx.trigger(search, "search");
});
document.addEventListener("click", function (event) {
  const button = event.target.closest && event.target.closest("[data-picker-search-button]");
  if (!button || !window.htmx) return;
  event.preventDefault();
  htmx.trigger(button.closest("[data-run-slot]").querySelector("[data-picker-search]"), "search");
});

// The progress bars' shares: widths set here, as the CSP allows no inline styles.
function drawBars() {
  document.querySelectorAll(".progress-bar [data-share]").forEach(function (part) {
    part.style.width = Math.max(0, Math.min(100, Number(part.dataset.share))) + "%";
  });
}

// A run this page saw going that has now finished: told if the tab is hidden (notify.js).
let runGoing = false;
function plural(count, word) {
  return count + " " + word + (count === 1 ? "" : "s");
}
function watchRun() {
  const live = document.getElementById("run-live");
  if (!live) return;
  const run = live.dataset;
  if (run.runFinished !== "true") {
    runGoing = true;
    return;
  }
  if (!runGoing) return;
  runGoing = false;
  const failed = Number(run.runFailed);
  const cancelled = Number(run.runCancelled);
  const counts = [plural(Number(run.runDone), "result")];
  if (failed) counts.push(failed + " failed");
  if (cancelled) counts.push(cancelled + " cancelled");
  const told = counts.join(", ");
  finishedWhileAway({
    tag: "run-" + run.runName,
    title: failed ? "Run finished, " + failed + " failed" : "✓ Run finished",
    heading: run.runName + " finished",
    body: run.runWhat + ": " + told + ".",
    toast: run.runName + " (" + run.runWhat + ") finished: " + told + ".",
  });
}

function ready() {
  watchRun();
  drawBars();
  document.querySelectorAll("[data-run-form]").forEach(update);
}
document.addEventListener("htmx:afterSettle", ready);
ready();
