/* Optional comfort for the resident form; everything works without it.
   Keeps a draft in localStorage (answers and the signed ticket, so the server's timing
   still starts when the form was first opened), shows how many questions are answered,
   counts characters, and stops a second tap on 提交. */
(function () {
  "use strict";
  var store = null;
  try { store = window.localStorage; store.getItem("x"); } catch (e) { store = null; }
  var key = "pingan-draft:" + location.pathname;
  if (document.body.hasAttribute("data-clear-draft")) {
    if (store) store.removeItem(key);
    return;
  }
  var form = document.getElementById("survey");
  if (!form) return;
  var questions = form.querySelectorAll("fieldset[data-q]");
  var bar = document.getElementById("progress");
  var button = form.querySelector("button[type=submit]");
  var label = button.textContent;

  function answered(q) {
    if (q.querySelector("input:checked")) return true;
    var t = q.querySelector("textarea");
    return !!(t && t.value.replace(/\s/g, ""));
  }
  function update() {
    var done = 0;
    for (var i = 0; i < questions.length; i++) if (answered(questions[i])) done++;
    bar.hidden = false;
    bar.firstChild.textContent = form.getAttribute("data-progress").replace("{done}", done).replace("{total}", questions.length);
    bar.querySelector("b").style.width = (100 * done / questions.length) + "%";
    var areas = form.querySelectorAll("textarea[data-count]");
    for (var j = 0; j < areas.length; j++) {
      var out = areas[j].nextElementSibling;
      if (!out || out.className !== "count") {
        out = document.createElement("p");
        out.className = "count";
        areas[j].parentNode.insertBefore(out, areas[j].nextSibling);
      }
      out.textContent = areas[j].getAttribute("data-count").replace("{n}", areas[j].value.length);
    }
  }
  function save() {
    if (!store) return;
    var draft = {}, els = form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!el.name || el.name === "csrf_token") continue;
      if (el.type === "radio") { if (el.checked) draft[el.name] = el.value; }
      else if (el.tagName === "TEXTAREA" || el.name === "ticket") draft[el.name] = el.value;
    }
    try { store.setItem(key, JSON.stringify(draft)); } catch (e) { /* storage full: no draft */ }
  }
  function restore() {
    // After a submission the server's page holds the answers; a draft must not override them.
    if (!store || form.hasAttribute("data-server-values") || form.querySelector("input:checked")) return;
    var draft;
    try { draft = JSON.parse(store.getItem(key) || "null"); } catch (e) { draft = null; }
    if (!draft) return;
    var els = form.elements;
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      if (!(el.name in draft)) continue;
      if (el.type === "radio") el.checked = el.value === draft[el.name];
      else if (el.tagName === "TEXTAREA" || el.name === "ticket") el.value = draft[el.name];
    }
  }
  restore();
  update();
  form.addEventListener("change", function () { update(); save(); });
  form.addEventListener("input", function () { update(); save(); });
  form.addEventListener("submit", function () {
    setTimeout(function () { button.disabled = true; button.textContent = button.getAttribute("data-busy"); }, 0);
  });
  window.addEventListener("pageshow", function () { button.disabled = false; button.textContent = label; });
  var notice = document.getElementById("notice");
  if (notice) notice.focus();
})();
