// chat.js — The chat screen's controller: routes server frames to rooms, sends what the reader
// writes (through the outbox), rejoins every room with `since` after a reconnect, and keeps the
// sidebar, header, presence list, typing line and connection badge in step with the state.

import { listRooms } from "./api.js";
import { Connection } from "./connection.js";
import { Outbox } from "./outbox.js";
import { avatar } from "./render.js";
import { PAGE_SIZE, Room } from "./room.js";
import { Prefs } from "./session.js";
import { memberItems, RoomList, roomChips, STATE_TEXT, typingText } from "./views.js";

const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;
const TYPING_EVERY_MS = 2000;
const RETRY_SEND_MS = 1500;

const $ = (id) => document.getElementById(id);

export class Chat {
  constructor(session, { onSignOut, onExpired }) {
    this.session = session;
    this.me = session.user;
    this.onSignOut = onSignOut;
    this.prefs = new Prefs(this.me);
    this.outbox = new Outbox(this.me);
    this.rooms = new Map();
    this.active = null;
    this.inflight = new Set(); // client_ids sent on the current connection, awaiting ack
    this.retryTimers = new Map(); // room -> timer for a delayed outbox flush
    this.lastTypingSent = new Map(); // room -> ms
    this.typingTimer = null;
    this.historyRefs = new Map(); // ref -> {room, limit}
    this.historyCounter = 0;
    this.maxText = 4000;
    this.suggestions = [];
    this.roomList = new RoomList($("room-list"), (name) => {
      this.activate(name);
      this.toggleDrawer(false);
    });
    this.conn = new Connection({
      token: session.token,
      onFrame: (f) => this.handle(f),
      onReady: (f) => this.ready(f),
      onState: (s, info) => this.showState(s, info),
      onUnauthorized: (msg) => onExpired(msg),
    });
  }

  start() {
    $("chat-view").hidden = false;
    $("me-name").textContent = this.me;
    $("me-avatar").replaceChildren(avatar(this.me));
    this.bindUi();
    for (const name of this.prefs.rooms) this.addRoom(name);
    const first = this.prefs.active && this.rooms.has(this.prefs.active) ? this.prefs.active : this.prefs.rooms[0];
    this.activate(first || null, { focus: false });
    this.renderSidebar();
    this.conn.start();
    this.loadSuggestions();
  }

  // ---- UI wiring -------------------------------------------------------------------------------

  bindUi() {
    $("join-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.joinFromForm();
    });
    $("join-room").addEventListener("focus", () => this.loadSuggestions());
    $("sign-out").addEventListener("click", () => {
      this.conn.stop();
      this.onSignOut();
    });
    $("leave").addEventListener("click", () => {
      if (this.active) this.leave(this.active);
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

    const box = $("message");
    $("composer").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.sendFromComposer();
    });
    box.addEventListener("keydown", (ev) => {
      if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing && ev.keyCode !== 229) {
        ev.preventDefault();
        this.sendFromComposer();
      }
    });
    box.addEventListener("input", () => {
      this.autosize();
      if (box.value.trim()) this.sendTyping();
    });

    document.addEventListener("visibilitychange", () => {
      const room = this.rooms.get(this.active);
      if (room && document.visibilityState === "visible") room.markRead();
    });
    window.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape") this.toggleDrawer(false);
    });
  }

  toggleDrawer(open) {
    const want = open ?? !document.body.classList.contains("drawer-open");
    document.body.classList.toggle("drawer-open", want);
    $("menu-button").setAttribute("aria-expanded", String(want));
    $("scrim").hidden = !want;
    if (want) (document.querySelector(".room-item[aria-current='true']") || $("join-room")).focus();
  }

  autosize() {
    const box = $("message");
    box.style.height = "auto";
    box.style.height = `${Math.min(box.scrollHeight, 180)}px`;
  }

  async loadSuggestions() {
    try {
      this.suggestions = await listRooms(this.session.token);
    } catch (err) {
      if (err.status === 401) this.conn.onUnauthorized("Your session has expired. Please sign in again.");
      return;
    }
    const list = $("room-suggestions");
    list.replaceChildren(
      ...this.suggestions.map((r) => {
        const o = document.createElement("option");
        o.value = r.name;
        return o;
      }),
    );
    this.renderWelcome();
  }

  // ---- rooms -------------------------------------------------------------------------------------

  addRoom(name) {
    if (this.rooms.has(name)) return this.rooms.get(name);
    const room = new Room(name, {
      me: this.me,
      lastRead: this.prefs.lastRead[name] ?? null,
      onChange: (r) => this.roomChanged(r),
      onNeedHistory: (r, before) => this.requestHistory(r, before),
    });
    this.rooms.set(name, room);
    $("logs").append(room.log);
    for (const entry of this.outbox.forRoom(name)) room.addPending(entry, "Waiting for connection…");
    return room;
  }

  joinFromForm() {
    const input = $("join-room");
    const name = input.value.trim().replace(/^#/, "");
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
    this.join(name);
  }

  join(name) {
    const isNew = !this.rooms.has(name);
    const room = this.addRoom(name);
    if (isNew) {
      this.prefs.addRoom(name);
      this.sendJoin(room);
    }
    this.activate(name);
    this.toggleDrawer(false);
  }

  sendJoin(room) {
    const frame = { type: "join", room: room.name, ref: `join:${room.name}` };
    const since = room.since;
    if (since !== undefined) frame.since = since;
    this.conn.send(frame);
  }

  leave(name) {
    const room = this.rooms.get(name);
    if (!room) return;
    if (room.joined) this.conn.send({ type: "leave", room: name, ref: `leave:${name}` });
    for (const entry of this.outbox.forRoom(name)) this.inflight.delete(entry.client_id);
    this.outbox.dropRoom(name);
    clearTimeout(this.retryTimers.get(name));
    room.destroy();
    this.rooms.delete(name);
    this.prefs.removeRoom(name);
    if (this.active === name) this.activate(this.prefs.rooms[0] || null, { focus: false });
    this.renderSidebar();
  }

  activate(name, { focus = true } = {}) {
    const prev = this.rooms.get(this.active);
    if (prev && this.active !== name) prev.hide();
    this.active = name && this.rooms.has(name) ? name : null;
    this.prefs.setActive(this.active);
    const room = this.rooms.get(this.active);
    $("composer").hidden = !room;
    $("leave").hidden = !room;
    $("welcome").hidden = !!room;
    if (room) {
      room.show();
      $("leave").title = `Leave #${room.name}`;
      // Keyboard and mouse users land in the message box; on touch screens that would pop up the
      // keyboard over the conversation they came to read.
      if (focus && matchMedia("(pointer: fine)").matches) $("message").focus();
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

  // ---- rendering -------------------------------------------------------------------------------

  renderSidebar() {
    const rooms = this.prefs.rooms.map((name) => this.rooms.get(name)).filter(Boolean);
    this.roomList.render(rooms, this.active);
    $("room-list-empty").hidden = rooms.length > 0;
    const totalUnread = rooms.reduce((n, r) => n + r.unread, 0);
    const roomTitle = this.active ? `#${this.active} · Parley` : "Parley";
    document.title = totalUnread ? `(${totalUnread}) ${roomTitle}` : roomTitle;
    $("menu-button").classList.toggle("has-unread", totalUnread > 0);
  }

  renderActive() {
    const room = this.rooms.get(this.active);
    $("room-name").textContent = room ? `#${room.name}` : "Parley";
    const online = room ? [...room.online].sort((a, b) => a.localeCompare(b)) : [];
    $("room-online").textContent = room && room.joined ? `${online.length} online` : "";
    $("members").hidden = !room;
    $("members-count").textContent = room ? `— ${online.length}` : "";
    $("member-list").replaceChildren(...memberItems(online, this.me));
    const typing = typingText(room ? [...room.typing.keys()] : []);
    if ($("typing").textContent !== typing) $("typing").textContent = typing;
    const jump = $("jump");
    jump.hidden = !room || room.stick;
    jump.classList.toggle("has-new", !!room && room.newBelow > 0);
  }

  renderWelcome() {
    const mine = new Set(this.rooms.keys());
    const others = this.suggestions.filter((r) => !mine.has(r.name)).slice(0, 12);
    $("welcome-rooms").replaceChildren(...roomChips(others, (name) => this.join(name)));
  }

  showState(state, info) {
    const el = $("conn");
    el.dataset.state = state;
    el.textContent = STATE_TEXT[state] || state;
    el.title = info.retryAt ? `Next attempt at ${new Date(info.retryAt).toLocaleTimeString()}` : "";
    $("retry-now").hidden = !(state === "reconnecting" || state === "offline");
    document.body.dataset.conn = state;
    if (state !== "connected") {
      this.inflight.clear();
      for (const room of this.rooms.values()) {
        if (room.joined) room.disconnected();
        room.setPendingLabel("Waiting for connection…");
      }
    }
  }

  // ---- protocol ---------------------------------------------------------------------------------

  ready(frame) {
    if (typeof frame.max_text === "number" && frame.max_text > 0) {
      this.maxText = frame.max_text;
      $("message").maxLength = frame.max_text;
    }
    this.inflight.clear();
    this.historyRefs.clear();
    for (const room of this.rooms.values()) this.sendJoin(room);
  }

  handle(f) {
    const room = typeof f.room === "string" ? this.rooms.get(f.room) : null;
    switch (f.type) {
      case "joined":
        if (!room) return;
        room.joinedNow(f.last_seq, f.online);
        this.flushOutbox(room);
        this.renderSidebar();
        if (room.name === this.active) this.renderActive();
        break;
      case "message":
        if (!room) return;
        if (f.from === this.me && typeof f.client_id === "string") this.acked(room, f.client_id);
        room.addMessages([f]);
        break;
      case "ack": {
        if (!room) return;
        const entry = this.acked(room, f.client_id);
        const text = entry ? entry.text : room.pending.get(f.client_id)?.querySelector(".msg-text")?.textContent;
        if (text === undefined) return;
        room.confirm(f.client_id, { seq: f.seq, ts: f.ts, from: this.me, text, client_id: f.client_id });
        break;
      }
      case "history": {
        const req = this.historyRefs.get(f.ref);
        this.historyRefs.delete(f.ref);
        if (!room) return;
        room.historyArrived(Array.isArray(f.messages) ? f.messages : [], req ? req.limit : PAGE_SIZE);
        break;
      }
      case "typing":
        if (room && f.user !== this.me) room.setTyping(f.user);
        break;
      case "presence":
        if (room) room.presence(f.user, !!f.online);
        break;
      case "error":
        this.handleError(f);
        break;
      default:
        break; // "left" and frame types added later need nothing here
    }
  }

  requestHistory(room, before) {
    const ref = `hist:${++this.historyCounter}`;
    const frame = { type: "history", room: room.name, limit: PAGE_SIZE, ref };
    if (before !== undefined) frame.before = before;
    if (!this.conn.send(frame)) return false;
    this.historyRefs.set(ref, { room: room.name, limit: PAGE_SIZE });
    return true;
  }

  handleError(f) {
    const ref = f.ref == null ? "" : String(f.ref);
    if (ref.startsWith("join:")) {
      const name = ref.slice(5);
      $("join-error").textContent = f.message || `Could not join #${name}.`;
      this.leave(name);
      return;
    }
    if (ref.startsWith("hist:")) {
      const req = this.historyRefs.get(f.ref);
      this.historyRefs.delete(f.ref);
      const room = req && this.rooms.get(req.room);
      if (room) room.historyFailed();
      if (room && f.code === "not_joined") this.sendJoin(room);
      return;
    }
    const entry = ref ? this.outbox.get(ref) : null;
    if (entry) {
      this.sendFailed(entry, f);
      return;
    }
    if (f.code === "unauthenticated") {
      this.conn.stop();
      this.conn.onUnauthorized(f.message);
      return;
    }
    console.warn("parley: server error", f);
  }

  // ---- sending -----------------------------------------------------------------------------------

  sendFromComposer() {
    const room = this.rooms.get(this.active);
    const box = $("message");
    const text = box.value.trim();
    if (!room || !text) return;
    if (text.length > this.maxText) return; // the textarea's maxlength normally prevents this
    box.value = "";
    this.autosize();
    box.focus();
    const entry = this.outbox.add(room.name, text);
    room.clearMarker();
    room.addPending(entry, this.conn.ready && room.joined ? "Sending…" : "Waiting for connection…");
    if (room.joined) this.sendEntry(entry);
  }

  sendEntry(entry) {
    if (this.inflight.has(entry.client_id)) return;
    const ok = this.conn.send({
      type: "send",
      room: entry.room,
      text: entry.text,
      client_id: entry.client_id,
      ref: entry.client_id,
    });
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
    // Refused for good (too long, bad request): keep it on screen with Retry / Discard.
    const reason = f.code === "too_long" ? "too long" : f.message || f.code;
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

  /**
   * Tell the room we are typing: at most one frame per TYPING_EVERY_MS per room. Keystrokes inside
   * the window are not lost: one trailing frame goes out when it ends, if the box still has text.
   */
  sendTyping() {
    const room = this.rooms.get(this.active);
    if (!room || !room.joined || this.typingTimer) return;
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
