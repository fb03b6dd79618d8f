// Generate: choose, drop or paste a photo for each slot and see it at once, or choose
// one from the library (a dialog htmx fills). Without this file the form still works.
import { formatBytes } from "./core.js";

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
