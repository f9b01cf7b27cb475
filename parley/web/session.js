// session.js — What the page remembers in localStorage: the signed-in session (token, user, expiry)
// and, per user, a cache of their rooms (the server's GET /api/me/rooms is the truth; the cache only
// paints the sidebar before it answers) with the last seq read in each and the room last open.

export const SESSION_KEY = "parley.session";
const NOTICE_KEY = "parley.notice";

function readJSON(key, fallback) {
  try {
    const raw = localStorage.getItem(key);
    return raw == null ? fallback : JSON.parse(raw);
  } catch {
    return fallback;
  }
}

function writeJSON(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Storage full or disabled (private mode): the page still works, it just forgets on reload.
  }
}

/** The stored session, or null when there is none or its token has expired. */
export function loadSession() {
  const s = readJSON(SESSION_KEY, null);
  if (!s || typeof s.token !== "string" || typeof s.user !== "string") return null;
  if (typeof s.expires === "number" && s.expires * 1000 <= Date.now()) {
    clearSession();
    return null;
  }
  return s;
}

export function saveSession({ token, user, expires }) {
  writeJSON(SESSION_KEY, { token, user, expires: typeof expires === "number" ? expires : null });
}

export function clearSession() {
  localStorage.removeItem(SESSION_KEY);
}

/** A one-shot message for the sign-in screen (e.g. "session expired"), kept across a reload. */
export function setNotice(text) {
  sessionStorage.setItem(NOTICE_KEY, text);
}

export function takeNotice() {
  const text = sessionStorage.getItem(NOTICE_KEY);
  sessionStorage.removeItem(NOTICE_KEY);
  return text;
}

function lowerKeys(obj) {
  if (!obj || typeof obj !== "object") return {};
  return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k.toLowerCase(), v]));
}

/** Per-user cache: rooms (with what the sidebar shows of them), last read seq per room, the open room. */
export class Prefs {
  constructor(user) {
    this.key = `parley.prefs.${user}`;
    const data = readJSON(this.key, {});
    // Room names are lower case since schema version 8: names cached by an older page are brought in line.
    const rooms = Array.isArray(data.rooms) ? data.rooms.filter((r) => typeof r === "string") : [];
    this.rooms = [...new Set(rooms.map((r) => r.toLowerCase()))];
    this.lastRead = lowerKeys(data.lastRead);
    this.meta = lowerKeys(data.meta);
    this.active = typeof data.active === "string" ? data.active.toLowerCase() : null;
  }

  save() {
    writeJSON(this.key, { rooms: this.rooms, lastRead: this.lastRead, meta: this.meta, active: this.active });
  }

  addRoom(name, meta) {
    if (!this.rooms.includes(name)) this.rooms.push(name);
    if (meta) this.meta[name] = meta;
    this.save();
  }

  setMeta(name, meta) {
    if (JSON.stringify(this.meta[name]) === JSON.stringify(meta)) return;
    this.meta[name] = meta;
    this.save();
  }

  removeRoom(name) {
    this.rooms = this.rooms.filter((r) => r !== name);
    delete this.lastRead[name];
    delete this.meta[name];
    if (this.active === name) this.active = null;
    this.save();
  }

  setLastRead(name, seq) {
    if ((this.lastRead[name] ?? -1) >= seq) return;
    this.lastRead[name] = seq;
    this.save();
  }

  setActive(name) {
    this.active = name;
    this.save();
  }
}
