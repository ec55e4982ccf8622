// The flattr button's optional script, for other sites: <script src="https://PLATFORM/button.js" async></script>.
// Each <a class="flattr-button" href="https://PLATFORM/flattr/ID"> then opens its confirmation in a small window
// instead of leaving the page; once the reader flattred, that window sends the new count, and the button shows it.
// Without this script (or if the window is blocked) the link simply leads to the confirmation page.
(function () {
  "use strict";
  var buttons = [];

  function thingOf(link) {
    var found = /^\/flattr\/([0-9]+)$/.exec(link.pathname);
    return found ? found[1] : null;
  }

  function open(event) {
    var link = event.currentTarget;
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) {
      return; // a new tab or window, as the reader asked
    }
    var address = new URL(link.href);
    address.searchParams.set("popup", "1");
    var popup = window.open(address.toString(), "flattr-" + thingOf(link), "popup,width=520,height=680");
    if (popup) {
      event.preventDefault();
      popup.focus();
    }
  }

  function update(event) {
    var data = event.data;
    if (!data || data.type !== "flattr" || !Number.isInteger(data.count) || data.count < 0) {
      return;
    }
    buttons.forEach(function (link) {
      if (link.origin !== event.origin || thingOf(link) !== String(data.thing)) {
        return; // only the platform the button leads to speaks for its things
      }
      link.setAttribute("data-flattr-count", String(data.count));
      var badge = link.querySelector("img");
      if (badge) {
        var source = new URL(badge.src);
        source.searchParams.set("count", String(data.count)); // a new address: the badge is fetched again
        badge.src = source.toString();
      }
      var shown = link.querySelector(".flattr-count");
      if (shown) {
        shown.textContent = String(data.count);
      }
    });
  }

  function start() {
    document.querySelectorAll("a.flattr-button").forEach(function (link) {
      if (thingOf(link) !== null && buttons.indexOf(link) < 0) {
        buttons.push(link);
        link.addEventListener("click", open);
      }
    });
  }

  window.addEventListener("message", update);
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
