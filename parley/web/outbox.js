// outbox.js — Messages written but not yet acknowledged by the server. Each entry keeps the
// client_id it was created with, so sending it again after a reconnect or a reload is safe: the
// server stores a (user, client_id) once. Entries live in localStorage and leave only on ack.

function newClientId() {
  if (globalThis.crypto && typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Outbox {
  constructor(user) {
    this.key = `parley.outbox.${user}`;
    this.items = this._load();
    // Another tab of the same user may add or ack entries; keep our copy in step.
    window.addEventListener("storage", (ev) => {
      if (ev.key === this.key) this.items = this._load();
    });
  }

  _load() {
    try {
      const items = JSON.parse(localStorage.getItem(this.key) || "[]");
      return Array.isArray(items)
        ? items.filter((m) => m && typeof m.client_id === "string" && typeof m.room === "string")
        : [];
    } catch {
      return [];
    }
  }

  _save() {
    try {
      if (this.items.length) localStorage.setItem(this.key, JSON.stringify(this.items));
      else localStorage.removeItem(this.key);
    } catch {
      // Storage unavailable: the entry still lives in memory until the page closes.
    }
  }

  /** Queue a new message; returns the entry {client_id, room, text, created, reply_to?}. */
  add(room, text, replyTo = null) {
    const entry = { client_id: newClientId(), room, text, created: Date.now() };
    if (typeof replyTo === "number") entry.reply_to = replyTo;
    this.items.push(entry);
    this._save();
    return entry;
  }

  /** Put back an entry (same client_id) that was taken out, e.g. to retry a refused message. */
  put(entry) {
    if (!this.get(entry.client_id)) this.items.push(entry);
    this._save();
  }

  get(clientId) {
    return this.items.find((m) => m.client_id === clientId) || null;
  }

  /** Forget an entry (acknowledged, discarded, or refused for good). Returns it, or null. */
  remove(clientId) {
    const entry = this.get(clientId);
    if (!entry) return null;
    this.items = this.items.filter((m) => m.client_id !== clientId);
    this._save();
    return entry;
  }

  forRoom(room) {
    return this.items.filter((m) => m.room === room);
  }

  dropRoom(room) {
    this.items = this.items.filter((m) => m.room !== room);
    this._save();
  }
}
