// The library: several files added at once, by chooser or drop; their names are listed.
import "./core.js";

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
