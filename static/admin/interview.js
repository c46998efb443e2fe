/* The phone interview (templates/admin/interview.html): a digit typed in the answer box, or
   pressed anywhere on the page, ticks the option read out with that number; Enter submits the
   form as it does without this script. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.getElementById("interview-form");
    var key = document.getElementById("key");
    if (!form || !key) return;
    var boxes = form.querySelectorAll("input[name=choice]");
    function sync() {
      var digits = key.value.replace(/[^0-9]/g, " ").trim().split(/\s+/);
      if (digits.length === 1 && digits[0].length > 1 && boxes.length && boxes[0].type === "checkbox") digits = digits[0].split("");
      boxes.forEach(function (box) { box.checked = digits.indexOf(box.getAttribute("data-digit")) >= 0; });
    }
    key.addEventListener("input", sync);
    document.addEventListener("keydown", function (event) {
      if (event.target === key || event.ctrlKey || event.metaKey || event.altKey) return;
      if (/^[0-9]$/.test(event.key)) {
        key.focus();
        key.value = boxes.length && boxes[0].type === "checkbox" ? (key.value + " " + event.key).trim() : event.key;
        sync();
        event.preventDefault();
      }
    });
    boxes.forEach(function (box) {
      box.addEventListener("change", function () {
        var picked = [];
        boxes.forEach(function (b) { if (b.checked) picked.push(b.getAttribute("data-digit")); });
        key.value = picked.join(" ");
      });
    });
  });
})();
