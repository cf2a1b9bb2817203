// Every page: move focus to a form's error summary so that it is read first (GOV.UK pattern).
(function () {
  "use strict";
  // A page that answers a form (starting an attempt, submitting it) shows its own address, so that
  // a reload or a bookmark opens that page rather than sending the form again.
  var address = document.body.getAttribute("data-address");
  if (address && window.history.replaceState && window.location.pathname !== address) {
    window.history.replaceState(null, "", address + window.location.hash);
  }
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }
  // A form marked data-confirm asks before it is sent (retiring content, for instance).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.getAttribute("data-confirm"))) { event.preventDefault(); }
    });
  });
  // The account menu closes when focus or a click goes elsewhere, or on Escape.
  var menu = document.querySelector(".account-menu");
  if (menu) {
    document.addEventListener("click", function (event) {
      if (menu.open && !menu.contains(event.target)) { menu.open = false; }
    });
    menu.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open) { menu.open = false; menu.querySelector("summary").focus(); }
    });
  }
  offlineReading();
})();

// Offline reading (the service worker is app/main/templates/main/sw.js). The lessons a learner may
// read offline live in a cache named after them, "reading-<id>"; every page deletes any other
// person's cache (a shared phone), a page without a signed-in person deletes them all, and signing
// out deletes them before the form is sent. The course page saves the assigned lessons and
// their sources, keeping only answers the server marked as this person's (X-Offline-Cache).
function offlineReading() {
  "use strict";
  var body = document.body;
  var user = body.getAttribute("data-user");
  var mine = user ? "reading-" + user : null;
  if ("serviceWorker" in navigator && body.hasAttribute("data-service-worker")) {
    navigator.serviceWorker.register(body.getAttribute("data-service-worker"), {scope: "/", updateViaCache: "all"})
      .catch(function () { /* no worker: the site works as before, without offline reading */ });
  }
  if (!("caches" in window)) { return; }
  var others = caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) {
      return name.indexOf("reading-") === 0 && name !== mine;
    }).map(function (name) { return caches.delete(name); }));
  });
  document.querySelectorAll("form[data-sign-out]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!mine) { return; }
      event.preventDefault();
      caches.delete(mine).then(function () { form.submit(); }, function () { form.submit(); });
    });
  });
  var list = body.getAttribute("data-offline-reading");
  if (!mine || !list) { return; }
  // A page saved before is not downloaded again (on a paid mobile connection): the service worker
  // replaces it whenever the learner reads it online.
  var save = function (cache, url) {
    return cache.match(url, {ignoreVary: true}).then(function (saved) {
      if (saved) { return; }
      return fetch(url, {credentials: "same-origin", headers: {"X-Offline-Prefetch": "1"}})
        .then(function (response) {
          if (response.ok && response.headers.get("X-Offline-Cache") === "user-" + user) {
            return cache.put(url, response);
          }
        });
    });
  };
  // Not on a connection the person asked to spare (Save-Data), and only once the page itself has
  // loaded and the browser is idle: the page comes first on a slow network.
  if (navigator.connection && navigator.connection.saveData) { return; }
  var idle = new Promise(function (resolve) {
    var wait = function () { (window.requestIdleCallback || window.setTimeout)(resolve); };
    if (document.readyState === "complete") { wait(); } else { window.addEventListener("load", wait); }
  });
  Promise.all([others, idle]).then(function () {
    return fetch(list, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}});
  }).then(function (response) {
    return response.ok ? response.json() : null;
  }).then(function (reading) {
    if (!reading || String(reading.user) !== user) { return; }
    return caches.open(mine).then(function (cache) {
      return Promise.all(reading.urls.map(function (url) { return save(cache, url); }));
    });
  }).then(function () {
    body.setAttribute("data-offline-saved", "true");
  }, function () { /* offline or refused: what was saved before stays */ });
}
