// profiles.js — Display names and avatars of the people the page shows, and the profile card.
//
// Whatever shows a person marks its element (render.js `avatar()` and `personName()`: data-avatar-for,
// data-name-for); asking for a profile the page does not have yet batches a GET /api/profiles (up to 100
// names) a moment later, and every marked element of a person is repainted in place when their profile
// arrives or changes. When anyone changes their profile the server pushes a `profile` frame to every
// connection (chat.js hands it to `pushed`), so a new name or avatar shows at once on every page, your
// own other tabs and devices included; as a fallback for frames lost while disconnected, the page also asks
// again every 5 minutes for everyone it knows (avatars are revalidated by ETag, so an unchanged one costs a
// 304). Avatars are fetched with the token (an <img src> cannot send it) and shown through object URLs.
//
// The card: a click on a person's name or avatar (data-profile-open) opens a small modal popover by it with
// the avatar, display name, @username, "Message" (the DM with them) and, for yourself, "Edit profile".

import { ApiError, USER_RE } from "./api.js";

const REFRESH_MS = 5 * 60 * 1000;
const BATCH = 100;
const BATCH_DELAY_MS = 30;

async function call(method, path, { token, json, form } = {}) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) body = form;
  let res;
  try {
    res = await fetch(path, { method, headers, body, credentials: "same-origin", cache: "no-store" });
  } catch {
    throw new ApiError(0, "network", "Can't reach the server. Check your connection and try again.");
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // no JSON body
  }
  if (!res.ok) {
    const err = new ApiError(res.status, (data && data.error) || "http",
      (data && data.message) || `The server answered ${res.status}.`);
    err.token = token;
    throw err;
  }
  return data;
}

function clean(p) {
  return {
    user: String(p.user),
    display_name: typeof p.display_name === "string" ? p.display_name : "",
    avatar: p.avatar === true,
  };
}

class Profiles {
  constructor() {
    this.getToken = () => null;
    this.me = "";
    this.data = new Map(); // lower-case name -> {user, display_name, avatar}
    this.wanted = new Set(); // lower-case names to ask for
    this.asking = new Set(); // lower-case names asked for, not answered yet
    this.timer = null;
    this.avatars = new Map(); // lower-case name -> {etag, url} or a Promise while fetching
    this.listeners = new Set();
    this.refresher = null;
    this.card = null;
    this.onMessage = null; // (user) => open the DM with them
    this.onEdit = null; // () => open the account settings
    document.addEventListener("click", (ev) => {
      const el = ev.target instanceof Element ? ev.target.closest("[data-profile-open]") : null;
      if (el) {
        ev.preventDefault();
        this.openCard(el.dataset.profileOpen, el);
      }
    });
  }

  start(getToken, me) {
    this.getToken = getToken;
    this.me = me;
    clearInterval(this.refresher);
    this.refresher = setInterval(() => this.refresh(), REFRESH_MS);
    this.want([me]);
  }

  /** Call `fn` whenever a profile arrives or changes (DM titles). */
  onChange(fn) {
    this.listeners.add(fn);
  }

  /** The profile of `user` if known (asks for it otherwise). */
  get(user) {
    const p = this.data.get(user.toLowerCase());
    if (!p) this.want([user]);
    return p || null;
  }

  /** `user`'s display name, or their username when they have none (or it is not known yet). */
  name(user) {
    const p = this.get(user);
    return (p && p.display_name) || user;
  }

  want(names) {
    for (const n of names) {
      const key = String(n).toLowerCase();
      if (!USER_RE.test(key) || this.data.has(key) || this.asking.has(key)) continue;
      this.wanted.add(key);
    }
    if (this.wanted.size && !this.timer) this.timer = setTimeout(() => this._ask(), BATCH_DELAY_MS);
  }

  /** Ask again for everyone the page knows (every 5 minutes). */
  refresh() {
    for (const key of this.data.keys()) if (!this.asking.has(key)) this.wanted.add(key);
    clearTimeout(this.timer);
    this._ask({ again: true });
  }

  async _ask({ again = false } = {}) {
    this.timer = null;
    const token = this.getToken();
    if (!token) return;
    const names = [...this.wanted];
    this.wanted.clear();
    for (let i = 0; i < names.length; i += BATCH) {
      const chunk = names.slice(i, i + BATCH);
      for (const k of chunk) this.asking.add(k);
      let data;
      try {
        data = await call("GET", `/api/profiles?users=${chunk.map(encodeURIComponent).join(",")}`, { token });
      } catch {
        for (const k of chunk) this.asking.delete(k);
        continue; // asked again at the next refresh (or the next time someone shows them)
      }
      const found = Array.isArray(data && data.profiles) ? data.profiles.filter((p) => p && typeof p.user === "string") : [];
      const answered = new Set();
      for (const p of found) {
        answered.add(p.user.toLowerCase());
        this.update(clean(p), { revalidate: again });
      }
      for (const k of chunk) {
        this.asking.delete(k);
        if (!answered.has(k) && !this.data.has(k)) this.data.set(k, { user: k, display_name: "", avatar: false, missing: true });
      }
    }
  }

  /**
   * A `profile` frame: `user` changed their display name or avatar (`avatar`: its version, the ETag of the
   * image without quotes, or null). Only people the page knows of (or is asking for) are kept: the others
   * are fetched when something shows them.
   */
  pushed(f) {
    if (!f || typeof f.user !== "string" || !USER_RE.test(f.user)) return;
    const key = f.user.toLowerCase();
    if (!this.data.has(key) && !this.asking.has(key)) return;
    const version = typeof f.avatar === "string" ? f.avatar : null;
    const profile = { user: f.user, display_name: typeof f.display_name === "string" ? f.display_name : "", avatar: !!version };
    const had = this.avatars.get(key);
    if (had instanceof Promise) {
      // an older image may be on its way: fetch again once it is here (a 304 if it was the new one)
      this.update(profile);
      const again = () => this._fetchAvatar(f.user);
      if (version) had.then(again, again);
      return;
    }
    this.update(profile, { revalidate: !!version && (!had || had.etag !== `"${version}"`) });
  }

  /** A profile from the server (GET /api/profiles, PATCH /api/me, the avatar routes): repaint its person. */
  update(profile, { revalidate = false } = {}) {
    const key = profile.user.toLowerCase();
    const old = this.data.get(key);
    this.data.set(key, profile);
    const changed = !old || old.display_name !== profile.display_name || old.avatar !== profile.avatar || old.missing;
    if (profile.avatar && (revalidate || !old || !old.avatar)) this._fetchAvatar(profile.user);
    if (!profile.avatar) this._dropAvatar(key);
    if (changed) this._repaint(profile.user);
  }

  async _fetchAvatar(user) {
    const key = user.toLowerCase();
    const had = this.avatars.get(key);
    if (had instanceof Promise) return;
    const token = this.getToken();
    const job = (async () => {
      let res;
      try {
        // the browser keeps the image and asks the server with its ETag: 304 when it did not change
        res = await fetch(`/api/users/${encodeURIComponent(user)}/avatar`, {
          headers: { Authorization: `Bearer ${token}` }, credentials: "same-origin", cache: "no-cache",
        });
      } catch {
        return had;
      }
      if (!res.ok) return res.status === 404 ? null : had;
      const etag = res.headers.get("ETag") || "";
      if (had && had.etag === etag) return had;
      const url = URL.createObjectURL(await res.blob());
      if (had) setTimeout(() => URL.revokeObjectURL(had.url), 1000);
      return { etag, url };
    })();
    this.avatars.set(key, job);
    const done = await job;
    if (this.avatars.get(key) !== job) return;
    if (done) this.avatars.set(key, done);
    else this.avatars.delete(key);
    if (!had || !done || had.url !== done.url) this._repaint(user);
  }

  _dropAvatar(key) {
    const had = this.avatars.get(key);
    if (!had) return;
    this.avatars.delete(key);
    if (!(had instanceof Promise)) setTimeout(() => URL.revokeObjectURL(had.url), 1000);
  }

  /** The object URL of `user`'s avatar image, or null (initials). */
  avatarUrl(user) {
    const p = this.get(user);
    const a = this.avatars.get(user.toLowerCase());
    return p && p.avatar && a && !(a instanceof Promise) ? a.url : null;
  }

  _repaint(user) {
    const key = user.toLowerCase();
    for (const el of document.querySelectorAll("[data-avatar-for]")) {
      if (el.dataset.avatarFor.toLowerCase() === key) paintAvatar(el);
    }
    for (const el of document.querySelectorAll("[data-name-for]")) {
      if (el.dataset.nameFor.toLowerCase() === key) paintName(el);
    }
    for (const fn of this.listeners) {
      try {
        fn(user);
      } catch (err) {
        console.error(err);
      }
    }
  }

  // ---- changing your own profile ---------------------------------------------------------------

  async setDisplayName(displayName) {
    const p = await call("PATCH", "/api/me", { token: this.getToken(), json: { display_name: displayName } });
    this.update(clean(p));
    return p;
  }

  async setAvatar(file) {
    const form = new FormData();
    form.append("file", file, file.name || "avatar");
    const p = await call("PUT", "/api/me/avatar", { token: this.getToken(), form });
    this._dropAvatar(p.user.toLowerCase());
    this.update(clean(p), { revalidate: true });
    return p;
  }

  async removeAvatar() {
    const p = await call("DELETE", "/api/me/avatar", { token: this.getToken() });
    this.update(clean(p));
    return p;
  }

  // ---- the profile card ------------------------------------------------------------------------

  openCard(user, anchor) {
    const card = this._cardElement();
    const p = this.get(user) || { user, display_name: "", avatar: false };
    const shown = p.missing ? user : p.user;
    const face = card.querySelector(".profile-card-avatar");
    face.dataset.avatarFor = shown;
    paintAvatar(face);
    const title = card.querySelector(".profile-card-name");
    title.dataset.nameFor = shown;
    paintName(title);
    card.querySelector(".profile-card-user").textContent = `@${shown}`;
    const mine = shown.toLowerCase() === this.me.toLowerCase();
    const message = card.querySelector(".profile-card-message");
    const edit = card.querySelector(".profile-card-edit");
    message.hidden = mine || !this.onMessage;
    edit.hidden = !mine || !this.onEdit;
    card.dataset.user = shown;
    this.opener = anchor;
    if (!card.open) card.showModal();
    const r = anchor && anchor.isConnected ? anchor.getBoundingClientRect() : null;
    const w = card.offsetWidth;
    const h = card.offsetHeight;
    const left = r ? Math.max(8, Math.min(r.left, innerWidth - w - 8)) : (innerWidth - w) / 2;
    const below = r ? r.bottom + 6 : (innerHeight - h) / 2;
    const top = below + h > innerHeight - 8 && r ? Math.max(8, r.top - h - 6) : Math.max(8, below);
    card.style.left = `${Math.round(left)}px`;
    card.style.top = `${Math.round(top)}px`;
    (message.hidden ? (edit.hidden ? card.querySelector(".profile-card-close") : edit) : message).focus();
  }

  _cardElement() {
    if (this.card) return this.card;
    const card = document.createElement("dialog");
    card.className = "profile-card";
    card.setAttribute("aria-labelledby", "profile-card-name");
    const close = document.createElement("button");
    close.type = "button";
    close.className = "icon-button profile-card-close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "×";
    const face = document.createElement("span");
    face.className = "avatar profile-card-avatar";
    face.setAttribute("aria-hidden", "true");
    const name = document.createElement("h2");
    name.className = "profile-card-name";
    name.id = "profile-card-name";
    name.dataset.nameStyle = "plain";
    const user = document.createElement("p");
    user.className = "profile-card-user";
    const actions = document.createElement("div");
    actions.className = "profile-card-actions";
    const message = document.createElement("button");
    message.type = "button";
    message.className = "button primary small profile-card-message";
    message.textContent = "Message";
    const edit = document.createElement("button");
    edit.type = "button";
    edit.className = "button secondary small profile-card-edit";
    edit.textContent = "Edit profile";
    actions.append(message, edit);
    card.append(close, face, name, user, actions);
    close.addEventListener("click", () => card.close());
    message.addEventListener("click", () => {
      const who = card.dataset.user;
      this.opener = null; // the DM takes the focus
      card.close();
      if (this.onMessage) this.onMessage(who);
    });
    edit.addEventListener("click", () => {
      this.opener = null;
      card.close();
      if (this.onEdit) this.onEdit();
    });
    card.addEventListener("click", (ev) => {
      if (ev.target !== card) return; // a click on the backdrop closes, like Escape
      const r = card.getBoundingClientRect();
      if (ev.clientX < r.left || ev.clientX > r.right || ev.clientY < r.top || ev.clientY > r.bottom) card.close();
    });
    card.addEventListener("close", () => {
      const back = this.opener;
      this.opener = null;
      if (back && back.isConnected && typeof back.focus === "function") back.focus();
    });
    document.body.append(card);
    this.card = card;
    return card;
  }
}

export const profiles = new Profiles();

// ---- painting marked elements -----------------------------------------------------------------------

/** Show the avatar image of the element's person, or their initial. */
export function paintAvatar(el) {
  const user = el.dataset.avatarFor;
  const url = profiles.avatarUrl(user);
  const img = el.querySelector("img");
  if (url) {
    if (img && img.getAttribute("src") === url) return;
    const fresh = document.createElement("img");
    fresh.alt = "";
    fresh.src = url;
    fresh.className = "avatar-img";
    el.replaceChildren(fresh);
    el.classList.add("has-image");
  } else {
    el.classList.remove("has-image");
    el.textContent = el.dataset.initial || "?";
  }
}

/**
 * Show the element's person by name: "full" (message headers) the display name in bold with the username
 * after it, muted; "plain" (lists, titles) the display name alone, the username in the tooltip. Without a
 * display name, the username.
 */
export function paintName(el) {
  const user = el.dataset.nameFor;
  const p = profiles.get(user);
  const display = p && !p.missing ? p.display_name : "";
  if (el.dataset.nameStyle === "full" && display) {
    const strong = document.createElement("bdi");
    strong.className = "display-name";
    strong.textContent = display;
    const at = document.createElement("span");
    at.className = "username-after";
    at.textContent = user;
    el.replaceChildren(strong, " ", at);
  } else {
    el.textContent = display || user;
  }
  el.title = display ? `${display} (@${user})` : user;
}
