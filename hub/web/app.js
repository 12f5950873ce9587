// Care-staff app: log in, list live alerts of the care home (SSE), draw stick figures, acknowledge, history, Web Push.
"use strict";

const TEXT = {
  da: {
    login_title: "Log ind", username: "Brugernavn", password: "Adgangskode", log_in: "Log ind", log_out: "Log ud",
    login_failed: "Forkert brugernavn eller adgangskode.", on_shift: "På vagt", enable_push: "Slå notifikationer til",
    push_on: "Notifikationer er slået til", push_denied: "Notifikationer er blokeret i browseren",
    active: "Aktive", history: "Historik", no_alerts: "Ingen aktive alarmer.", no_history: "Ingen tidligere alarmer.",
    acknowledge: "Kvittér – jeg går", resolve: "Afslut", room: "Bolig",
    open: "Åben", acknowledged: "Kvitteret", resolved: "Afsluttet", by: "af", now: "lige nu",
    reminder: "påmindelse", all_staff: "sendt til alle på vagt", staff_present: "personale til stede",
    kinds: { fall: "Fald", on_floor: "På gulvet", bed_exit_warning: "Ud af sengen", night_report: "Natrapport" },
    resolutions: { got_up: "beboeren rejste sig", staff: "afsluttet af personale", staff_present: "personale til stede",
      report: "rapport" },
    actions: { opened: "oprettet", updated: "opdateret", escalated: "forværret", reminded: "påmindelse sendt",
      acknowledged: "kvitteret", resolved: "afsluttet", downgraded: "nedgraderet", report: "rapport" },
  },
  en: {
    login_title: "Log in", username: "User name", password: "Password", log_in: "Log in", log_out: "Log out",
    login_failed: "Wrong user name or password.", on_shift: "On shift", enable_push: "Turn on notifications",
    push_on: "Notifications are on", push_denied: "Notifications are blocked in the browser",
    active: "Active", history: "History", no_alerts: "No active alerts.", no_history: "No earlier alerts.",
    acknowledge: "Acknowledge", resolve: "Resolve", room: "Room",
    open: "Open", acknowledged: "Acknowledged", resolved: "Resolved", by: "by", now: "just now",
    reminder: "reminder", all_staff: "sent to all staff on shift", staff_present: "staff present",
    kinds: { fall: "Fall", on_floor: "On the floor", bed_exit_warning: "Leaving bed", night_report: "Night report" },
    resolutions: { got_up: "resident got up", staff: "resolved by staff", staff_present: "staff present",
      report: "report" },
    actions: { opened: "opened", updated: "updated", escalated: "got worse", reminded: "reminder sent",
      acknowledged: "acknowledged", resolved: "resolved", downgraded: "downgraded", report: "report" },
  },
};

// COCO 17-keypoint skeleton: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles.
const EDGES = [[15, 13], [13, 11], [16, 14], [14, 12], [11, 12], [5, 11], [6, 12], [5, 6], [5, 7], [6, 8], [7, 9],
  [8, 10], [1, 2], [0, 1], [0, 2], [1, 3], [2, 4]];
const MIN_CONF = 0.3;
const FIGURE_COLOURS = { critical: "#ff6b5e", warning: "#ffb347", info: "#7fc4ff" };

const state = { lang: localStorage.getItem("falls.lang") || (navigator.language.startsWith("da") ? "da" : "en"),
  staff: null, view: "active", alerts: new Map(), history: [], source: null };

const $ = (sel, root = document) => root.querySelector(sel);
const t = (key) => TEXT[state.lang][key] ?? key;

async function api(path, options = {}) {
  const response = await fetch(path, { credentials: "same-origin", ...options,
    headers: { "Content-Type": "application/json", ...(options.headers || {}) } });
  if (response.status === 401 && path !== "/falls/login") { showLogin(); throw new Error("unauthorised"); }
  if (!response.ok) throw new Error((await response.json().catch(() => ({}))).detail || response.statusText);
  return response.status === 204 ? null : response.json();
}

function applyLanguage() {
  document.documentElement.lang = state.lang;
  $("#lang").textContent = state.lang === "da" ? "EN" : "DA";
  for (const el of document.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  render();
}

function showLogin() {
  $("#login").hidden = false; $("#app").hidden = true;
  if (state.source) { state.source.close(); state.source = null; }
  setLive(false);
}

async function start() {
  try { state.staff = await api("/falls/me"); } catch { return; }
  if (state.staff.language && !localStorage.getItem("falls.lang")) state.lang = state.staff.language;
  $("#login").hidden = true; $("#app").hidden = false;
  $("#home-name").textContent = state.staff.care_home;
  $("#staff-name").textContent = state.staff.name;
  $("#shift").checked = state.staff.on_shift;
  applyLanguage();
  await reload();
  connect();
  setUpPush();
}

async function reload() {
  const active = await api("/falls/alerts?state=active");
  state.alerts = new Map(active.map((a) => [a.id, a]));
  if (state.view === "history") state.history = await api("/falls/alerts?state=history&limit=50");
  render();
}

function setLive(on) { $("#live").dataset.state = on ? "on" : "off"; }

function connect() {
  if (state.source) state.source.close();
  const source = new EventSource("/falls/stream");
  state.source = source;
  source.addEventListener("hello", () => { setLive(true); reload().catch(() => {}); });
  source.addEventListener("alert", (event) => upsert(JSON.parse(event.data).alert));
  // EventSource reconnects by itself and "hello" refetches; a 401 on the probe means the session ended.
  source.onerror = () => { setLive(false); api("/falls/me").catch(() => {}); };
}

function upsert(alert) {
  if (alert.state === "resolved") {
    state.alerts.delete(alert.id);
    state.history = [alert, ...state.history.filter((a) => a.id !== alert.id)];
  } else {
    const before = state.alerts.get(alert.id);
    state.alerts.set(alert.id, alert);
    const news = alert.state === "open" && alert.severity !== "info" && (!before || alert.round > before.round);
    if (news) {
      chime(alert.severity);
      if (alert.severity === "critical" && navigator.vibrate) navigator.vibrate([300, 100, 300]);
    }
  }
  render();
}

// A short tone for new alerts and reminders while the app is open (browsers allow sound after a tap).
let audio = null;
document.addEventListener("pointerdown", () => {
  audio = audio || new AudioContext();
  audio.resume();
});

function chime(severity) {
  if (!audio || audio.state !== "running") return;
  const notes = severity === "critical" ? [880, 660, 880] : [660];
  notes.forEach((frequency, index) => {
    const start = audio.currentTime + index * 0.25;
    const tone = audio.createOscillator(), gain = audio.createGain();
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.25, start);
    gain.gain.exponentialRampToValueAtTime(0.001, start + 0.22);
    tone.connect(gain).connect(audio.destination);
    tone.start(start);
    tone.stop(start + 0.22);
  });
}

function minutesAgo(epochSeconds) {
  const minutes = Math.floor((Date.now() / 1000 - epochSeconds) / 60);
  if (minutes < 1) return t("now");
  return state.lang === "da" ? `for ${minutes} min siden` : `${minutes} min ago`;
}

function clock(epochSeconds) {
  return new Date(epochSeconds * 1000).toLocaleTimeString(state.lang === "da" ? "da-DK" : "en-GB",
    { hour: "2-digit", minute: "2-digit" });
}

function metaLine(alert) {
  const parts = [t(alert.state)];
  if (alert.state === "acknowledged" && alert.acknowledged_by) parts[0] += ` ${t("by")} ${alert.acknowledged_by}`;
  if (alert.state === "resolved") parts.push(TEXT[state.lang].resolutions[alert.resolution] || alert.resolution);
  parts.push(alert.state === "resolved" ? clock(alert.resolved_at || alert.opened_at) : minutesAgo(alert.opened_at));
  if (alert.state === "open" && alert.round > 0) parts.push(`${t("reminder")} ${alert.round}`);
  if (alert.muted) parts.push(t("staff_present"));
  return parts.join(" · ");
}

function card(alert, inHistory) {
  const node = $("#alert-card").content.firstElementChild.cloneNode(true);
  node.id = `alert-${alert.id}`;
  node.dataset.id = alert.id; node.dataset.state = alert.state; node.dataset.severity = alert.severity;
  $(".kind", node).textContent = TEXT[state.lang].kinds[alert.kind] || alert.kind;
  $(".room", node).textContent = `· ${t("room")} ${alert.room}`;
  $(".text", node).textContent = state.lang === "da" ? alert.text_da : alert.text_en;
  $(".meta", node).textContent = metaLine(alert);
  for (const el of node.querySelectorAll("[data-t]")) el.textContent = t(el.dataset.t);
  $(".ack", node).addEventListener("click", () => act(alert.id, "ack"));
  $(".resolve", node).addEventListener("click", () => act(alert.id, "resolve"));
  const canvas = $(".figure", node);
  canvas.figure = { clip: alert.clip, severity: alert.severity };
  node.classList.toggle("no-clip", inHistory ? alert.kind === "night_report" : !alert.clip);
  if (inHistory) node.addEventListener("click", () => expand(node, alert.id), { once: true });
  return node;
}

async function expand(node, id) {
  const detail = await api(`/falls/alerts/${id}`);
  $(".figure", node).figure = { clip: detail.clip, severity: detail.severity };
  const log = $(".log", node);
  log.replaceChildren(...(detail.log || []).map((entry) => {
    const li = document.createElement("li");
    li.textContent = `${clock(entry.ts)} ${TEXT[state.lang].actions[entry.action] || entry.action}`
      + (entry.actor ? ` – ${entry.actor}` : "");
    return li;
  }));
  log.hidden = false;
}

function render() {
  if (!state.staff) return;
  const rank = (a) => (a.state === "open" ? 0 : 2) + (a.severity === "critical" ? 0 : 1);
  const active = [...state.alerts.values()].sort((a, b) => rank(a) - rank(b) || a.opened_at - b.opened_at);
  const openCount = active.filter((a) => a.state === "open").length;
  $("#count").textContent = String(openCount);
  $("#count").hidden = openCount === 0;
  $("#alerts").replaceChildren(...active.map((a) => card(a, false)));
  $("#history").replaceChildren(...state.history.map((a) => card(a, true)));
  $("#alerts").hidden = state.view !== "active";
  $("#history").hidden = state.view !== "history";
  const empty = state.view === "active" ? active.length === 0 : state.history.length === 0;
  $("#empty").hidden = !empty;
  $("#empty").textContent = state.view === "active" ? t("no_alerts") : t("no_history");
  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.setAttribute("aria-selected", String(tab.dataset.view === state.view));
  }
}

async function act(id, action) {
  const alert = await api(`/falls/alerts/${id}/${action}`, { method: "POST" });
  upsert(alert);
}

// Stick figures: every canvas on the page plays its clip in a loop at the clip's frame rate.
function bounds(clip) {
  let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
  for (const frame of clip.frames) for (const person of frame) for (const [x, y, c] of person) {
    if (c < MIN_CONF) continue;
    x0 = Math.min(x0, x * clip.aspect); x1 = Math.max(x1, x * clip.aspect); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  return Number.isFinite(x0) ? { x0, y0, x1, y1 } : null;
}

function drawFigure(canvas, now) {
  const { clip, severity } = canvas.figure || {};
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.fillStyle = "#1d2b38"; ctx.fillRect(0, 0, w, h);
  if (!clip || !clip.frames.length) return;
  if (!clip.box) clip.box = bounds(clip);
  if (!clip.box) return;
  const { x0, y0, x1, y1 } = clip.box;
  const scale = 0.8 * Math.min(w / Math.max(x1 - x0, 0.05), h / Math.max(y1 - y0, 0.05));
  const ox = (w - (x1 - x0) * scale) / 2, oy = (h - (y1 - y0) * scale) / 2;
  const px = (x) => ox + (x * clip.aspect - x0) * scale, py = (y) => oy + (y - y0) * scale;
  const frame = clip.frames[Math.floor((now / 1000) * clip.fps) % clip.frames.length];
  ctx.lineCap = "round"; ctx.lineWidth = Math.max(3, w / 40);
  frame.forEach((person, index) => {
    const colour = index === 0 ? FIGURE_COLOURS[severity] || "#ffffff" : "#b8c4cf";
    ctx.strokeStyle = colour; ctx.fillStyle = colour;
    ctx.beginPath();
    for (const [a, b] of EDGES) {
      if (person[a][2] < MIN_CONF || person[b][2] < MIN_CONF) continue;
      ctx.moveTo(px(person[a][0]), py(person[a][1])); ctx.lineTo(px(person[b][0]), py(person[b][1]));
    }
    ctx.stroke();
    const [hx, hy, hc] = person[0];
    if (hc >= MIN_CONF) { ctx.beginPath(); ctx.arc(px(hx), py(hy), w / 14, 0, 2 * Math.PI); ctx.fill(); }
  });
}

function animate(now) {
  for (const canvas of document.querySelectorAll("canvas.figure")) {
    if (canvas.offsetParent !== null) drawFigure(canvas, now);
  }
  requestAnimationFrame(animate);
}

// Web Push: subscribe with the hub's VAPID key; the service worker shows the notification.
function keyBytes(base64url) {
  const raw = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

async function setUpPush() {
  const button = $("#push");
  if (!("serviceWorker" in navigator) || !("PushManager" in window)) return;
  const registration = await navigator.serviceWorker.ready;
  const existing = await registration.pushManager.getSubscription();
  if (existing) { await api("/falls/push/subscriptions", { method: "POST", body: JSON.stringify(existing) }); return; }
  button.hidden = Notification.permission === "denied";
  button.onclick = async () => {
    try {
      const { public_key } = await api("/falls/push/key");
      const subscription = await registration.pushManager.subscribe({ userVisibleOnly: true,
        applicationServerKey: keyBytes(public_key) });
      await api("/falls/push/subscriptions", { method: "POST", body: JSON.stringify(subscription) });
      button.hidden = true;
    } catch (error) {
      button.textContent = Notification.permission === "denied" ? t("push_denied") : String(error.message || error);
    }
  };
}

function wire() {
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = new FormData(event.target);
    try {
      await api("/falls/login", { method: "POST",
        body: JSON.stringify({ username: form.get("username"), password: form.get("password") }) });
      $("#login-error").textContent = "";
      await start();
    } catch { $("#login-error").textContent = t("login_failed"); }
  });
  $("#lang").addEventListener("click", () => {
    state.lang = state.lang === "da" ? "en" : "da";
    localStorage.setItem("falls.lang", state.lang);
    applyLanguage();
    if (state.staff) api("/falls/me", { method: "PATCH", body: JSON.stringify({ language: state.lang }) }).catch(() => {});
  });
  $("#shift").addEventListener("change", (event) =>
    api("/falls/me", { method: "PATCH", body: JSON.stringify({ on_shift: event.target.checked }) }));
  for (const tab of document.querySelectorAll(".tabs button")) {
    tab.addEventListener("click", async () => { state.view = tab.dataset.view; await reload(); });
  }
  $("#logout").addEventListener("click", async () => {
    await api("/falls/logout", { method: "POST" }).catch(() => {});
    state.staff = null; showLogin();
  });
  navigator.serviceWorker?.addEventListener("message", (event) => {
    if (event.data?.type === "push") reload().catch(() => {});
  });
  setInterval(render, 30000);  // keeps "n min ago" current
}

if ("serviceWorker" in navigator) navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" });
wire();
applyLanguage();
requestAnimationFrame(animate);
start().then(() => { if (!state.staff) showLogin(); });
