// sw.js — The service worker that makes the page an installable web app that opens without the server: it
// keeps the app shell (the page, its scripts, styles, font and icons) of this server's version in a cache,
// so a reload while the server or the network is down shows the app and its offline state, not the
// browser's error page. The server fills in VERSION (a hash of the shell's files) and SHELL (their paths)
// when it serves /sw.js, so a new release installs a new worker and drops the old cache. Nothing else is
// touched: /api, /ws and files always go to the network.

const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const CACHE = `parley-shell-${VERSION}`;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: "reload" })))) // not the HTTP cache's
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches
      .keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith("parley-shell-") && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const req = event.request;
  if (req.method !== "GET") return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin) return;
  if (req.mode === "navigate" && url.pathname === "/") {
    // the page itself: the server's when it answers (a new release shows at once), else the kept one
    event.respondWith(fetch(req).catch(() => caches.match("/", { cacheName: CACHE })));
  } else if (url.pathname.startsWith("/static/")) {
    // this version's files, as one consistent set; anything not kept goes to the network
    event.respondWith(caches.match(req, { cacheName: CACHE, ignoreSearch: true }).then((hit) => hit || fetch(req)));
  }
});
