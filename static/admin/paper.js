/* Paper entry (templates/admin/paper_entry.html): Enter moves to the next box, as keyers expect;
   in the last box it saves the sheet. Without this script, Tab moves and Enter saves. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("paper-form");
    if (!form) return;
    var boxes = Array.prototype.slice.call(form.querySelectorAll("input[data-entry]"));
    var bad = form.querySelector("[aria-invalid=true]");
    if (bad) { bad.focus(); bad.select(); }
    boxes.forEach(function (box, i) {
      box.addEventListener("keydown", function (event) {
        if (event.key !== "Enter" || event.isComposing) return;
        event.preventDefault();
        if (i + 1 < boxes.length) { boxes[i + 1].focus(); boxes[i + 1].select(); }
        else if (form.requestSubmit) form.requestSubmit(); else form.submit();
      });
    });
  });
})();
