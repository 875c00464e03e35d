/* Dashboard behaviour that the CSP forbids inline: mass actions, filter links, confirmations. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var action = event.target.closest("[data-model-action]");
    if (action && window.modelActions) {
      event.preventDefault();
      window.modelActions.execute(action.getAttribute("data-model-action"));
      return;
    }
    if (event.target.closest("a.filter, a[href='#']")) {
      event.preventDefault();
    }
  });
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
  // A field shown only while a checkbox is ticked (or while it shows an error).
  function toggleDependents() {
    document.querySelectorAll("[data-shown-if]").forEach(function (block) {
      var box = document.getElementById(block.getAttribute("data-shown-if"));
      var show = !box || box.checked || block.querySelector(".is-invalid") !== null;
      block.classList.toggle("d-none", !show);
    });
  }
  document.addEventListener("change", toggleDependents);
  document.addEventListener("DOMContentLoaded", toggleDependents);
})();
