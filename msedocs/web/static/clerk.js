// The clerk's pages' own script (no inline scripts: the Content-Security-Policy forbids them).
// Everything here is an extra: the pages work without it.
(function () {
  "use strict";

  // Russian Post domestic tracking number: 14 digits, the last a check digit over the first 13
  // (3 × the digits in odd places + the digits in even places), as msedocs.delivery.tracking.
  function trackingProblem(text) {
    var n = text.replace(/[\s-]/g, "");
    if (!n) { return null; }
    if (!/^\d+$/.test(n)) { return "ШПИ состоит только из цифр"; }
    if (n.length !== 14) { return "в ШПИ 14 цифр, введено " + n.length; }
    var odd = 0, even = 0;
    for (var i = 0; i < 13; i++) {
      if (i % 2 === 0) { odd += +n[i]; } else { even += +n[i]; }
    }
    var check = (10 - (3 * odd + even) % 10) % 10;
    if (check !== +n[13]) { return "контрольная цифра не сходится: номер введён или считан с ошибкой"; }
    return null;
  }

  function checkField(field) {
    var out = document.getElementById(field.getAttribute("data-live-output"));
    var lines = field.value.split(/\r?\n/);
    var seen = {};
    var messages = [];
    lines.forEach(function (line, i) {
      var n = line.replace(/[\s-]/g, "");
      if (!n) { return; }
      var problem = trackingProblem(n);
      if (!problem && seen[n]) { problem = "этот ШПИ уже введён в строке " + seen[n]; }
      if (!seen[n]) { seen[n] = i + 1; }
      if (problem) { messages.push((lines.length > 1 ? "Строка " + (i + 1) + ": " : "") + n + " — " + problem); }
    });
    field.setCustomValidity(messages.length ? messages[0] : "");
    field.setAttribute("aria-invalid", messages.length ? "true" : "false");
    if (out) {
      out.textContent = "";
      messages.forEach(function (m) {
        var p = document.createElement("p");
        p.className = "error";
        p.textContent = m;
        out.appendChild(p);
      });
    }
  }

  function setUp(root) {
    root.querySelectorAll("[data-tracking]").forEach(function (field) {
      if (field.dataset.ready) { return; }
      field.dataset.ready = "1";
      field.addEventListener("input", function () { checkField(field); });
      // The page's own message is already next to the field: without this the browser also
      // shows its validation bubble over the page (it fades out slowly: a "ghost" of the same
      // text to the right of the message). Keep the refusal, drop the bubble, go to the field.
      field.addEventListener("invalid", function (event) {
        event.preventDefault();
        field.focus();
      });
      if (field.value) { checkField(field); }
    });
    root.querySelectorAll("[data-select-all]").forEach(function (box) {
      if (box.dataset.ready) { return; }
      box.dataset.ready = "1";
      box.hidden = false;
      box.closest("label") && (box.closest("label").hidden = false);
      box.addEventListener("change", function () {
        var form = box.form;
        form.querySelectorAll("input[name='" + box.getAttribute("data-select-all") + "']:not(:disabled)")
          .forEach(function (c) { c.checked = box.checked; });
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () { setUp(document); });
  document.addEventListener("htmx:afterSettle", function (e) { setUp(e.target); });
})();
