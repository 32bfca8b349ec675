// The restore window's chart, made pointable. The chart works without this file: its
// markers are links, and zooming is links and a form. Here: a click sets the restore
// point, a drag zooms into a range, the arrow keys move the point by the step the zoom
// implies, + and - zoom; the calendar pickers write into the point fields. Times are
// microseconds since the epoch, UTC, as the chart's data attributes give them.
(function () {
  "use strict";

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function num(svg, name) { return Number(svg.getAttribute("data-" + name)); }

  function chartSvg() { return document.querySelector("#timeline-chart svg.timeline"); }

  function text(us) {
    var micros = ((us % 1e6) + 1e6) % 1e6;
    var d = new Date((us - micros) / 1000);
    var s = d.getUTCFullYear() + "-" + two(d.getUTCMonth() + 1) + "-" + two(d.getUTCDate()) +
      " " + two(d.getUTCHours()) + ":" + two(d.getUTCMinutes()) + ":" + two(d.getUTCSeconds());
    return micros ? s + "." + String(micros).padStart(6, "0") : s;
  }

  function parse(value) {
    var m = /^\s*(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?\s*$/.exec(value || "");
    if (!m) return null;
    var ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +(m[6] || 0));
    return ms * 1000 + Number((m[7] || "").padEnd(6, "0") || 0);
  }

  function clamp(us, svg) {
    return Math.min(Math.max(us, num(svg, "earliest")), num(svg, "latest"));
  }

  function share(svg, clientX) {
    var box = svg.getBoundingClientRect();
    var pct = (clientX - box.left) / box.width * 100;
    var left = num(svg, "left"), right = num(svg, "right");
    return Math.min(Math.max((pct - left) / (right - left), 0), 1);
  }

  function momentAt(svg, clientX) {
    var start = num(svg, "view-start"), end = num(svg, "view-end");
    return start + share(svg, clientX) * (end - start);
  }

  // The UTC field takes the point; the server answers with the conversion, the local
  // field and the chart redrawn with the point marked (one request, as when typing).
  function setPoint(us) {
    var field = document.getElementById("id_point");
    if (!field || !window.htmx) return;
    field.value = text(us);
    var source = document.getElementById("id_point_source");
    if (source) source.value = "utc";
    syncPickers();
    htmx.trigger(field, "point:refresh");
  }

  function refocus() {
    var chart = document.getElementById("timeline-chart");
    if (chart) chart.focus();
  }

  function zoomTo(startUs, endUs, focus) {
    var chart = document.getElementById("timeline-chart");
    if (!chart || !window.htmx) return;
    var params = new URLSearchParams();
    ["id_point", "id_point_local", "id_time_zone", "id_point_source"].forEach(function (id) {
      var el = document.getElementById(id);
      if (el && el.value) params.set(el.name, el.value);
    });
    params.set("from", text(Math.round(startUs)));
    params.set("to", text(Math.round(endUs)));
    var url = chart.getAttribute("data-timeline-url") + "?" + params.toString();
    htmx.ajax("GET", url, { target: "#timeline-section", swap: "outerHTML" }).then(function () {
      if (focus) refocus();
    });
  }

  function zoomBy(factor, focus) {
    var svg = chartSvg();
    if (!svg) return;
    var start = num(svg, "view-start"), end = num(svg, "view-end");
    var point = parse((document.getElementById("id_point") || {}).value);
    var middle = point !== null && point >= start && point <= end ? point : (start + end) / 2;
    var half = (end - start) * factor / 2;
    zoomTo(middle - half, middle + half, focus);
  }

  // Pointer: a press and release in place sets the point; a drag zooms into its range.
  var drag = null;

  function selection(svg) { return svg.querySelector(".tl-selection"); }

  document.addEventListener("pointerdown", function (event) {
    var svg = event.target.closest && event.target.closest("#timeline-chart svg.timeline");
    if (!svg || event.button !== 0 || event.target.closest("a")) return;
    drag = { svg: svg, x: event.clientX, moved: false };
    svg.setPointerCapture(event.pointerId);
    event.preventDefault();
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag) return;
    if (Math.abs(event.clientX - drag.x) < 5 && !drag.moved) return;
    drag.moved = true;
    var box = drag.svg.getBoundingClientRect();
    var a = (Math.min(drag.x, event.clientX) - box.left) / box.width * 100;
    var b = (Math.max(drag.x, event.clientX) - box.left) / box.width * 100;
    var rect = selection(drag.svg);
    rect.setAttribute("x", Math.max(a, 0) + "%");
    rect.setAttribute("width", Math.max(Math.min(b, 100) - Math.max(a, 0), 0) + "%");
    rect.classList.add("is-active");
  });

  document.addEventListener("pointerup", function (event) {
    if (!drag) return;
    var svg = drag.svg, moved = drag.moved, x = drag.x;
    drag = null;
    selection(svg).classList.remove("is-active");
    if (moved) {
      zoomTo(momentAt(svg, Math.min(x, event.clientX)), momentAt(svg, Math.max(x, event.clientX)));
    } else {
      setPoint(clamp(Math.round(momentAt(svg, x) / 1e6) * 1e6, svg));
    }
    refocus();
  });

  // A marker: one event sets the point just before it; several zoom in on them.
  document.addEventListener("click", function (event) {
    var marker = event.target.closest && event.target.closest("#timeline-chart a.tl-marker");
    if (!marker || !window.htmx) return;
    event.preventDefault();
    if (marker.hasAttribute("data-point")) {
      var point = parse(marker.getAttribute("data-point"));
      if (point !== null) setPoint(point);
      return;
    }
    var link = new URL(marker.getAttribute("href"), window.location.href);
    var start = parse(link.searchParams.get("from")), end = parse(link.searchParams.get("to"));
    if (start !== null && end !== null) zoomTo(start, end);
  });

  document.addEventListener("keydown", function (event) {
    var chart = event.target.closest && event.target.closest("#timeline-chart");
    var svg = chartSvg();
    if (!chart || !svg || event.altKey || event.ctrlKey || event.metaKey) return;
    var step = num(svg, "step") * 1e6 * (event.shiftKey ? 10 : 1);
    var current = parse((document.getElementById("id_point") || {}).value);
    if (current === null) current = num(svg, "view-end");
    var handled = true;
    if (event.key === "ArrowLeft" || event.key === "ArrowDown") {
      setPoint(clamp(Math.ceil(current / step) * step - step, svg));
    } else if (event.key === "ArrowRight" || event.key === "ArrowUp") {
      setPoint(clamp(Math.floor(current / step) * step + step, svg));
    } else if (event.key === "Home") {
      setPoint(clamp(num(svg, "view-start"), svg));
    } else if (event.key === "End") {
      setPoint(clamp(num(svg, "view-end"), svg));
    } else if (event.key === "+" || event.key === "=") {
      zoomBy(0.25, true);
    } else if (event.key === "-" || event.key === "_") {
      zoomBy(4, true);
    } else {
      handled = false;
    }
    if (handled) event.preventDefault();
  });

  // The calendar pickers (datetime-local, to the second) write into the text fields,
  // which keep every format the form accepts (microseconds too).
  function syncPickers() {
    document.querySelectorAll("input[data-point-picker]").forEach(function (picker) {
      var field = document.getElementById(picker.getAttribute("data-point-picker"));
      var us = field ? parse(field.value) : null;
      picker.hidden = false;
      if (us !== null && document.activeElement !== picker) {
        picker.value = text(Math.floor(us / 1e6) * 1e6).replace(" ", "T");
      }
    });
  }

  document.addEventListener("change", function (event) {
    var picker = event.target;
    if (!picker.hasAttribute || !picker.hasAttribute("data-point-picker") || !picker.value) return;
    var field = document.getElementById(picker.getAttribute("data-point-picker"));
    if (!field) return;
    field.value = picker.value.replace("T", " ") + (picker.value.length === 16 ? ":00" : "");
    field.dispatchEvent(new Event("input", { bubbles: true }));
  });

  document.addEventListener("DOMContentLoaded", syncPickers);
  document.addEventListener("htmx:afterSettle", syncPickers);
})();
