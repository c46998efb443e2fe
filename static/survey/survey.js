/* Optional comfort for the resident form; everything works without it.
   Keeps a draft in localStorage (answers and the signed ticket, so the server's timing
   still starts when the form was first opened), shows how many questions are answered,
   counts characters, and stops a second tap on 提交. It also applies the questionnaire's
   rules as the resident answers: a `show_if` question appears only when its condition is met
   (its inputs are disabled while hidden, so they are not sent), a screening answer hides the
   rest and says the questionnaire ends here, and a `multiple` question takes at most its
   maximum. The server checks every one of these rules again (survey/forms.py). */
(function () {
  "use strict";
  document.documentElement.className += " js";
  var store = null;
  try { store = window.localStorage; store.getItem("x"); } catch (e) { store = null; }
  var key = "pingan-draft:" + location.pathname;
  if (document.body.hasAttribute("data-clear-draft")) {
    if (store) store.removeItem(key);
    return;
  }
  var form = document.getElementById("survey");
  if (!form) return;
  // A 网格员's shared phone (admin/collect_views.py) keeps no draft: the next resident starts blank.
  if (form.hasAttribute("data-no-draft")) store = null;
  var questions = form.querySelectorAll("fieldset[data-q]");
  var bar = document.getElementById("progress");
  var ended = document.getElementById("ended");
  var button = form.querySelector("button[type=submit]");
  var label = button.textContent;

  function answered(q) {
    if (q.querySelector("input:checked")) return true;
    var t = q.querySelector("textarea");
    return !!(t && t.value.replace(/\s/g, ""));
  }
  function chosen(name) {
    var el = form.querySelector('input[name="' + name + '"]:checked:not(:disabled)');
    return el ? el.value : null;
  }
  function show(q, visible) {
    q.hidden = !visible;
    q.disabled = !visible;
  }
  function applyRules() {
    var over = false;
    for (var i = 0; i < questions.length; i++) {
      var q = questions[i];
      var visible = !over;
      var cond = q.getAttribute("data-if");
      if (visible && cond) visible = (" " + q.getAttribute("data-if-codes") + " ").indexOf(" " + chosen(cond) + " ") >= 0;
      show(q, visible);
      var out = q.getAttribute("data-screen-out");
      if (visible && out) {
        var answer = q.querySelector("input:checked");
        if (answer && (" " + out + " ").indexOf(" " + answer.value + " ") >= 0) over = true;
      }
      var max = +q.getAttribute("data-max");
      if (max) {
        var boxes = q.querySelectorAll("input[type=checkbox]");
        var ticked = q.querySelectorAll("input[type=checkbox]:checked").length;
        for (var j = 0; j < boxes.length; j++) boxes[j].disabled = !boxes[j].checked && ticked >= max;
      }
    }
    if (ended) ended.hidden = !over;
  }
  function update() {
    applyRules();
    var done = 0, total = 0;
    for (var i = 0; i < questions.length; i++) {
      if (questions[i].hidden) continue;
      total++;
      if (answered(questions[i])) done++;
    }
    bar.hidden = false;
    bar.firstChild.textContent = form.getAttribute("data-progress").replace("{done}", done).replace("{total}", total);
    bar.querySelector("b").style.width = (total ? 100 * done / total : 0) + "%";
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
      if (!el.name || el.name === "csrf_token" || el.name === "website") continue;
      if (el.type === "radio") { if (el.checked) draft[el.name] = el.value; }
      else if (el.type === "checkbox") { if (el.checked) (draft[el.name] = draft[el.name] || []).push(el.value); }
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
      else if (el.type === "checkbox") el.checked = [].concat(draft[el.name]).indexOf(el.value) >= 0;
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
