// The portal's small script: flyouts, toasts and local times. Pages work without it;
// it only makes them quicker to use. No inline handlers anywhere (the CSP forbids them).
(function () {
  "use strict";

  function closeAll(except) {
    document.querySelectorAll(".flyout, .menu").forEach(function (el) {
      if (el !== except) el.hidden = true;
    });
    var userButton = document.getElementById("user-button");
    if (userButton && except !== document.getElementById("user-menu")) {
      userButton.setAttribute("aria-expanded", "false");
    }
  }

  // The bell: htmx loads the panel into the flyout; a second click closes it.
  document.addEventListener("click", function (event) {
    var bell = event.target.closest("#bell-button");
    var flyout = document.getElementById("notification-flyout");
    if (bell && flyout && !flyout.hidden) {
      event.preventDefault();
      event.stopPropagation();
      flyout.hidden = true;
      return;
    }
    var userButton = event.target.closest("#user-button");
    if (userButton) {
      var menu = document.getElementById("user-menu");
      var open = menu.hidden;
      closeAll(menu);
      menu.hidden = !open;
      userButton.setAttribute("aria-expanded", String(open));
      if (open) {
        var first = menu.querySelector("button, a");
        if (first) first.focus();
      }
      return;
    }
    if (!event.target.closest(".flyout, .menu, #bell-button")) closeAll(null);
  }, true);

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closeAll(null);
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "notification-flyout") {
      closeAll(event.detail.target);
      event.detail.target.hidden = false;
    }
  });

  // Toasts arrive as an HX-Trigger event ("portal:toast") on any htmx response.
  document.body.addEventListener("portal:toast", function (event) {
    var box = document.getElementById("toasts");
    if (!box || !event.detail || !event.detail.items) return;
    event.detail.items.forEach(function (item) {
      var toast = document.createElement("div");
      toast.className = "toast toast-" + (item.level || "info");
      toast.setAttribute("role", "status");
      var close = document.createElement("button");
      close.className = "toast-close";
      close.type = "button";
      close.setAttribute("aria-label", "Dismiss");
      close.textContent = "\u00d7";
      close.addEventListener("click", function () { toast.remove(); });
      var title = document.createElement("div");
      title.className = "toast-title";
      title.textContent = item.title;
      toast.appendChild(close);
      toast.appendChild(title);
      if (item.body) {
        var body = document.createElement("div");
        body.textContent = item.body;
        toast.appendChild(body);
      }
      [[item.link, item.link_text], [item.more_link, item.more_link_text]].forEach(function (pair) {
        if (!pair[0]) return;
        var link = document.createElement("a");
        link.className = "toast-link";
        link.href = pair[0];
        link.textContent = pair[1] || "Open";
        toast.appendChild(link);
      });
      box.appendChild(toast);
      setTimeout(function () { toast.remove(); }, 10000);
    });
  });

  // Every UTC time gets the browser's local time beside it, in the shape the server
  // writes (portal/instants.py): "2026-11-24 15:09:33.775238 Europe/Berlin (your time)",
  // the zone named by its IANA name only. The microseconds come from the datetime
  // attribute, since a Date keeps milliseconds.
  function two(n) { return (n < 10 ? "0" : "") + n; }

  function localText(moment, fraction, zone) {
    var parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    }).formatToParts(moment).forEach(function (p) { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + " " + two(+parts.hour) + ":" +
      parts.minute + ":" + parts.second + fraction + " " + zone + " (your time)";
  }

  function localTimes(root) {
    var zone = browserZone();
    // A browser on UTC would only repeat the time it is given.
    if (!zone || zone === "UTC" || zone === "Etc/UTC") return;
    root.querySelectorAll("time[data-local-time]").forEach(function (el) {
      if (el.dataset.localDone) return;
      el.dataset.localDone = "1";
      var iso = el.getAttribute("datetime");
      var moment = new Date(iso);
      if (isNaN(moment)) return;
      var fraction = (iso.match(/T\d\d:\d\d:\d\d(\.\d+)/) || ["", ""])[1];
      var span = document.createElement("span");
      span.className = "local-time";
      span.textContent = " · " + localText(moment, fraction, zone);
      el.after(span);
    });
  }

  // The custom restore point may be typed in UTC or in the browser's own time zone:
  // the page learns the zone here, and which field was typed in last is the one used.
  function browserZone() {
    try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return ""; }
  }

  function pointInputs(root) {
    var zoneField = root.querySelector ? root.querySelector("#id_time_zone") : null;
    if (!zoneField) zoneField = document.getElementById("id_time_zone");
    var zone = browserZone();
    if (!zoneField || !zone) return;
    zoneField.value = zone;
    document.querySelectorAll("[data-time-zone-name]").forEach(function (el) { el.textContent = zone; });
    document.querySelectorAll("[data-local-point]").forEach(function (el) { el.hidden = false; });
    var utc = document.getElementById("id_point");
    var local = document.getElementById("id_point_local");
    if (root === document && utc && utc.value && local && !local.value && window.htmx) {
      setTimeout(function () { htmx.trigger(utc, "point:refresh"); }, 0);
    }
  }

  document.addEventListener("input", function (event) {
    var source = event.target.getAttribute && event.target.getAttribute("data-point-source");
    var field = document.getElementById("id_point_source");
    if (source && field) field.value = source;
  }, true);

  // A preview is torn down when the wizard is left (and by its time-to-live at the latest).
  function closePreview() {
    var panel = document.querySelector("[data-preview-close]");
    var token = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (!panel || !token || !navigator.sendBeacon) return;
    var data = new FormData();
    data.append("csrfmiddlewaretoken", token.value);
    navigator.sendBeacon(panel.getAttribute("data-preview-close"), data);
    panel.removeAttribute("data-preview-close");
  }
  window.addEventListener("pagehide", closePreview);

  // The menu button (narrow screens): without scripts a link to the menu page; with them
  // a toggle that shows the portal menu and the group's menu in place.
  function menuButton() {
    var button = document.getElementById("menu-button");
    var shell = document.getElementById("shell");
    if (!button || !shell || button.dataset.menuReady) return;
    button.dataset.menuReady = "1";
    var controls = ["portal-nav", "blade-nav"].filter(function (id) {
      return document.getElementById(id);
    });
    button.setAttribute("role", "button");
    button.setAttribute("aria-expanded", "false");
    button.setAttribute("aria-controls", controls.join(" "));
    function toggle(event) {
      event.preventDefault();
      var open = !shell.classList.contains("menu-open");
      shell.classList.toggle("menu-open", open);
      button.setAttribute("aria-expanded", String(open));
      if (open) {
        var first = document.querySelector("#" + controls[controls.length - 1] + " a");
        if (first) first.focus();
      }
    }
    button.addEventListener("click", toggle);
    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape" || !shell.classList.contains("menu-open")) return;
      shell.classList.remove("menu-open");
      button.setAttribute("aria-expanded", "false");
      button.focus();
    });
    button.addEventListener("keydown", function (event) {
      if (event.key === " ") toggle(event);
    });
  }

  // A refused OK: bring the error summary into view and move focus to it, so the
  // keyboard and the screen reader start from what must be fixed.
  function focusErrors(root) {
    var summary = (root.id === "error-summary" ? root : null) ||
      (root.querySelector && root.querySelector("#error-summary"));
    if (summary) summary.focus();
  }

  function enhance(root) {
    menuButton();
    localTimes(root);
    pointInputs(root);
    focusErrors(root);
  }

  document.addEventListener("DOMContentLoaded", function () { enhance(document); });
  document.addEventListener("htmx:load", function (event) { enhance(event.detail.elt); });
})();
