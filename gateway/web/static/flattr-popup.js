// The flattr confirmation in the button script's small window (button.js, on another site).
// After the flattr, tell the page that opened it the thing's new count, at the thing's own origin only
// (a page elsewhere that opened this one learns nothing), then close. Cancelling just closes.
(function () {
  "use strict";
  function start() {
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
