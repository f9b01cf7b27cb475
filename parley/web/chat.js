// chat.js — The chat screen's controller. The rooms you are in come from the server (GET /api/me/rooms,
// on every (re)connection and every few seconds while the page is visible), so every device shows the
// same list, unread counts and invitations. It routes server frames to rooms, renders membership and
// topic events, drops a room at once when the server says you were removed (and never rejoins it),
// reports what you have read, sends what you write (through the outbox), and keeps the sidebar,
// header, presence list, typing line and connection badge in step with the state. Messages can be edited
// (inline), deleted (with a confirmation), reacted to and replied to (a quote bar above the composer);
// each such change is a frame answered by `done`, and its event reaches every member. Messages that
// mention you count apart (sidebar, title) and, as each room's notification level says, raise a desktop
// notification when they arrive where you are not looking. A search hit opens in its room, in context.

import * as api from "./api.js";
import { Calls } from "./calls.js";
import { charCount, ComposerLimit, composerText } from "./composerlimit.js"; // daily: length counter, indentation
import { fileCache, messageSummary } from "./attachments.js";
import { Dialogs } from "./dialogs.js";
import { mentionsMe } from "./format.js";
import { Members, permissions } from "./members.js";
import { closeMenu, openMenu } from "./menu.js";
import { Outbox } from "./outbox.js";
import { avatar, callLog, firstLine, personName, REACTIONS } from "./render.js";
import { profiles } from "./profiles.js"; // display names, avatars, the profile card
import { namedRef, refKey, refKind, Requests } from "./requests.js"; // frames awaiting answers, by ref
import { PAGE_SIZE, Room } from "./room.js";
import { kindOf, sortRooms, titleBadge, unreadTotals } from "./roomstate.js";
import { Search } from "./search.js";
import { Shortcuts } from "./shortcuts.js"; // daily: Ctrl+K, Alt+Up/Down, "?", focus after signing in
import { clearSession, loadSession, Prefs, saveSession } from "./session.js";
import { Transport } from "./transport.js";
import { Uploads } from "./uploads.js";
import { connectionText, inviteItems, memberItems, RoomList, roomChips, typingText } from "./views.js";

const { ROOM_RE, describeError } = api;
const TYPING_EVERY_MS = 2000;
const RETRY_SEND_MS = 1500;
const SYNC_EVERY_MS = 10_000; // how often the room list is refreshed while the page is visible
const READ_DELAY_MS = 400; // read markers are reported at most this often per room
const EXPIRED = "Your session has expired. Please sign in again.";

/** The room limit of the server when `f` is the error of a join past it (--max-rooms), else 0. */
function roomCap(f) {
  const m = f && f.code === "bad_request" && /at most (\d+) rooms/.exec(f.message || "");
  return m ? Number(m[1]) : 0;
}
export const SIGNED_OUT_ELSEWHERE = "You signed out in another tab.";
const ACTION_TIMEOUT_MS = 15_000; // an edit, delete or reaction not answered by then is reported as failed
const CONTEXT = 25; // messages loaded before a search hit, to show it in context
const CONTEXT_PAGE = 100; // events per REST page when loading down to a search hit
const CONTEXT_MAX = 5000; // a hit further back than this from what is loaded is not shown in its room
const NOTIFY_LEVELS = [
  ["all", "All messages"],
  ["mentions", "Only @mentions"],
  ["none", "Nothing"],
];

const $ = (id) => document.getElementById(id);

export class Chat {
  constructor(session, { onSignOut, onExpired }) {
    this.session = session;
    this.me = session.user;
    this.onSignOut = onSignOut;
    this.onExpired = onExpired;
    this.prefs = new Prefs(this.me);
    this.outbox = new Outbox(this.me);
    this.rooms = new Map(); // rooms you are a member of: name -> Room
    this.invites = new Map(); // rooms you are invited to: name -> info from /api/me/rooms
    this.inviteBusy = new Set();
    this.leaving = new Set(); // rooms being left or deleted from this page: their "removed" is expected
    this.removedWaits = new Map(); // room -> resolve(): a leave waiting for this connection's "removed"
    this.removalReasons = new Map(); // room -> reason given when you were kicked or banned
    this.active = null;
    this.admin = false;
    this.info = { registration: "open", room_creation: "anyone" };
    this.inflight = new Set(); // client_ids sent on the current connection, awaiting ack
    this.retryTimers = new Map(); // room -> timer for a delayed outbox flush
    this.readTimers = new Map(); // room -> timer for a read report
    this.lastTypingSent = new Map(); // room -> ms
    this.typingTimer = null;
    // Frames awaiting an answer (requests.js): "hist:N" -> {room, limit} for a page of history, "act:N" ->
    // {resolve, fail} for an edit, delete or react frame awaiting `done`.
    this.requests = new Requests();
    this.editing = null; // {room, seq, form} the message being edited inline
    this.maxText = 4000;
    this.suggestions = [];
    this.synced = false; // the room list was loaded on the current connection
    this.syncing = null;
    this.syncAgain = false;
    this.syncRetry = null;
    this.syncFailures = 0;
    this.lastSync = 0;
    this.legacy = false; // a server without /api/me/rooms: rooms are what this browser remembers
    this.roomList = new RoomList($("room-list"), (name) => this.select(name));
    this.dmList = new RoomList($("dm-list"), (name) => this.select(name));
    // WebSocket when it gets through, long-polling when not (transport.js): the same frames either way.
    this.conn = new Transport({
      token: session.token,
      onFrame: (f) => this.handle(f),
      onReady: (f, carried) => this.ready(f, carried),
      authRooms: () => this.authRooms(),
      onState: (s, info) => this.showState(s, info),
      onUnauthorized: (msg) => this.unauthorized(msg),
    });
    this.members = new Members(this);
    this.dialogs = new Dialogs(this);
    this.search = new Search(this);
    this.uploads = new Uploads(this);
    this.calls = new Calls(this);
    this.limit = new ComposerLimit(this); // daily
    this.shortcuts = new Shortcuts(this); // daily
    callLog.seen = (ev) => this.calls.seen(ev);
    callLog.join = (room, callId, media) => this.calls.join(room, callId, media);
    fileCache.getToken = () => this.token;
    profiles.onMessage = (user) => this.dialogs.openDmWith(user);
    profiles.onEdit = () => this.dialogs.settings();
    profiles.onChange(() => this.profilesChanged());
  }

  /** A display name arrived or changed: DM titles follow (message headers and lists repaint themselves). */
  profilesChanged() {
    if (profiles.getToken !== this.profileToken) return; // a chat of an earlier sign-in on this page
    let changed = false;
    for (const room of this.rooms.values()) {
      if (!room.isDm) continue;
      const title = this.titleOf(room.name, room.info);
      if (title !== room.title) {
        room.setTitle(title, true);
        changed = true;
      }
    }
    if (!changed) return;
    this.renderSidebar();
    const active = this.rooms.get(this.active);
    if (active && active.isDm) this.renderActive();
  }

  get token() {
    return this.session.token;
  }

  start() {
    $("chat-view").hidden = false;
    this.profileToken = () => this.token;
    profiles.start(this.profileToken, this.me);
    personName($("me-name"), this.me);
    $("me-avatar").replaceChildren(avatar(this.me, "", { open: true }));
    this.bindUi();
    // The cached list paints the sidebar at once; the server's list replaces it when it answers.
    for (const name of this.prefs.rooms) this.addRoom(name, this.prefs.meta[name]);
    const first = this.prefs.active && this.rooms.has(this.prefs.active) ? this.prefs.active : this.prefs.rooms[0];
    this.activate(first || null, { focus: false });
    this.renderSidebar();
    this.shortcuts.focusHome(); // daily
    this.conn.start();
    this.loadAccount();
    this.loadSuggestions();
    setInterval(() => {
      if (this.conn.ready && document.visibilityState === "visible" && !this.legacy) this.sync();
    }, SYNC_EVERY_MS);
  }

  /** Who you are on this server (admin?) and what it allows (room creation). */
  async loadAccount() {
    try {
      const [me, info] = await Promise.all([api.me(this.token), api.serverInfo().catch(() => null)]);
      this.admin = !!(me && me.admin);
      if (info) this.info = { ...this.info, ...info };
    } catch (err) {
      this.restFailed(err);
      return;
    }
    const canCreate = this.admin || this.info.room_creation !== "admins";
    $("new-room").hidden = !canCreate;
    $("welcome-create").hidden = !canCreate;
    if (!canCreate) $("join-room").placeholder = "Find a room…";
    this.renderActive();
  }

  /**
   * The token was refused. Another tab may have changed the password and stored a newer token: use it.
   * Otherwise the session is over.
   */
  unauthorized(message) {
    if (this.signingOut) return;
    const stored = loadSession();
    if (stored && stored.user === this.me && stored.token !== this.conn.token) {
      this.session = stored;
      this.conn.setToken(stored.token);
      this.conn.restart();
      return;
    }
    this.signingOut = true; // the first refusal decides; the others that follow it are the same news
    this.conn.stop();
    if (!stored) this.onSignOut(SIGNED_OUT_ELSEWHERE); // another tab of this browser signed out
    else this.onExpired(message || EXPIRED);
  }

  /** Adopt a new token (after a password change): REST calls and the next connection use it. */
  setToken(res) {
    saveSession({ token: res.token, user: res.user || this.me, expires: res.expires });
    this.session = loadSession() || { ...this.session, token: res.token };
    this.conn.setToken(res.token);
  }

  /** Change the password: the new token replaces the old one here; other sessions end (4401). */
  async changePassword(current, next) {
    await this.conn.replacingToken(async () => {
      const res = await api.changePassword(this.token, current, next);
      if (!res || typeof res.token !== "string") throw new api.ApiError(0, "internal", "the server sent no new token");
      this.setToken(res);
    });
  }

  /** Revoke this device's token (so a copy of it is worthless, and every tab using it signs out), then go
   * back to the sign-in screen. Offline, the token cannot be revoked: the page forgets it all the same. */
  async signOut() {
    this.signingOut = true;
    const token = this.token;
    clearSession(); // first, so other tabs learn it from the storage event before the server closes them
    this.conn.stop();
    try {
      await api.signOut(token);
    } catch {
      // offline, or the token was revoked already: nothing more to do here
    }
    this.onSignOut();
  }

  /** End every session of the account, this one too, and go back to the sign-in screen. */
  async signOutEverywhere() {
    await this.conn.replacingToken(async () => {
      await api.signOutEverywhere(this.token);
      this.signingOut = true;
      this.conn.stop();
    });
    this.onSignOut("You are signed out on every device.");
  }

  /** A REST call failed: a 401 ends the session (unless a newer token exists); true if handled so. */
  restFailed(err) {
    if (err && err.status === 401) {
      // A call made with a token replaced since (or while it is being replaced) proves nothing.
      const stale = (err.token && err.token !== this.token) || this.conn.holds > 0;
      if (!stale) this.unauthorized(EXPIRED);
      return true;
    }
    return false;
  }

  // ---- UI wiring -------------------------------------------------------------------------------

  bindUi() {
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.joinFromForm();
    });
    $("join-room").addEventListener("focus", () => this.loadSuggestions());
    let suggestTimer = null;
    $("join-room").addEventListener("input", (ev) => {
      clearTimeout(suggestTimer);
      const words = api.typedRoom(ev.target.value);
      if (words) suggestTimer = setTimeout(() => this.loadSuggestions(words), 200);
    });
    $("sign-out").addEventListener("click", () => this.signOut());
    $("leave").addEventListener("click", () => {
      if (this.active) this.confirmLeave(this.active);
    });
    $("retry-now").addEventListener("click", () => this.conn.retryNow());
    $("jump").addEventListener("click", () => {
      const room = this.rooms.get(this.active);
      if (!room) return;
      room.scrollToBottom();
      room.markRead();
      this.renderActive();
    });
    $("menu-button").addEventListener("click", () => this.toggleDrawer());
    $("scrim").addEventListener("click", () => this.toggleDrawer(false));
    $("members-button").addEventListener("click", () => this.members.open(this.active));
    $("show-members").addEventListener("click", () => this.members.open(this.active));
    $("room-menu-button").addEventListener("click", (ev) => this.openRoomMenu(ev.currentTarget));
    $("search-button").addEventListener("click", () => this.search.open());
    const drawerThen = (fn) => () => {
      this.toggleDrawer(false);
      fn();
    };
    $("browse-rooms").addEventListener("click", drawerThen(() => this.dialogs.browse()));
    $("new-room").addEventListener("click", drawerThen(() => this.dialogs.createRoom()));
    $("new-dm").addEventListener("click", drawerThen(() => this.dialogs.newDm()));
    $("settings-button").addEventListener("click", drawerThen(() => this.dialogs.settings()));
    $("welcome-browse").addEventListener("click", () => this.dialogs.browse());
    $("welcome-create").addEventListener("click", () => this.dialogs.createRoom());
    $("welcome-dm").addEventListener("click", () => this.dialogs.newDm());

    this.uploads.bind();
    this.calls.bind();
    this.limit.bind(); // daily
    this.shortcuts.bind(); // daily
    const box = $("message");
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.sendFromComposer();
    });
    box.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        this.sendFromComposer();
      } else if (ev.key === "ArrowUp" && !box.value && !ev.shiftKey && !ev.altKey && !ev.ctrlKey && !ev.metaKey) {
        // Up in an empty composer edits your last message, as in Slack and Element.
        const room = this.rooms.get(this.active);
        const last = room && !room.info.muted ? room.lastOwnMessage() : null;
        if (last) {
          ev.preventDefault();
          this.startEdit(room, last.seq);
        }
      } else if (ev.key === "Escape") {
        const room = this.rooms.get(this.active);
        if (room && room.replyTo !== null) {
          ev.stopPropagation();
          this.setReply(room, null);
        }
      }
    });
    $("reply-cancel").addEventListener("click", () => {
      const room = this.rooms.get(this.active);
      if (room) this.setReply(room, null);
    });
    box.addEventListener("input", () => {
      this.autosize();
      if (box.value.trim()) this.sendTyping();
    });

    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState !== "visible") return;
      const room = this.rooms.get(this.active);
      if (room) room.markRead();
      if (this.conn.ready && Date.now() - this.lastSync > 3000) this.sync();
    });
    window.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && !document.querySelector("dialog[open]")) this.toggleDrawer(false);
    });
  }

  toggleDrawer(open) {
    const want = open ?? !document.body.classList.contains("drawer-open");
    const was = document.body.classList.contains("drawer-open");
    document.body.classList.toggle("drawer-open", want);
    $("menu-button").setAttribute("aria-expanded", String(want));
    $("scrim").hidden = !want;
    if (want && !was) (document.querySelector(".room-item[aria-current='true']") || $("join-room")).focus();
  }

  autosize() {
    const box = $("message");
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 180)}px`;
  }

  /** Public rooms for the join box and the welcome chips; with `words`, the rooms whose name or topic holds
   * them, looked up on the server (every room, not only the first page). */
  async loadSuggestions(words = "") {
    let rooms;
    try {
      rooms = (await api.directory(this.token, { limit: words ? 50 : 200, q: words })).rooms;
    } catch (err) {
      this.restFailed(err);
      return;
    }
    if (!words) this.suggestions = rooms;
    else if (api.typedRoom($("join-room").value) !== words) return; // typed on since
    const list = $("room-suggestions");
    list.replaceChildren(
      ...rooms.map((r) => {
        const o = document.createElement("option");
        o.value = r.name;
        if (r.topic) o.label = r.topic;
        return o;
      }),
    );
    if (!words) this.renderWelcome();
  }

  /** A notice above the conversation: removals, failed actions. Stays until dismissed (errors, removals). */
  notify(text, { kind = "error", timeout = 0 } = {}) {
    const box = $("notices");
    const el = document.createElement("div");
    el.className = `notice ${kind}`;
    el.setAttribute("role", kind === "info" ? "status" : "alert");
    const span = document.createElement("span");
    span.className = "notice-text";
    span.textContent = text;
    const close = document.createElement("button");
    close.type = "button";
    close.className = "link-button notice-close";
    close.textContent = "Dismiss";
    close.addEventListener("click", () => {
      const next = el.nextElementSibling || el.previousElementSibling;
      el.remove();
      const target = next && next.querySelector("button");
      (target || $("message")).focus();
    });
    el.append(span, close);
    box.prepend(el);
    while (box.children.length > 4) box.lastElementChild.remove();
    if (timeout) setTimeout(() => el.remove(), timeout);
    return el;
  }

  // ---- the room list from the server -------------------------------------------------------------

  /** Load GET /api/me/rooms and make the page match it (one call at a time; a call during one repeats). */
  async sync() {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = this._sync();
    try {
      await this.syncing;
    } finally {
      this.syncing = null;
      if (this.syncAgain) {
        this.syncAgain = false;
        this.sync();
      }
    }
  }

  async _sync() {
    clearTimeout(this.syncRetry);
    const started = performance.now();
    this.lastSync = Date.now();
    let list;
    try {
      list = await api.myRooms(this.token);
    } catch (err) {
      if (this.restFailed(err)) return;
      if (err.status === 404) {
        // An older server: no membership list, so rooms are what this browser remembers.
        this.legacy = true;
        this.synced = true;
        this.joinAll();
        return;
      }
      this.syncFailures += 1;
      const delay = Math.min(30_000, 1000 * 2 ** Math.min(this.syncFailures, 5));
      this.syncRetry = setTimeout(() => {
        if (this.conn.ready) this.sync();
      }, delay);
      return;
    }
    this.syncFailures = 0;
    this.legacy = false;
    this.applyRoomList(list, started);
  }

  applyRoomList(list, started) {
    const listed = new Set();
    const invites = new Map();
    for (const info of list) {
      if (info.state === "invited") {
        invites.set(info.name, info);
        continue;
      }
      if (info.state != null && info.state !== "member") continue;
      listed.add(info.name);
      let room = this.rooms.get(info.name);
      if (!room) {
        room = this.addRoom(info.name, info);
        this.prefs.addRoom(info.name);
      } else {
        this.setRoomInfo(room, info);
      }
      room.applyServerState(info);
    }
    // Rooms the server does not list any more were left or lost while this page was not listening
    // (another device, or offline). A room joined after this list was made is kept.
    for (const [name, room] of [...this.rooms]) {
      if (listed.has(name) || this.leaving.has(name)) continue;
      if (room.joining || room.joinedAt > started || room.addedAt > started) continue;
      if (room.userJoin && !room.everJoined) continue; // asked for on this page (maybe offline): join it
      this.dropRoom(name);
    }
    for (const name of this.rooms.keys()) invites.delete(name);
    this.invites = invites;
    this.synced = true;
    this.joinAll();
    // A page opened with nothing to show (a new device) opens the first room; later arrivals just
    // appear in the list with their unread count.
    if (!this.listedOnce && !this.active) {
      const first = this.sortedRooms()[0];
      if (first && !document.querySelector("dialog[open]")) this.activate(first.name, { focus: false });
      this.shortcuts.focusHome(); // daily
    }
    this.listedOnce = true;
    this.renderSidebar();
    this.renderActive();
  }

  /** Subscribe to every room we are in that this connection has not joined yet. */
  joinAll() {
    if (!this.conn.ready || !this.synced) return;
    for (const room of this.rooms.values()) if (!room.joined && !room.joining) this.sendJoin(room);
  }

  // ---- rooms -------------------------------------------------------------------------------------

  addRoom(name, info) {
    if (this.rooms.has(name)) {
      const room = this.rooms.get(name);
      if (info) this.setRoomInfo(room, info);
      return room;
    }
    const room = new Room(name, {
      me: this.me,
      lastRead: this.prefs.lastRead[name] ?? null,
      onChange: (r) => this.roomChanged(r),
      onNeedHistory: (r, before) => this.requestHistory(r, before),
      onRead: (r) => this.reportRead(r),
      onAction: (r, seq, action, el, emoji) => this.messageAction(r, seq, action, el, emoji),
      onNeedQuote: (r, seq) => this.lookUpQuote(r, seq),
      onNotice: (text) => this.notify(text, { kind: "info", timeout: 6000 }),
    });
    room.addedAt = performance.now();
    room.info = {};
    this.rooms.set(name, room);
    this.setRoomInfo(room, info || {});
    $("logs").append(room.log);
    for (const entry of this.outbox.forRoom(name)) room.addPending(entry, "Waiting for connection…");
    return room;
  }

  /** Merge what the server says about a room (visibility, topic, your role, muted, a DM's members). */
  setRoomInfo(room, info) {
    // A DM's member list is `members` in /api/me/rooms; some answers call it `people` (with `members` a count).
    if (Array.isArray(info.people) && !Array.isArray(info.members)) info = { ...info, members: info.people };
    const keys = ["visibility", "topic", "role", "muted", "state", "members", "notify"];
    for (const k of keys) {
      if (info[k] === undefined) continue;
      // `members` is a DM's member list in /api/me/rooms but a count in other answers.
      if (k === "members" && !Array.isArray(info[k])) continue;
      room.info[k] = info[k];
    }
    const kind = kindOf(room.name, room.info);
    room.setTitle(this.titleOf(room.name, room.info), kind === "dm");
    this.prefs.setMeta(room.name, {
      visibility: room.info.visibility,
      topic: room.info.topic,
      members: room.info.members,
    });
    if (room.name === this.active) this.renderActive();
  }

  /** What the page calls a room: `#name`, or for a direct message the other people's names. */
  titleOf(name, info) {
    if (kindOf(name, info) !== "dm") return `#${name}`;
    const members = Array.isArray(info && info.members) ? info.members : [];
    const others = members.filter((u) => u !== this.me);
    if (others.length) return others.map((u) => profiles.name(u)).join(", ");
    return members.length ? `${this.me} (just you)` : "Direct message";
  }

  label(room) {
    return room.isDm ? room.title : room.name;
  }

  joinFromForm() {
    const input = $("join-room");
    const name = api.typedRoom(input.value);
    const error = $("join-error");
    if (!ROOM_RE.test(name)) {
      error.textContent = name
        ? "Room names use letters, digits, “.”, “_” and “-” (up to 64)."
        : "Type a room name to join or create it.";
      input.focus();
      return;
    }
    error.textContent = "";
    input.value = "";
    this.join(name, { fromForm: true });
  }

  /** Open a room you are in, or join it (public rooms; private ones need an invitation). */
  join(name, { fromForm = false, info = null } = {}) {
    const isNew = !this.rooms.has(name);
    const room = this.addRoom(name, info);
    room.fromForm = fromForm;
    if (isNew) {
      room.userJoin = true;
      this.invites.delete(name);
      this.prefs.addRoom(name);
      this.sendJoin(room);
    }
    this.activate(name);
    this.toggleDrawer(false);
    return room;
  }

  sendJoin(room) {
    const frame = { type: "join", room: room.name, ref: namedRef("join", room.name) };
    const since = room.since;
    if (since !== undefined) frame.since = since;
    room.joining = this.conn.send(frame);
  }

  select(name) {
    this.activate(name);
    this.toggleDrawer(false);
  }

  /** Forget a room on this page (it was left, or we were removed): never rejoined. */
  dropRoom(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    for (const entry of this.outbox.forRoom(name)) this.inflight.delete(entry.client_id);
    this.outbox.dropRoom(name);
    clearTimeout(this.retryTimers.get(name));
    clearTimeout(this.readTimers.get(name));
    this.readTimers.delete(name);
    room.destroy();
    this.rooms.delete(name);
    this.prefs.removeRoom(name);
    this.members.roomGone(name);
    if (this.active === name) {
      const next = this.sortedRooms()[0];
      this.activate(next ? next.name : null, { focus: false });
    }
    this.renderSidebar();
  }

  /** Leave a room for good (membership), asking first where coming back needs an invitation. */
  confirmLeave(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    if (kindOf(name, room.info) === "private") {
      this.dialogs.confirm({
        title: `Leave ${room.title}?`,
        text: "It is a private room: you will need a new invitation to come back.",
        ok: "Leave room",
        run: () => this.leaveRoom(name),
      });
      return;
    }
    const undo = kindOf(name, room.info) === "public" ? room.title : null; // daily: a public room can be re-joined
    this.leaveRoom(name, { settled: !!undo })
      .then(() => undo && this.dialogs.leftWithUndo(name, undo))
      .catch((err) => {
        if (!this.restFailed(err)) this.notify(err.message);
      });
  }

  /**
   * manage action "leave": membership ends on every device (the server also sends "removed" to this
   * page's subscription). Throws an error whose message is ready to show.
   */
  async leaveRoom(name, { settled = false } = {}) {
    const room = this.rooms.get(name);
    if (!room) return;
    this.leaving.add(name);
    // With `settled`, also wait (briefly) until the live connection has been taken out of the room, so that
    // joining again right after (Undo) cannot cross the server's removal of the old subscription.
    const removed = settled && this.conn.ready ? new Promise((resolve) => this.removedWaits.set(name, resolve)) : null;
    try {
      await api.manage(this.token, name, "leave");
      if (removed) await Promise.race([removed, new Promise((resolve) => setTimeout(resolve, 3000))]);
    } catch (err) {
      this.removedWaits.delete(name);
      this.leaving.delete(name);
      const text =
        err.code === "conflict"
          ? `You can't leave ${room.title} yet: you are its last owner. Make someone else an owner first, or delete the room.`
          : describeError(err, `Couldn't leave ${room.title}`);
      throw Object.assign(new Error(text), { shown: true, status: err.status, code: err.code });
    }
    this.dropRoom(name);
    setTimeout(() => this.leaving.delete(name), 10_000);
  }

  /** Delete a room (owners): its events and members are removed for everyone. Throws ApiError. */
  async deleteRoom(name) {
    const room = this.rooms.get(name);
    const title = room ? room.title : `#${name}`;
    this.leaving.add(name);
    try {
      await api.manage(this.token, name, "delete");
    } catch (err) {
      this.leaving.delete(name);
      throw err;
    }
    this.dropRoom(name);
    this.notify(`${title} was deleted.`, { kind: "info", timeout: 8000 });
    setTimeout(() => this.leaving.delete(name), 10_000);
  }

  /** The server says we are no longer in `name` (kicked, banned, left elsewhere, deleted). */
  roomRemoved(name, reason, by) {
    const room = this.rooms.get(name);
    const invited = this.invites.get(name);
    const title = room ? room.title : this.titleOf(name, invited || this.prefs.meta[name]);
    const expected = this.leaving.has(name);
    const waiting = this.removedWaits.get(name);
    this.removedWaits.delete(name);
    if (waiting) waiting();
    this.invites.delete(name);
    this.dropRoom(name);
    this.renderSidebar();
    if (expected) return;
    const why = this.removalReasons.get(name);
    this.removalReasons.delete(name);
    const byText = typeof by === "string" && by ? by : "A moderator";
    const suffix = why ? `: ${why}` : ".";
    let text;
    switch (reason) {
      case "kicked":
        text = `${byText} removed you from ${title}${suffix}`;
        break;
      case "banned":
        text = `${byText} banned you from ${title}${suffix}`;
        break;
      case "left":
        text = `You left ${title} on another device.`;
        break;
      case "deleted":
        text = by ? `${title} was deleted by ${by}.` : `${title} was deleted.`;
        break;
      default:
        text = `You are no longer a member of ${title}.`;
    }
    this.notify(text, { kind: "removed" });
  }

  // ---- invitations ---------------------------------------------------------------------------------

  acceptInvite(name) {
    const info = this.invites.get(name);
    this.invites.delete(name);
    this.join(name, { info: info ? { visibility: info.visibility, topic: info.topic } : null });
    this.renderSidebar();
  }

  async declineInvite(name) {
    const info = this.invites.get(name);
    const title = this.titleOf(name, info);
    this.inviteBusy.add(name);
    this.renderSidebar();
    try {
      await api.manage(this.token, name, "leave");
      this.invites.delete(name);
    } catch (err) {
      if (!this.restFailed(err)) this.notify(describeError(err, `Couldn't decline the invitation to ${title}`));
    } finally {
      this.inviteBusy.delete(name);
      this.renderSidebar();
    }
  }

  activate(name, { focus = true } = {}) {
    closeMenu();
    const prev = this.rooms.get(this.active);
    if (prev && this.active !== name) {
      prev.hide();
      this.uploads.stop();
    }
    this.active = name && this.rooms.has(name) ? name : null;
    this.prefs.setActive(this.active);
    const room = this.rooms.get(this.active);
    $("composer").hidden = !room;
    $("leave").hidden = !room;
    this.renderReplyBar();
    $("welcome").hidden = !!room;
    if (room) {
      room.show();
      $("leave").title = `Leave ${room.title}`;
      this.members.load(room.name);
      // Keyboard and mouse users land in the message box; on touch screens that would pop up the
      // keyboard over the conversation they came to read.
      if (focus && matchMedia("(pointer: fine)").matches && !$("message").disabled) $("message").focus();
    } else {
      this.renderWelcome();
    }
    this.renderSidebar();
    this.renderActive();
  }

  roomChanged(room) {
    if (room.lastRead !== null) this.prefs.setLastRead(room.name, room.lastRead);
    this.renderSidebar();
    if (room.name === this.active) this.renderActive();
  }

  /** The read marker moved: tell the server (over the socket, or REST while it is down), batched. */
  reportRead(room) {
    if (this.readTimers.has(room.name)) return;
    this.readTimers.set(
      room.name,
      setTimeout(() => {
        this.readTimers.delete(room.name);
        this.flushRead(room);
      }, READ_DELAY_MS),
    );
  }

  flushRead(room) {
    if (this.rooms.get(room.name) !== room || this.legacy) return;
    const seq = room.lastRead;
    if (seq === null || seq <= room.reportedRead) return;
    if (this.conn.send({ type: "read", room: room.name, seq, ref: namedRef("read", room.name) })) {
      room.reportedRead = seq;
      return;
    }
    api
      .markRead(this.token, room.name, seq)
      .then(() => {
        room.reportedRead = Math.max(room.reportedRead, seq);
      })
      .catch((err) => this.restFailed(err));
  }

  openRoomMenu(button) {
    const room = this.rooms.get(this.active);
    if (!room) return;
    const can = permissions(room, this.admin);
    const dm = room.isDm;
    // A phone's header has no room for Search, Members and Leave: they are here (style.css, max-width 760px).
    const phone = matchMedia("(max-width: 760px)").matches;
    openMenu(
      button,
      [
        phone && { label: "Search messages…", onSelect: () => this.search.open() },
        { label: "Members", onSelect: () => this.members.open(room.name) },
        { label: "Notifications…", onSelect: () => this.openNotifyMenu(button, room) },
        can.invite && { label: "Invite people…", onSelect: () => this.members.open(room.name, { invite: true }) },
        can.topic && { label: "Set topic…", onSelect: () => this.dialogs.topic(room) },
        { label: dm ? "Leave conversation" : "Leave room", onSelect: () => this.confirmLeave(room.name) },
        can.delete && {
          label: "Delete room…",
          danger: true,
          onSelect: () =>
            this.dialogs.confirm({
              title: `Delete ${room.title}?`,
              text: "Its messages and members are removed for everyone, and its name stays taken. This can't be undone.",
              ok: "Delete room",
              run: () => this.deleteRoom(room.name),
            }),
        },
      ],
      { label: `${room.title} options`, returnFocus: phone },
    );
  }

  // ---- notifications -------------------------------------------------------------------------------

  /** The room's notification level (All / Only @mentions / Nothing), and the browser's permission. */
  openNotifyMenu(button, room) {
    const level = room.info.notify || "all";
    const canAsk = typeof Notification === "function" && Notification.permission === "default";
    openMenu(
      button,
      [
        ...NOTIFY_LEVELS.map(([value, label]) => ({
          label,
          checked: value === level,
          onSelect: () => this.setNotifyLevel(room, value),
        })),
        canAsk && { label: "Allow desktop notifications…", onSelect: () => this.askNotificationPermission() },
      ],
      { label: `Notify me in ${room.title} of` },
    );
  }

  /** Keep the level on the server (for every device), then take what its room list says. */
  async setNotifyLevel(room, level) {
    const before = room.info.notify;
    room.info.notify = level;
    try {
      await api.setNotify(this.token, room.name, level);
    } catch (err) {
      room.info.notify = before;
      if (!this.restFailed(err)) this.notify(describeError(err, `Couldn't change the notifications of ${room.title}`));
      return;
    }
    if (level !== "none" && typeof Notification === "function" && Notification.permission === "denied") {
      this.notify("Desktop notifications are blocked for this site in your browser's settings: counts and the title still show what is new.", { kind: "info", timeout: 8000 });
    }
    this.sync();
  }

  /** Asked from a click (browsers ignore or penalise asking on load). */
  async askNotificationPermission() {
    if (typeof Notification !== "function") return;
    const answer = await Notification.requestPermission();
    if (answer === "denied") this.notify("Desktop notifications stay off: the browser was told not to show them.", { kind: "info", timeout: 6000 });
  }

  /**
   * A message arrived live: a desktop notification if the room's level asks for it and the reader is
   * not looking at that room (another room is open, or the tab is hidden).
   */
  desktopNotify(room, f) {
    if (f.from === this.me || typeof Notification !== "function" || Notification.permission !== "granted") return;
    if (room.name === this.active && document.visibilityState === "visible") return;
    const level = room.info.notify || "all";
    if (level === "none" || (level === "mentions" && !mentionsMe(f.mentions, this.me))) return;
    try {
      const n = new Notification(room.isDm ? f.from : `${f.from} in ${room.title}`, {
        body: firstLine(messageSummary(f.text, f.file), 200),
        tag: `parley:${room.name}`, // a newer one replaces the room's last
      });
      n.onclick = () => {
        window.focus();
        if (this.rooms.get(room.name) === room) this.select(room.name);
        n.close();
      };
    } catch {
      // Some browsers (Chrome on Android) show notifications only from a service worker.
    }
  }

  /**
   * A call rings (calls.js) while the page is hidden or not focused: "Incoming call from X", whatever the
   * room's level (a call is for you). Clicking it brings the page forward on the call's room. Returns the
   * notification, which calls.js closes when the ringing stops.
   */
  desktopNotifyCall(ring) {
    if (typeof Notification !== "function" || Notification.permission !== "granted") return null;
    if (document.visibilityState === "visible" && document.hasFocus()) return null;
    const room = this.rooms.get(ring.room);
    try {
      const n = new Notification(`Incoming call from ${ring.from}`, {
        body: `${ring.media === "video" ? "Video" : "Voice"} call${room && !room.isDm ? ` in ${room.title}` : ""}`,
        tag: `parley:call:${ring.id}`,
        requireInteraction: true,
      });
      n.onclick = () => {
        window.focus();
        if (this.rooms.has(ring.room)) this.select(ring.room);
        n.close();
      };
      return n;
    } catch {
      return null;
    }
  }

  // ---- search hits in context -----------------------------------------------------------------------

  /** Open room `name` and show message `seq` there, loading the messages from it down to what is loaded. */
  async showInContext(name, seq) {
    const room = this.rooms.get(name);
    if (!room) {
      this.notify(`You are not in #${name} any more.`, { kind: "info", timeout: 6000 });
      return;
    }
    this.select(name);
    if (!room.msgs.has(seq)) {
      const after = Math.max(0, seq - CONTEXT - 1);
      const upTo = room.seqs.length ? room.minSeq - 1 : Math.max(room.seenSeq, seq + CONTEXT);
      if (upTo - after > CONTEXT_MAX) {
        this.notify("That message is too far back to show in the conversation.", { kind: "info", timeout: 6000 });
        return;
      }
      let events;
      try {
        events = await this.eventsBetween(name, after, upTo);
      } catch (err) {
        if (!this.restFailed(err)) this.notify(describeError(err, "Couldn't load that message"));
        return;
      }
      if (this.rooms.get(name) !== room) return;
      room.addContext(events, after === 0);
    }
    if (this.active === name) room.jumpTo(seq);
  }

  /** The room's events with after < seq <= upTo, a few REST pages at a time. */
  async eventsBetween(name, after, upTo) {
    const starts = [];
    for (let a = after; a < upTo; a += CONTEXT_PAGE) starts.push(a);
    const out = [];
    for (let i = 0; i < starts.length; i += 4) {
      const pages = await Promise.all(
        starts.slice(i, i + 4).map((a) => api.eventsAfter(this.token, name, a, Math.min(CONTEXT_PAGE, upTo - a))),
      );
      for (const page of pages) out.push(...page);
    }
    return out;
  }

  // ---- rendering -------------------------------------------------------------------------------

  /** The rooms in the sidebar's order (roomstate.js): rooms, then DMs, each by label. */
  sortedRooms() {
    return sortRooms(this.rooms.values(), (r) => this.label(r));
  }

  renderSidebar() {
    const all = this.sortedRooms();
    const dmWith = (r) => {
      const people = r.isDm && Array.isArray(r.info.members) ? r.info.members.filter((u) => u !== this.me) : [];
      return people.length === 1 ? people[0] : null;
    };
    const view = (r) => ({
      name: r.name,
      label: this.label(r),
      user: dmWith(r), // a DM of two shows the other person's avatar
      kind: kindOf(r.name, r.info),
      unread: r.unread,
      unreadMore: r.unreadMore,
      mentions: r.mentions,
    });
    const rooms = all.filter((r) => !r.isDm).map(view);
    const dms = all.filter((r) => r.isDm).map(view);
    this.roomList.render(rooms, this.active);
    this.dmList.render(dms, this.active);
    $("room-list-empty").hidden = rooms.length > 0;
    $("dm-list-empty").hidden = dms.length > 0;

    const invites = [...this.invites.values()]
      .map((info) => ({
        name: info.name,
        label: this.titleOf(info.name, info),
        kind: kindOf(info.name, info),
        topic: typeof info.topic === "string" ? info.topic : "",
      }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const inviteList = $("invite-list");
    const inviteKey = JSON.stringify([invites, [...this.inviteBusy]]);
    if (inviteKey !== this.inviteKey) {
      this.inviteKey = inviteKey;
      this.renderInvites(inviteList, invites);
    }
    $("invites-section").hidden = invites.length === 0;

    // The title counts mentions of you when there are any ("(@2) …"), else unread messages ("(5) …").
    const totals = unreadTotals(all);
    const activeRoom = this.rooms.get(this.active);
    const roomTitle = activeRoom ? `${activeRoom.title} · Parley` : "Parley";
    document.title = titleBadge(totals) + roomTitle;
    $("menu-button").classList.toggle("has-unread", totals.unread > 0 || invites.length > 0);
  }

  renderInvites(inviteList, invites) {
    const focused = inviteList.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    inviteList.replaceChildren(
      ...inviteItems(invites, {
        onAccept: (n) => this.acceptInvite(n),
        onDecline: (n) => this.declineInvite(n),
        busy: this.inviteBusy,
      }),
    );
    if (focused) {
      const again = [...inviteList.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused);
      (again || $("join-room")).focus();
    }
  }

  renderActive() {
    const room = this.rooms.get(this.active);
    const heading = $("room-name");
    heading.replaceChildren();
    if (room && kindOf(room.name, room.info) === "private") {
      const lock = document.createElement("span");
      lock.className = "title-lock";
      lock.setAttribute("aria-hidden", "true");
      lock.innerHTML =
        '<svg viewBox="0 0 24 24" width="15" height="15"><rect x="5" y="10.5" width="14" height="10" rx="2" fill="currentColor"/><path d="M8 10.5V8a4 4 0 0 1 8 0v2.5" fill="none" stroke="currentColor" stroke-width="2.2"/></svg>';
      heading.append(lock);
    }
    heading.append(room ? room.title : "Parley");
    const topic = room && typeof room.info.topic === "string" ? room.info.topic : "";
    $("room-topic").textContent = topic;
    $("room-topic").title = topic;
    $("room-topic").hidden = !topic;

    const online = room ? [...room.online].sort((a, b) => a.localeCompare(b)) : [];
    $("room-online").textContent = room && room.joined ? `${online.length} online` : "";
    $("members").hidden = !room;
    $("members-count").textContent = room ? `— ${online.length}` : "";
    const roles = room ? this.members.rolesOf(room.name) : null;
    $("member-list").replaceChildren(...memberItems(online, this.me, roles));
    const count = roles ? roles.size : null;
    $("members-button").hidden = !room;
    $("members-button-count").textContent = count === null ? "" : String(count);
    $("members-button").title = count === null ? "Members" : `${count} member${count === 1 ? "" : "s"}`;
    $("room-menu-button").hidden = !room;
    $("leave").textContent = "Leave";

    const muted = !!(room && room.info.muted);
    if (room) room.log.classList.toggle("read-only", muted);
    const box = $("message");
    box.disabled = muted;
    $("send").disabled = muted;
    this.limit.update(); // daily: Send stays off while the text is too long
    box.placeholder = muted ? "You are muted in this room" : room ? `Message ${room.title}` : "Write a message";
    $("composer-note").hidden = !muted;
    $("composer-note").textContent = muted ? "A moderator muted you here: you can read, but not send." : "";

    const typing = typingText(room ? [...room.typing.keys()].map((u) => profiles.name(u)) : []);
    if ($("typing").textContent !== typing) $("typing").textContent = typing;
    this.calls.renderHeader(room);
    const jump = $("jump");
    jump.hidden = !room || room.stick;
    jump.classList.toggle("has-new", !!room && room.newBelow > 0);
  }

  renderWelcome() {
    const mine = new Set(this.rooms.keys());
    // the busiest rooms first: what most people are in is the likeliest to be worth joining
    const others = this.suggestions
      .filter((r) => !mine.has(r.name))
      .sort((a, b) => (b.members || 0) - (a.members || 0) || (b.last_seq || 0) - (a.last_seq || 0))
      .slice(0, 12);
    $("welcome-rooms").replaceChildren(...roomChips(others, (name) => this.join(name)));
  }

  showState(state, info) {
    const el = $("conn");
    const { text, title } = connectionText(state, info);
    el.dataset.state = state;
    el.dataset.transport = info.transport || "ws";
    el.textContent = text;
    el.title = title;
    $("retry-now").hidden = !(state === "reconnecting" || state === "offline");
    document.body.dataset.conn = state;
    if (state !== "connected") {
      for (const { context } of this.requests.dropAll("act")) {
        context.fail("The connection dropped before the server answered: check the message and try again.");
      }
      this.inflight.clear();
      this.synced = false;
      for (const room of this.rooms.values()) {
        if (room.joined || room.joining) room.disconnected();
        room.setPendingLabel("Waiting for connection…");
      }
    }
  }

  // ---- protocol ---------------------------------------------------------------------------------

  /** The rooms this page is known to be in, to join in the WebSocket's "auth" frame: each resumes from the
   * seq the page holds, and only if the user is still a member (not one left on another device meanwhile). */
  authRooms() {
    const out = [];
    for (const room of this.rooms.values()) {
      if (!room.everJoined && room.info.state !== "member") continue;
      const entry = { room: room.name, resume: true, ref: namedRef("join", room.name) };
      if (room.since !== undefined) entry.since = room.since;
      out.push(entry);
    }
    return out;
  }

  ready(frame, carried = []) {
    if (typeof frame.max_text === "number" && frame.max_text > 0) {
      this.maxText = frame.max_text;
      this.limit.update(); // daily: the composer has no maxlength (a paste is not cut); the counter tells
    }
    this.inflight.clear();
    this.requests.dropAll("hist"); // pages asked for on an earlier connection are not coming
    this.synced = false;
    // Rooms the "auth" frame carried are being joined already; their "joined" (or error) follows.
    const joining = new Set(carried);
    for (const room of this.rooms.values()) room.joining = joining.has(room.name);
    // The other rooms to join come from the server's list: a room left or lost meanwhile is not rejoined.
    this.sync();
  }

  handle(f) {
    const room = typeof f.room === "string" ? this.rooms.get(f.room) : null;
    switch (f.type) {
      case "joined":
        if (!room) return;
        room.joinedNow(f.last_seq, f.online);
        room.everJoined = true;
        // A room new to this page (joined by name, an invitation accepted): the list has its details.
        if (!room.info.visibility || room.info.role == null) this.sync();
        this.flushOutbox(room);
        this.flushRead(room);
        this.renderSidebar();
        if (room.name === this.active) this.renderActive();
        break;
      case "message": {
        if (!room) return;
        if (f.from === this.me && typeof f.client_id === "string") this.acked(room, f.client_id);
        // Replayed ones (after a reconnect) are at or below the seq the join reported: not news.
        const live = room.joined && typeof f.seq === "number" && f.seq > room.seenSeq;
        room.addMessages([f]);
        if (live) this.desktopNotify(room, f);
        break;
      }
      case "member":
      case "topic":
        if (!room) return;
        room.addMessages([f]);
        this.eventSideEffects(room, f);
        break;
      case "edit":
      case "delete":
      case "reaction":
        if (!room) return;
        room.addMessages([f]);
        if (room.replyTo !== null && room.replyTo === f.target && room.name === this.active) this.renderReplyBar();
        break;
      case "done": {
        const pending = this.requests.take(f.ref, "act");
        if (pending) pending.context.resolve(f);
        break;
      }
      case "read": // our read marker moved on another device (or this one)
        if (room && !room.readElsewhere(f.seq)) this.sync();
        break;
      case "removed":
        this.roomRemoved(f.room, f.reason, f.by);
        break;
      case "membership": // invited, added to a DM, a role changed...: the room list is out of date
        this.sync();
        break;
      case "profile": // someone's display name or avatar changed: repaint them everywhere (profiles.js)
        profiles.pushed(f);
        break;
      case "ack": {
        if (!room) return;
        const entry = this.acked(room, f.client_id);
        const el = room.pending.get(f.client_id);
        const text = entry ? entry.text : el?.querySelector(".msg-text")?.textContent;
        if (text === undefined) return;
        const quoted = el?.querySelector(".msg-quote");
        const msg = { seq: f.seq, ts: f.ts, from: this.me, text, client_id: f.client_id };
        if (entry && typeof entry.reply_to === "number") msg.reply_to = entry.reply_to;
        else if (quoted) msg.reply_to = Number(quoted.dataset.replyTo);
        room.confirm(f.client_id, msg);
        break;
      }
      case "history": {
        const req = this.requests.take(f.ref, "hist");
        if (!room) return;
        room.historyArrived(Array.isArray(f.messages) ? f.messages : [], req ? req.context.limit : PAGE_SIZE);
        break;
      }
      case "typing":
        if (room && f.user !== this.me) room.setTyping(f.user);
        break;
      case "presence":
        if (room) room.presence(f.user, !!f.online);
        break;
      case "presence_batch": // a large room's changes, gathered
        if (!room) break;
        for (const user of Array.isArray(f.online) ? f.online : []) room.presence(user, true);
        for (const user of Array.isArray(f.offline) ? f.offline : []) if (user !== this.me) room.presence(user, false);
        break;
      case "signal": // call signalling (calls.js)
        this.calls.handle(f);
        break;
      case "signaled":
        this.calls.signaled(f);
        break;
      case "error":
        this.handleError(f);
        break;
      case "managed": // replies (this page manages over REST); the event itself follows with its seq
      case "left":
      case "pong":
        break;
      default:
        // Later kinds of room events (edits, reactions…) keep their seq, so resume stays exact.
        if (room && typeof f.seq === "number" && typeof f.ts === "number") room.addMessages([f]);
        break;
    }
  }

  /** What a live membership or topic event changes besides its line in the log. */
  eventSideEffects(room, f) {
    if (f.type === "topic") {
      if (typeof f.topic === "string" && f.seq >= (room.topicSeq || 0)) {
        room.topicSeq = f.seq;
        this.setRoomInfo(room, { topic: f.topic });
      }
      return;
    }
    if (f.user === this.me) {
      if (f.action === "role" && typeof f.role === "string") this.setRoomInfo(room, { role: f.role });
      else if (f.action === "muted") this.setRoomInfo(room, { muted: true });
      else if (f.action === "unmuted") this.setRoomInfo(room, { muted: false });
      else if ((f.action === "kicked" || f.action === "banned") && f.reason) this.removalReasons.set(room.name, f.reason);
    }
    if (room.isDm && (f.action === "joined" || f.action === "left")) this.sync();
    this.members.changed(room.name);
  }

  requestHistory(room, before) {
    const ref = this.requests.issue("hist", { room: room.name, limit: PAGE_SIZE });
    const frame = { type: "history", room: room.name, limit: PAGE_SIZE, ref };
    if (before !== undefined) frame.before = before;
    if (this.conn.send(frame)) return true;
    this.requests.take(ref);
    return false;
  }

  joinErrorText(name, f) {
    if (f.code === "not_found") {
      return `There is no room #${name} you can join. Private rooms need an invitation from one of their members.`;
    }
    if (f.code === "forbidden") return `You can't join #${name}: ${f.message || "you are not allowed to"}.`;
    if (f.code === "rate_limited") return `Too many new rooms or joins just now: try #${name} again in a moment.`;
    const cap = roomCap(f);
    if (cap) return `You are in ${cap} rooms, the most this server lets one page follow at once: leave a room you no longer read, then open #${name} again.`;
    return f.message || `Could not join #${name}.`;
  }

  handleError(f) {
    const ref = f.ref == null ? "" : String(f.ref);
    const kind = refKind(ref);
    if (kind === "join") {
      const name = refKey(ref);
      const room = this.rooms.get(name);
      if (!room) return;
      room.joining = false;
      const text = this.joinErrorText(name, f);
      const refused = f.code === "not_found" || f.code === "forbidden";
      if (f.code === "not_joined") {
        this.dropRoom(name); // a resumed room the user left on another device meanwhile: gone from the list too
      } else if (room.userJoin && !room.everJoined) {
        // A room asked for on this page (join form, directory, invitation) that the server refuses.
        if (room.fromForm) $("join-error").textContent = text;
        this.notify(text);
        this.dropRoom(name);
      } else if (refused) {
        this.notify(`${room.title} is not available any more. ${text}`);
        this.dropRoom(name);
      } else if (roomCap(f)) {
        this.notify(text); // not live until a room is left; retrying would only be refused again
      } else {
        // Rate limited or a passing problem while rejoining a room we are in: try again soon.
        setTimeout(() => {
          if (this.rooms.get(name) === room && !room.joined && !room.joining) this.sendJoin(room);
        }, 2000 + Math.random() * 2000);
      }
      return;
    }
    if (kind === "hist") {
      const req = this.requests.take(ref, "hist");
      const room = req && this.rooms.get(req.context.room);
      if (room) room.historyFailed();
      if (room && f.code === "not_joined") this.sendJoin(room);
      return;
    }
    if (kind === "read" || kind === "leave") return; // best effort
    if (kind === "call") {
      this.calls.refused(f); // calls.js keeps its own signals' refs
      return;
    }
    if (kind === "act") {
      const pending = this.requests.take(ref, "act");
      if (pending) pending.context.fail(this.actionErrorText(f));
      return;
    }
    const entry = ref ? this.outbox.get(ref) : null;
    if (entry) {
      this.sendFailed(entry, f);
      return;
    }
    if (f.code === "unauthenticated") {
      this.unauthorized(f.message);
      return;
    }
    console.warn("parley: server error", f);
  }

  // ---- sending -----------------------------------------------------------------------------------

  sendFromComposer() {
    const room = this.rooms.get(this.active);
    const box = $("message");
    const text = composerText(box.value); // daily: the first line keeps its indentation
    if (!room || !text || box.disabled) return;
    if (charCount(text) > this.maxText) return; // the counter says so, and Send is off
    box.value = "";
    this.autosize();
    this.limit.update();
    box.focus();
    const entry = this.outbox.add(room.name, text, room.replyTo);
    this.setReply(room, null);
    room.clearMarker();
    room.addPending(entry, this.conn.ready && room.joined ? "Sending…" : "Waiting for connection…");
    if (room.joined) this.sendEntry(entry);
  }

  sendEntry(entry) {
    if (this.inflight.has(entry.client_id)) return;
    const frame = { type: "send", room: entry.room, text: entry.text, client_id: entry.client_id, ref: entry.client_id };
    if (typeof entry.reply_to === "number") frame.reply_to = entry.reply_to;
    const ok = this.conn.send(frame);
    if (ok) this.inflight.add(entry.client_id);
  }

  /** Send everything waiting for `room`, oldest first (after a join, a reconnect, a retry). */
  flushOutbox(room) {
    if (!room.joined) return;
    room.setPendingLabel("Sending…");
    for (const entry of this.outbox.forRoom(room.name)) {
      if (!room.pending.has(entry.client_id)) room.addPending(entry, "Sending…");
      const el = room.pending.get(entry.client_id);
      if (el && el.classList.contains("failed")) continue;
      this.sendEntry(entry);
    }
  }

  acked(room, clientId) {
    this.inflight.delete(clientId);
    return this.outbox.remove(clientId);
  }

  sendFailed(entry, f) {
    this.inflight.delete(entry.client_id);
    const room = this.rooms.get(entry.room);
    if (!room) return;
    if (f.code === "not_joined") {
      room.joined = false;
      this.sendJoin(room); // the join's reply flushes the outbox again
      return;
    }
    if (f.code === "rate_limited" || f.code === "unavailable" || f.code === "internal") {
      clearTimeout(this.retryTimers.get(room.name));
      this.retryTimers.set(
        room.name,
        setTimeout(() => this.flushOutbox(room), RETRY_SEND_MS + Math.random() * RETRY_SEND_MS),
      );
      return;
    }
    // Refused for good (too long, muted, bad request): keep it on screen with Retry / Discard.
    let reason = f.code === "too_long" ? "too long" : f.message || f.code;
    if (f.code === "forbidden") reason = "you are muted in this room";
    if (f.code === "conflict" && typeof entry.reply_to === "number") reason = "the message it answers was deleted";
    this.outbox.remove(entry.client_id);
    room.markFailed(entry.client_id, reason, {
      onRetry: () => {
        room.removePending(entry.client_id);
        this.outbox.put(entry);
        room.addPending(entry, "Sending…");
        if (room.joined) this.sendEntry(entry);
      },
      onDiscard: () => room.removePending(entry.client_id),
    });
  }

  // ---- message actions: edit, delete, react, reply ------------------------------------------------------

  /** Send an edit, delete or react frame; resolves with its `done`, rejects with an error ready to show. */
  act(frame) {
    return new Promise((resolve, reject) => {
      const shown = (text) => Object.assign(new Error(text), { shown: true });
      const ref = this.requests.issue(
        "act",
        { resolve, fail: (text) => reject(shown(text)) },
        { timeoutMs: ACTION_TIMEOUT_MS, onTimeout: (pending) => pending.fail("The server did not answer: try again.") },
      );
      if (!this.conn.ready || !this.conn.send({ ...frame, ref })) {
        this.requests.take(ref);
        reject(shown("You are offline: try again when the connection is back."));
      }
    });
  }

  actionErrorText(f) {
    switch (f.code) {
      case "forbidden":
        return "You are not allowed to do that here.";
      case "conflict":
        return "That message was deleted.";
      case "not_found":
        return "That message is not there any more.";
      case "rate_limited":
        return "Too many changes just now: try again in a moment.";
      case "too_long":
        return `That is too long (at most ${this.maxText} characters).`;
      default:
        return f.message || "The server refused that.";
    }
  }

  /** A message's action was asked for (toolbar, "⋯" menu, long press, reaction chip), or it was deleted. */
  messageAction(room, seq, action, el, emoji) {
    const st = room.msgs.get(seq);
    if (!st) return;
    switch (action) {
      case "react":
        this.openReactionPicker(room, seq, el);
        break;
      case "reply":
        this.setReply(room, seq);
        break;
      case "edit":
        this.startEdit(room, seq);
        break;
      case "more":
        this.openMessageMenu(room, seq, el);
        break;
      case "toggle":
        this.react(room, seq, emoji, !(st.reactions.get(emoji) || []).includes(this.me));
        break;
      case "deleted":
        if (this.editing && this.editing.room === room && this.editing.seq === seq) {
          this.closeEditor();
          this.notify("The message you were editing was deleted.", { kind: "info", timeout: 6000 });
        }
        if (room.replyTo === seq && room.name === this.active) this.renderReplyBar();
        break;
      default:
        break;
    }
  }

  /** You may delete your own messages, and anyone's where you moderate (not in direct messages). */
  canDelete(room, st) {
    if (st.from === this.me) return true;
    return !room.isDm && (this.admin || room.info.role === "owner" || room.info.role === "moderator");
  }

  openMessageMenu(room, seq, anchor) {
    const st = room.msgs.get(seq);
    if (!st || st.deleted) return;
    const canPost = !room.info.muted;
    openMenu(
      anchor,
      [
        canPost && { label: "Add reaction…", onSelect: () => this.openReactionPicker(room, seq, anchor) },
        canPost && { label: "Reply", onSelect: () => this.setReply(room, seq) },
        canPost && st.from === this.me && { label: "Edit", onSelect: () => this.startEdit(room, seq) },
        this.canDelete(room, st) && { label: "Delete…", danger: true, onSelect: () => this.confirmDelete(room, seq) },
      ],
      { label: `Message from ${st.from}` },
    );
  }

  openReactionPicker(room, seq, anchor) {
    const st = room.msgs.get(seq);
    if (!st || st.deleted) return;
    openMenu(
      anchor,
      REACTIONS.map(([emoji, name]) => {
        const mine = (st.reactions.get(emoji) || []).includes(this.me);
        return {
          label: emoji,
          ariaLabel: mine ? `Remove your ${name} reaction` : `React with ${name}`,
          onSelect: () => {
            if (anchor.isConnected) anchor.focus({ preventScroll: true });
            this.react(room, seq, emoji, !mine);
          },
        };
      }),
      { label: "Add reaction", className: "emoji-menu" },
    );
  }

  react(room, seq, emoji, on) {
    this.act({ type: "react", room: room.name, seq, emoji, on }).catch((err) =>
      this.notify(`Couldn't ${on ? "add" : "remove"} the reaction: ${err.message}`),
    );
  }

  confirmDelete(room, seq) {
    const st = room.msgs.get(seq);
    if (!st || st.deleted) return;
    const whose = st.from === this.me ? "Your message" : `${st.from}'s message`;
    this.dialogs.confirm({
      title: "Delete message?",
      text: `${whose} “${firstLine(st.text, 80)}” is removed for everyone in ${room.title}. This can't be undone.`,
      ok: "Delete message",
      run: async () => {
        await this.act({ type: "delete", room: room.name, seq });
        room.localDelete(seq); // the delete event follows, and changes nothing more
      },
    });
  }

  /** The composer's next message answers `seq` (null: no reply). */
  setReply(room, seq) {
    room.replyTo = typeof seq === "number" ? seq : null;
    if (room.name !== this.active) return;
    this.renderReplyBar();
    if (room.replyTo !== null && !$("message").disabled) $("message").focus();
  }

  renderReplyBar() {
    const room = this.rooms.get(this.active);
    const bar = $("reply-bar");
    const seq = room ? room.replyTo : null;
    bar.hidden = seq === null;
    if (seq === null) return;
    const info = room.quoteInfo(seq);
    const text = $("reply-bar-text");
    text.replaceChildren("Replying to ");
    const who = document.createElement("strong");
    who.textContent = info && info.from ? info.from : "a message";
    text.append(who);
    if (info && !info.missing) {
      const line = document.createElement("span");
      line.className = "reply-bar-quote";
      line.textContent = info.deleted ? "deleted message" : firstLine(info.text);
      text.append(": ", line);
    }
  }

  /** A reply quotes a message that is not loaded here: fetch that one event over REST. */
  async lookUpQuote(room, seq) {
    let info = { missing: true };
    try {
      const [ev] = await api.eventsAfter(this.token, room.name, seq - 1, 1);
      if (ev && ev.seq === seq && (ev.type === undefined || ev.type === "message") && typeof ev.from === "string") {
        info = { from: ev.from, text: messageSummary(String(ev.text ?? ""), ev.file), deleted: !!ev.deleted };
      }
    } catch (err) {
      if (this.restFailed(err)) return;
      if (err.status === 0 || err.status >= 500) {
        room.quoting.delete(seq); // asked again when next shown
        return;
      }
    }
    if (this.rooms.get(room.name) !== room) return;
    room.quoteFound(seq, info);
    if (room.replyTo === seq && room.name === this.active) this.renderReplyBar();
  }

  /** Edit message `seq` in place: Enter saves, Escape cancels, Shift+Enter makes a new line. */
  startEdit(room, seq) {
    const st = room.msgs.get(seq);
    if (!st || st.deleted || st.from !== this.me) return;
    if (this.editing) {
      if (this.editing.room === room && this.editing.seq === seq) {
        this.editing.input.focus();
        return;
      }
      this.closeEditor({ focus: false });
    }
    const form = document.createElement("form");
    form.className = "msg-editor";
    const input = document.createElement("textarea");
    input.className = "msg-editor-input";
    input.rows = 1; // no maxlength: a paste past the limit is kept, and the editor says by how much (as the composer)
    input.value = st.text;
    input.setAttribute("aria-label", "Edit message");
    const bar = document.createElement("div");
    bar.className = "msg-editor-bar";
    const hint = document.createElement("span");
    hint.className = "msg-editor-hint";
    hint.textContent = "Escape to cancel · Enter to save";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.className = "button secondary small";
    cancel.textContent = "Cancel";
    const save = document.createElement("button");
    save.type = "submit";
    save.className = "button primary small";
    save.textContent = "Save";
    const error = document.createElement("p");
    error.className = "form-error msg-editor-error";
    error.setAttribute("role", "alert");
    bar.append(hint, cancel, save);
    form.append(input, bar, error);
    const size = () => {
      input.style.height = "auto";
      input.style.height = `${Math.min(input.scrollHeight, 240)}px`;
    };
    const tooLong = () => Math.max(0, charCount(input.value.trim()) - this.maxText);
    const checkLength = () => {
      const extra = tooLong();
      save.disabled = extra > 0 || !!form.dataset.busy;
      error.textContent = extra ? `${extra.toLocaleString()} character${extra === 1 ? "" : "s"} too long: shorten it to save.` : "";
    };
    const submit = async () => {
      if (form.dataset.busy || tooLong()) return;
      const text = input.value.trim();
      if (text === st.text.trim()) {
        this.closeEditor();
        return;
      }
      if (!text) {
        this.closeEditor();
        this.confirmDelete(room, seq);
        return;
      }
      form.dataset.busy = "1";
      save.disabled = true;
      error.textContent = "";
      try {
        await this.act({ type: "edit", room: room.name, seq, text });
        room.localEdit(seq, text);
        if (this.editing && this.editing.form === form) this.closeEditor();
      } catch (err) {
        error.textContent = `Not saved: ${err.message}`;
      } finally {
        delete form.dataset.busy;
        save.disabled = false;
      }
    };
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      submit();
    });
    cancel.addEventListener("click", () => this.closeEditor());
    input.addEventListener("input", () => {
      size();
      checkLength();
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        submit();
      } else if (ev.key === "Escape") {
        ev.preventDefault();
        ev.stopPropagation();
        this.closeEditor();
      }
    });
    st.el.classList.add("editing");
    st.el.querySelector(".msg-text").after(form);
    this.editing = { room, seq, form, input, el: st.el };
    size();
    input.focus();
    input.setSelectionRange(input.value.length, input.value.length);
    if (room.active && room.stick) room.scrollToBottom();
  }

  closeEditor({ focus = true } = {}) {
    const editing = this.editing;
    if (!editing) return;
    this.editing = null;
    editing.form.remove();
    editing.el.classList.remove("editing");
    if (focus && editing.room.name === this.active && !$("message").disabled) $("message").focus();
  }

  /**
   * Tell the room we are typing: at most one frame per TYPING_EVERY_MS per room. Keystrokes inside
   * the window are not lost: one trailing frame goes out when it ends, if the box still has text.
   */
  sendTyping() {
    const room = this.rooms.get(this.active);
    if (!room || !room.joined || this.typingTimer || room.info.muted) return;
    const wait = (this.lastTypingSent.get(room.name) || 0) + TYPING_EVERY_MS - Date.now();
    if (wait > 0) {
      this.typingTimer = setTimeout(() => {
        this.typingTimer = null;
        if (this.active === room.name && $("message").value.trim()) this.sendTyping();
      }, wait);
      return;
    }
    if (this.conn.send({ type: "typing", room: room.name })) this.lastTypingSent.set(room.name, Date.now());
  }
}
