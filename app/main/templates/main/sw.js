/* The service worker (served at /sw.js by main.service_worker, so its scope is the whole site).
 *
 * - The shell (stylesheets, scripts, icons, the offline page) is precached under its content-hashed
 *   names; a new set of names is a new worker, which drops the old shell cache.
 * - Pages are always asked of the network first. Only when the network is gone does the worker
 *   answer from the device: a lesson or source the learner's course page saved (site.js puts them
 *   in a cache named after the signed-in person, "reading-<id>", and deletes every other person's
 *   cache and, on sign-out, its own), else the offline page. A saved page read online is saved
 *   again as the server sent it, when the server still marks it as that person's.
 * - Nothing else is ever stored: no form, no attempt, no manager or administrator page; requests
 *   other than GET (answers, submissions) go to the network untouched, so the attempt page's own
 *   queue of offline answers keeps working.
 */
"use strict";

const SHELL = "shell-{{ version }}";
const SHELL_FILES = {{ shell | tojson }};
const OFFLINE_PAGE = {{ offline | tojson }};
const ASSETS = {{ assets | tojson }};
const READING_PREFIX = "reading-";

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(SHELL).then((cache) => cache.addAll(SHELL_FILES)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name.startsWith("shell-") && name !== SHELL)
      .map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

/* The saved copy of a page: in the reading cache (there is at most one, the signed-in person's:
 * site.js deletes the others on every page), the exact address first, then without its query (a
 * source opened at another citation). */
async function savedPage(request) {
  const names = (await caches.keys()).filter((name) => name.startsWith(READING_PREFIX));
  for (const name of names) {
    const cache = await caches.open(name);
    const found = await cache.match(request, {ignoreVary: true})
      || await cache.match(request, {ignoreVary: true, ignoreSearch: true});
    if (found) { return found; }
  }
  return (await caches.match(OFFLINE_PAGE, {cacheName: SHELL, ignoreVary: true}))
    || new Response("Không có mạng.", {status: 503, headers: {"Content-Type": "text/plain; charset=utf-8"}});
}

/* A hashed static file never changes: from the shell cache, else from the network (and kept). */
async function asset(request) {
  const cache = await caches.open(SHELL);
  const found = await cache.match(request, {ignoreVary: true});
  if (found) { return found; }
  const response = await fetch(request);
  if (response.ok) { await cache.put(request, response.clone()); }
  return response;
}

/* A saved page just read online replaces its saved copy (never adds one: the course page decides
 * what is kept), if the server marked it as the cache owner's. */
async function refreshSaved(request, response) {
  const names = (await caches.keys()).filter((name) => name.startsWith(READING_PREFIX));
  for (const name of names) {
    const cache = await caches.open(name);
    const owner = "user-" + name.slice(READING_PREFIX.length);
    if (response.ok && response.headers.get("X-Offline-Cache") === owner
        && await cache.match(request, {ignoreVary: true})) {
      await cache.put(request.url, response.clone());
    }
  }
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") { return; }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (url.pathname.startsWith(ASSETS)) {
    event.respondWith(asset(request));
  } else if (request.mode === "navigate") {
    event.respondWith(fetch(request).then((response) => {
      if (response.headers.has("X-Offline-Cache")) { event.waitUntil(refreshSaved(request, response.clone())); }
      return response;
    }, () => savedPage(request)));
  }
});
