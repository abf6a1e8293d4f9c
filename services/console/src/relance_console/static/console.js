// Small helpers for the console: "select all" boxes and the upload progress bar.
document.addEventListener("change", function (event) {
  var box = event.target;
  if (box.matches && box.matches("input[data-select-all]")) {
    document.querySelectorAll("input[name='" + box.dataset.selectAll + "']").forEach(function (b) {
      b.checked = box.checked;
    });
  }
});
document.addEventListener("htmx:xhr:progress", function (event) {
  var bar = document.getElementById("upload-progress");
  if (bar && event.detail.lengthComputable) {
    bar.hidden = false;
    if (event.detail.loaded < event.detail.total) {
      bar.value = Math.round((event.detail.loaded / event.detail.total) * 100);
    } else {
      bar.removeAttribute("value"); // sent: the server imports it, the bar runs until the report
    }
  }
});
document.addEventListener("htmx:afterRequest", function () {
  var bar = document.getElementById("upload-progress");
  if (bar) { bar.hidden = true; bar.value = 0; }
});
// A block refreshes itself only while the user is not filling one of its forms, so
// nothing typed or chosen is lost.
window.relanceIdle = function (id) {
  var block = document.getElementById(id);
  if (!block) return true;
  var active = document.activeElement;
  if (active && block.contains(active) && active.matches("input, textarea, select")) return false;
  var files = block.querySelectorAll("input[type=file]");
  for (var i = 0; i < files.length; i++) { if (files[i].files.length) return false; }
  return !block.querySelector("details[open]");
};
// Refusals (4xx) and failures (5xx) are shown where the answer was asked for.
document.addEventListener("DOMContentLoaded", function () {
  if (window.htmx) {
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "[45]..", swap: true, error: true },
    ];
  }
});
