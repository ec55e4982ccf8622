// The flattr confirmation in the button script's small window (button.js, on another site).
// After the flattr, tell the page that opened it the thing's new count, at the thing's own origin only
// (a page elsewhere that opened this one learns nothing), then close. Cancelling just closes.
// The Flattr button comes disabled, and is enabled only once this window has been visible and focused for
// half a second: the site that opened it cannot place it under a click it asked for ("double-clickjacking").
(function () {
  "use strict";
  var SEEN_FOR = 500; // milliseconds
  function guard(button) {
    var timer = null;
    function disarm() {
      clearTimeout(timer);
      button.disabled = true;
    }
    function arm() {
      disarm();
      if (document.visibilityState === "visible" && document.hasFocus()) {
        timer = setTimeout(function () { button.disabled = false; }, SEEN_FOR);
      }
    }
    window.addEventListener("focus", arm);
    window.addEventListener("blur", disarm);
    document.addEventListener("visibilitychange", arm);
    arm();
  }
  function start() {
    var confirm = document.getElementById("flattr-confirm");
    if (confirm) {
      guard(confirm);
    }
    var done = document.getElementById("flattr-done");
    if (done && window.opener && done.dataset.origin) {
      var message = { type: "flattr", thing: Number(done.dataset.thing), count: Number(done.dataset.count) };
      window.opener.postMessage(message, done.dataset.origin);
      window.close();
    }
    var cancel = document.getElementById("flattr-cancel");
    if (cancel && window.opener) {
      cancel.addEventListener("click", function (event) {
        event.preventDefault();
        window.close();
      });
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
