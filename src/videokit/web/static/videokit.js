// videokit web UI: seeking, the transcript following playback, and live job progress.
// No framework and no inline script (the pages' Content-Security-Policy allows only this file).
(function () {
  "use strict";

  function seconds(value) {
    var t = parseFloat(value);
    return isFinite(t) && t >= 0 ? t : null;
  }

  // -- the video page ----------------------------------------------------------------------
  function setUpPlayer() {
    var video = document.querySelector("video[data-player]");
    if (!video) return;
    var start = seconds(video.getAttribute("data-start"));
    if (start !== null && start > 0) {
      var seekToStart = function () { video.currentTime = start; };
      if (video.readyState >= 1) seekToStart();
      else video.addEventListener("loadedmetadata", seekToStart, { once: true });
    }
    document.addEventListener("click", function (event) {
      var target = event.target.closest("[data-seek]");
      if (!target) return;
      var t = seconds(target.getAttribute("data-seek"));
      if (t === null) return;
      event.preventDefault();
      video.currentTime = t;
      mark(t);
    });
    var items = Array.prototype.slice.call(document.querySelectorAll("[data-seek][data-end]"));
    function mark(t) {
      var followed = null;
      items.forEach(function (el) {
        var s = seconds(el.getAttribute("data-seek")), e = seconds(el.getAttribute("data-end"));
        var on = s !== null && e !== null && t >= s && t < e;
        el.classList.toggle("current", on);
        if (on) el.setAttribute("aria-current", "true"); else el.removeAttribute("aria-current");
        if (on && el.classList.contains("segment")) followed = el;
      });
      if (followed) {
        var list = followed.closest(".segments");
        if (list) {
          var top = followed.offsetTop - list.offsetTop;
          if (top < list.scrollTop || top > list.scrollTop + list.clientHeight - followed.offsetHeight) {
            list.scrollTop = top - list.clientHeight / 3;
          }
        }
      }
    }
    ["timeupdate", "seeked"].forEach(function (name) {
      video.addEventListener(name, function () { mark(video.currentTime); });
    });
    mark(start || 0);
  }

  // -- live regions: a fragment fetched again while work is going on -------------------------
  function setUpPolling() {
    var box = document.querySelector("[data-poll]");
    if (!box) return;
    var url = box.getAttribute("data-poll");
    var busy = false;
    function active() {
      var body = box.querySelector("[data-active]");
      return body && body.getAttribute("data-active") === "true";
    }
    function tick() {
      if (busy || document.hidden) return schedule();
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { box.innerHTML = html; })
        .catch(function () { /* keep what is shown; try again */ })
        .then(function () { busy = false; schedule(); });
    }
    function schedule() { window.setTimeout(tick, active() ? 2000 : 10000); }
    schedule();
  }

  document.addEventListener("DOMContentLoaded", function () {
    setUpPlayer();
    setUpPolling();
  });
})();
