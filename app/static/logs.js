// Log screens: "select all" for the dead letters' replay checkboxes (no inline handlers: CSP).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input.select-all").forEach(function (all) {
    var boxes = all.closest("table").querySelectorAll("tbody input[type=checkbox]");
    all.addEventListener("change", function () {
      boxes.forEach(function (box) { box.checked = all.checked; });
    });
  });
});
