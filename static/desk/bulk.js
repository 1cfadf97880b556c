// The queue's bulk action bar: which rows are selected (kept across the table's
// refreshes), which fields the chosen action needs, and the "select the page" box.
(function () {
  "use strict";
  var selected = new Set();

  function form() { return document.querySelector("form[data-bulk]"); }

  function boxes() {
    return Array.prototype.slice.call(document.querySelectorAll("input[data-bulk-row]"));
  }

  function refresh() {
    var bar = form();
    if (!bar) { return; }
    var count = bar.querySelector("[data-bulk-count]");
    var n = selected.size;
    count.textContent = n ? count.dataset.some.replace("%(count)s", String(n)) : count.dataset.none;
    bar.querySelector("[data-bulk-submit]").disabled = n === 0;
    var action = bar.querySelector("[data-bulk-action]").value;
    bar.querySelectorAll("[data-bulk-for]").forEach(function (field) {
      field.hidden = field.dataset.bulkFor !== action;
    });
    var all = document.querySelector("input[data-bulk-all]");
    var rows = boxes();
    if (all) { all.checked = rows.length > 0 && rows.every(function (b) { return b.checked; }); }
  }

  function restore() {
    boxes().forEach(function (box) { box.checked = selected.has(box.value); });
    refresh();
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches("input[data-bulk-row]")) {
      if (target.checked) { selected.add(target.value); } else { selected.delete(target.value); }
      refresh();
    } else if (target.matches("input[data-bulk-all]")) {
      boxes().forEach(function (box) {
        box.checked = target.checked;
        if (target.checked) { selected.add(box.value); } else { selected.delete(box.value); }
      });
      refresh();
    } else if (target.matches("[data-bulk-action]")) {
      refresh();
    }
  });

  // The rows travel as hidden fields, so a selection made before a refresh is sent too.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.elt !== form()) { return; }
    // htmx 2's parameters proxy replaces every "rows" value with the list.
    event.detail.parameters.rows = Array.from(selected);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "bulk-results") {
      selected.clear();
    }
    restore();
  });

  document.addEventListener("DOMContentLoaded", restore);
  if (document.readyState !== "loading") { restore(); }
})();
