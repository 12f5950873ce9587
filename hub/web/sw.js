// Service worker of the care-staff app: offline app shell, Web Push notifications and their clicks.
"use strict";

const CACHE = "omsorgsalarm-v1";
const SHELL = ["/app/", "/app/app.js", "/app/style.css", "/app/manifest.webmanifest", "/app/icon.svg",
  "/app/icon-192.png"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

// The app shell comes from the network when it can (fresh code), from the cache when the hub is unreachable.
// Alerts (/falls/...) are never cached: stale alerts are worse than none.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !url.pathname.startsWith("/app/")) return;
  event.respondWith(fetch(event.request).then((response) => {
    const copy = response.clone();
    caches.open(CACHE).then((cache) => cache.put(event.request, copy));
    return response;
  }).catch(() => caches.match(event.request)));
});

self.addEventListener("push", (event) => {
  const data = event.data ? event.data.json() : { title: "Omsorgsalarm", body: "" };
  const show = self.registration.showNotification(data.title, {
    body: data.body,
    tag: data.alert_id,  // a reminder replaces the earlier notification of the same alert
    renotify: true,
    requireInteraction: data.severity === "critical",
    icon: "/app/icon-192.png",
    badge: "/app/icon-192.png",
    vibrate: [300, 100, 300, 100, 300],
    data: { url: data.url || "/app/", alert_id: data.alert_id },
    actions: data.ack_label ? [{ action: "ack", title: data.ack_label }] : [],
  });
  const tell = self.clients.matchAll({ type: "window" })
    .then((clients) => clients.forEach((client) => client.postMessage({ type: "push", alert_id: data.alert_id })));
  event.waitUntil(Promise.all([show, tell]));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const { url, alert_id: alertId } = event.notification.data || {};
  const ack = event.action === "ack" && alertId
    ? fetch(`/falls/alerts/${alertId}/ack`, { method: "POST", credentials: "same-origin" }).catch(() => null)
    : Promise.resolve();
  event.waitUntil(ack.then(() => self.clients.matchAll({ type: "window", includeUncontrolled: true }))
    .then((clients) => {
      const open = clients.find((client) => new URL(client.url).pathname.startsWith("/app/"));
      if (open) return open.focus().then((client) => client.navigate ? client.navigate(url) : client);
      return self.clients.openWindow(url || "/app/");
    }));
});
