// poll.js — The page's conversation with the server over plain HTTP, for networks where WebSocket does not
// get through (docs/protocol.md, section 4). Same interface and states as Connection (connection.js): it
// long-polls GET /api/poll with the position (cursor) it has in every room it follows, hands the page every
// frame of each answer as a WebSocket would deliver it, and turns the frames the page sends into REST calls
// whose answers come back as the frames a WebSocket would have answered (ack, history, managed, error...).
// Anything lost on the way (network, proxy errors, the server restarting) is handled like a dropped socket:
// the page hears "reconnecting", and after the backoff a fresh "ready" makes it rejoin with `since`.

import { backoffDelay, OFFLINE_AFTER } from "./connection.js";
import { replacingToken } from "./tokenhold.js";

const POLL_TIMEOUT_S = 25; // how long the server may hold a poll with nothing to say
const POLL_GRACE_MS = 15_000; // a poll unanswered this long after its timeout: the server or the path is gone
const REQUEST_TIMEOUT_MS = 15_000;
const CONNECT_TIMEOUT_MS = 10_000;
const IDLE_CHECK_MS = 25_000; // with no room to poll, how often the server and the token are checked
const KICK_DELAY_MS = 20; // joins and leaves close together go out in one new poll
const MAX_ROOMS = 100; // rooms a poll names at most when the server does not say (GET /api/info max_rooms)
const MAX_URL = 1800; // longer room lists go in the body of POST /api/poll
const CLOSE_UNAUTHENTICATED = 4401;
// Refusals the page retries (chat.js sendFailed): what is queued behind such a message is refused too,
// so nothing is stored ahead of it.
const RETRY_CODES = new Set(["rate_limited", "unavailable", "internal"]);
const STATUS_CODES = {
  400: "bad_request",
  401: "unauthenticated",
  403: "forbidden",
  404: "not_found",
  409: "conflict",
  413: "too_long",
  415: "unsupported",
  429: "rate_limited",
  500: "internal",
  503: "unavailable",
};

const enc = encodeURIComponent;

function randomHex(bytes) {
  const b = new Uint8Array(bytes);
  crypto.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

// The server knows a poller by (user, client). Every conversation (each start, restart or reconnect)
// gets an id of its own, so the server starts it from the cursors and sends `joined` for every room.
const TAB_ID = `tab-${randomHex(6)}`;
let clientCounter = 0;

function newClientId() {
  clientCounter += 1;
  return `${TAB_ID}-${clientCounter}`;
}

class NetworkError extends Error {}

function withRef(frame, ref) {
  if (ref !== undefined && ref !== null) frame.ref = ref;
  return frame;
}

/** A message as the WebSocket sends it (`from`), whatever the answer called the sender. */
function normalize(ev) {
  if (ev && ev.type === "message" && typeof ev.from !== "string" && typeof ev.sender === "string") {
    return { ...ev, from: ev.sender };
  }
  return ev;
}

/** The server (or a proxy) could not answer: treat it like a dropped socket rather than a refusal. */
function isGone(res) {
  return res.status === 408 || (res.status >= 500 && !(res.data && typeof res.data.error === "string"));
}

function errorCode(res) {
  const code = res.data && typeof res.data.error === "string" ? res.data.error : STATUS_CODES[res.status];
  return code === "unauthorized" ? "unauthenticated" : code || "internal";
}

function errorFrame(res, ref) {
  const message = res.data && typeof res.data.message === "string" ? res.data.message : `The server answered ${res.status}.`;
  return withRef({ type: "error", code: errorCode(res), message }, ref);
}

/** The WebSocket `ack` for a message stored over REST (201, or 200 with the earlier one for a repeated client_id). */
function ackFrame(frame, res) {
  const m = res.data || {};
  const ack = {
    type: "ack",
    room: typeof m.room === "string" ? m.room : frame.room,
    client_id: typeof m.client_id === "string" ? m.client_id : frame.client_id,
    seq: m.seq,
    ts: m.ts,
  };
  if (res.status === 200) ack.duplicate = true;
  return withRef(ack, frame.ref);
}

export class PollConnection {
  /** The options of Connection (connection.js): token, onFrame, onReady, onState, onUnauthorized. */
  constructor({ token, onFrame, onReady, onState, onUnauthorized }) {
    this.token = token;
    this.onFrame = onFrame;
    this.onReady = onReady;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.ready = false;
    this.stopped = true;
    this.connecting = false;
    this.attempts = 0;
    this.state = "connecting";
    this.retryAt = null;
    this.retryTimer = null;
    this.holds = 0; // > 0 while the token is being replaced: a refusal then waits for the outcome
    this.refusedWhileHeld = false;
    this.info = null; // GET /api/info (max_text), once

    this.gen = 0; // bumped whenever the conversation is dropped: answers to older requests are ignored
    this.clientId = newClientId();
    this.clientUsed = false; // a poll went out with clientId: the server may keep state for it
    this.rooms = new Map(); // followed room -> cursor: the last seq delivered (null: "from now on")
    this.joining = new Set(); // rooms whose join request is on its way
    this.poll = null; // the current poll; a superseded one may still be on its way (the server answers it at once)
    this.polls = new Set();
    this.kickTimer = null;
    this.idleTimer = null;
    this.sendQueue = []; // messages go out one at a time, in the order the page sent them
    this.sending = false;
    this.refusedPolls = 0; // polls refused with 429 in a row

    this._online = () => {
      if (!this.ready) this.retryNow();
    };
    this._offline = () => {
      if (this.ready || this.connecting) this._fail();
      else this._setState("offline");
    };
    this._visible = () => {
      if (document.visibilityState === "visible" && !this.ready && this.retryTimer) this.retryNow();
    };
    // The page is going away (or into the back/forward cache): the server may drop this client's presence now.
    this._pagehide = () => {
      if (!this.clientUsed) return;
      this._rotate();
      if (this.ready) this._schedulePoll();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this._online);
    window.addEventListener("offline", this._offline);
    window.addEventListener("pagehide", this._pagehide);
    document.addEventListener("visibilitychange", this._visible);
    this._connect();
  }

  /**
   * Stop polling. The server forgets this client at once (its presence goes offline), or after `lingerMs`
   * when another connection of the page takes over and should rejoin first, so nobody sees it blink.
   */
  stop(lingerMs = 0) {
    this.stopped = true;
    window.removeEventListener("online", this._online);
    window.removeEventListener("offline", this._offline);
    window.removeEventListener("pagehide", this._pagehide);
    document.removeEventListener("visibilitychange", this._visible);
    this._reset(lingerMs);
    this._clearTimers();
  }

  /**
   * Do what a WebSocket frame asks, over REST; false means "not now, keep it for later". Answers come
   * through onFrame, never before this returns.
   */
  send(frame) {
    if (!this.ready || this.stopped || !frame || typeof frame !== "object") return false;
    const gen = this.gen;
    const room = typeof frame.room === "string" ? frame.room : "";
    const path = `/api/rooms/${enc(room)}`;
    const later = (f) => queueMicrotask(() => this._emit(f, gen));
    switch (frame.type) {
      case "join":
        this._join(frame, gen);
        return true;
      case "leave":
        if (this.rooms.delete(room)) {
          // The next poll leaves the room out; with nothing left to poll, the server forgets this client now.
          if (this.rooms.size === 0) this._rotate();
          this._schedulePoll();
        }
        later(withRef({ type: "left", room }, frame.ref));
        return true;
      case "send":
        this.sendQueue.push(frame);
        this._drainSends(gen);
        return true;
      case "typing":
        this._call(gen, frame, "POST", `${path}/typing`, {}, () => null, { quiet: true, drop: false });
        return true;
      case "read":
        this._call(gen, frame, "POST", `${path}/read`, { seq: frame.seq }, () => null, { drop: false });
        return true;
      case "history": {
        const params = [];
        if (typeof frame.before === "number") params.push(`before=${frame.before}`);
        if (typeof frame.limit === "number") params.push(`limit=${frame.limit}`);
        const query = params.length ? `?${params.join("&")}` : "";
        this._call(gen, frame, "GET", `${path}/messages${query}`, undefined, (res) => {
          const messages = res.data && Array.isArray(res.data.messages) ? res.data.messages.map(normalize) : [];
          return withRef({ type: "history", room, messages }, frame.ref);
        });
        return true;
      }
      case "edit":
      case "delete":
      case "react": {
        // A change to message `seq`: answered by `done` with the seq of the event that records it.
        const target = `${path}/messages/${Number(frame.seq)}`;
        const done = (res) => {
          const seq = res.data && typeof res.data.seq === "number" ? res.data.seq : 0;
          return withRef({ type: "done", room, seq }, frame.ref);
        };
        if (frame.type === "edit") this._call(gen, frame, "PATCH", target, { text: frame.text }, done);
        else if (frame.type === "delete") this._call(gen, frame, "DELETE", target, undefined, done);
        else this._call(gen, frame, "POST", `${target}/reactions`, { emoji: frame.emoji, on: frame.on !== false }, done);
        return true;
      }
      case "manage": {
        const body = { action: frame.action };
        for (const k of ["user", "role", "topic", "reason"]) if (frame[k] !== undefined) body[k] = frame[k];
        this._call(gen, frame, "POST", `${path}/manage`, body, (res) => {
          const seq = res.data && typeof res.data.seq === "number" ? res.data.seq : 0;
          return withRef({ type: "managed", room, action: frame.action, seq }, frame.ref);
        });
        return true;
      }
      case "signal": {
        // Call signalling: the same fields over REST; `signaled` as the WebSocket would answer.
        const body = {};
        for (const [k, v] of Object.entries(frame)) if (k !== "type" && k !== "room" && k !== "ref") body[k] = v;
        this._call(gen, frame, "POST", `${path}/signal`, body, () => withRef({ type: "signaled", call_id: frame.call_id }, frame.ref), { drop: false });
        return true;
      }
      case "ping": // every poll is answered within its timeout: the poll itself is the keepalive
        later(withRef({ type: "pong" }, frame.ref));
        return true;
      default:
        return false;
    }
  }

  /** Use `token` from now on; a request refused with an older one starts over with this one. */
  setToken(token) {
    this.token = token;
  }

  /** As Connection.replacingToken: refusals during `change` wait for its outcome. */
  replacingToken(change) {
    return replacingToken(this, change);
  }

  /** Drop the conversation (if any) and start a new one now, e.g. with a new token. */
  restart() {
    if (this.stopped) {
      this.start();
      return;
    }
    const wasReady = this.ready;
    this._reset();
    if (wasReady) this._setState("reconnecting");
    this.attempts = 0;
    this._clearTimers();
    this._connect();
  }

  /** Skip the backoff wait and try now (the "Retry now" button, the browser going online). */
  retryNow() {
    if (this.stopped || this.ready || this.connecting) return;
    this._clearTimers();
    this._connect();
  }

  // ---- the conversation ------------------------------------------------------------------------

  /** Check the token (GET /api/me) and, when it is good, tell the page it may (re)join its rooms. */
  async _connect() {
    if (this.stopped) return;
    this.retryAt = null;
    if (this.attempts === 0) this._setState("connecting");
    else this._setState(this._failingState());
    const gen = ++this.gen;
    const token = this.token;
    this.connecting = true;
    let res = null;
    try {
      res = await this._request("GET", "/api/me", { token, timeout: CONNECT_TIMEOUT_MS });
      if (res.status === 200 && !this.info && gen === this.gen) {
        const info = await this._request("GET", "/api/info", { token }).catch(() => null);
        if (info && info.status === 200 && info.data) this.info = info.data;
      }
    } catch {
      res = null;
    }
    if (gen !== this.gen || this.stopped) return;
    this.connecting = false;
    if (res && res.status === 401) {
      this._authFailed(token);
      return;
    }
    if (!res || res.status !== 200 || !res.data || typeof res.data.user !== "string") {
      this._scheduleReconnect();
      return;
    }
    this.ready = true;
    this.attempts = 0;
    this._setState("connected");
    const ready = { type: "ready", user: res.data.user, heartbeat: POLL_TIMEOUT_S, server: "parley", transport: "poll" };
    if (this.info && typeof this.info.max_text === "number") ready.max_text = this.info.max_text;
    this.onReady(ready);
    if (gen === this.gen && this.ready) this._schedulePoll(0);
  }

  async _join(frame, gen) {
    const room = typeof frame.room === "string" ? frame.room : "";
    const since = typeof frame.since === "number" ? frame.since : null;
    const max = this.info && typeof this.info.max_rooms === "number" ? this.info.max_rooms : MAX_ROOMS;
    if (!this.rooms.has(room) && !this.joining.has(room) && this.rooms.size + this.joining.size >= max) {
      const error = { type: "error", code: "bad_request", message: `a connection may be in at most ${max} rooms; leave one first` };
      queueMicrotask(() => this._emit(withRef(error, frame.ref), gen));
      return;
    }
    this.joining.add(room);
    let res;
    try {
      res = await this._call(gen, frame, "POST", `/api/rooms/${enc(room)}/join`, {}, () => null);
    } finally {
      if (gen === this.gen) this.joining.delete(room);
    }
    if (gen !== this.gen || !res || res.status >= 300) return;
    const again = this.rooms.has(room);
    this.rooms.set(room, since);
    // Joining a room this client already follows re-syncs it: under a new client id the server starts
    // over from the cursors and sends `joined` again (for every room; the page takes each as fresh).
    if (again) this._rotate();
    this._schedulePoll();
  }

  /** Start a new poll soon (rooms changed): the server answers the one on its way at once. */
  _schedulePoll(delay = KICK_DELAY_MS) {
    if (this.kickTimer) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = null;
      this._poll();
    }, delay);
  }

  _poll() {
    clearTimeout(this.kickTimer);
    clearTimeout(this.idleTimer);
    this.kickTimer = this.idleTimer = null;
    if (this.stopped || !this.ready) return;
    if (this.rooms.size === 0) {
      this.poll = null;
      this.idleTimer = setTimeout(() => this._idleCheck(), IDLE_CHECK_MS);
      return;
    }
    const gen = this.gen;
    const token = this.token;
    const entries = [...this.rooms];
    const controller = new AbortController();
    const poll = { controller, token, done: false };
    this.poll = poll;
    this.polls.add(poll);
    this.clientUsed = true;
    const timeout = POLL_TIMEOUT_S * 1000 + POLL_GRACE_MS;
    const list = entries.map(([r, seq]) => (seq === null ? enc(r) : `${enc(r)}:${seq}`)).join(",");
    const query = `rooms=${list}&timeout=${POLL_TIMEOUT_S}&client=${enc(this.clientId)}`;
    const request =
      query.length < MAX_URL
        ? this._request("GET", `/api/poll?${query}`, { token, timeout, controller })
        : this._request("POST", "/api/poll", {
            token,
            timeout,
            controller,
            body: { rooms: Object.fromEntries(entries), timeout: POLL_TIMEOUT_S, client: this.clientId },
          });
    request.then(
      (res) => this._answered(poll, gen, res),
      () => this._answered(poll, gen, null),
    );
  }

  _answered(poll, gen, res) {
    const aborted = poll.done;
    poll.done = true;
    this.polls.delete(poll);
    if (aborted || gen !== this.gen || this.stopped) return;
    const current = poll === this.poll;
    if (res && res.status === 200 && res.data && Array.isArray(res.data.frames)) {
      this.refusedPolls = 0;
      this._deliver(res.data.frames, res.data.cursors);
      if (gen !== this.gen || this.stopped) return; // the page restarted or stopped us meanwhile
      const closed = res.data.closed;
      if (closed && typeof closed === "object") {
        // As the WebSocket close with that code: 4401 is a refused token, anything else reconnects.
        if (closed.code === CLOSE_UNAUTHENTICATED) this._authFailed(poll.token);
        else this._fail();
        return;
      }
      if (current) this._poll();
      return;
    }
    if (!current) return; // a superseded poll: its successor speaks for the conversation
    if (res && res.status === 401) {
      this._authFailed(poll.token);
      return;
    }
    if (res && (res.status === 404 || res.status === 403) && res.data && typeof res.data.room === "string") {
      // A room we may not read any more (deleted, kicked or banned while we were away): as the WebSocket's
      // `removed`, and the next poll leaves it out.
      const room = res.data.room;
      const reason = res.status === 404 ? "not_found" : "forbidden";
      if (this.rooms.delete(room)) this.onFrame({ type: "removed", room, reason });
      if (gen === this.gen && !this.stopped) this._poll();
      return;
    }
    if (res && !isGone(res)) console.warn("parley: poll refused", res.status, res.data);
    // Too many polling clients (429) clears up only as old ones expire: wait longer each time it happens.
    const refused = res && res.status === 429 ? this.refusedPolls + 1 : 0;
    this._fail();
    this.refusedPolls = refused;
    if (refused) {
      this._clearTimers();
      this.attempts = refused;
      this._scheduleReconnect();
    }
  }

  /** Hand the page an answer's frames, each room event once, and keep the cursors. */
  _deliver(frames, cursors) {
    const gen = this.gen;
    for (const raw of frames) {
      if (gen !== this.gen || this.stopped) return;
      if (!raw || typeof raw !== "object" || typeof raw.type !== "string") continue;
      const f = normalize(raw);
      const room = typeof f.room === "string" ? f.room : null;
      // `read` (our read marker moved on another device) is the user's, not a room event: its seq is no cursor
      const anyRoom = f.type === "membership" || f.type === "removed" || f.type === "read";
      if (room !== null && !this.rooms.has(room) && !anyRoom) continue; // left
      if (room !== null && typeof f.seq === "number" && f.type !== "read") {
        const have = this.rooms.get(room);
        if (have !== null && f.seq <= have) continue; // an earlier answer had it
        this.rooms.set(room, f.seq);
      }
      if (f.type === "removed" && room !== null) this.rooms.delete(room);
      this.onFrame(f);
    }
    if (gen !== this.gen || this.stopped || !cursors || typeof cursors !== "object") return;
    for (const [room, seq] of Object.entries(cursors)) {
      if (!this.rooms.has(room) || typeof seq !== "number") continue;
      const have = this.rooms.get(room);
      if (have === null || seq > have) this.rooms.set(room, seq);
    }
  }

  /** With no room to follow there is no poll: check now and then that the server and the token are still good. */
  async _idleCheck() {
    this.idleTimer = null;
    if (!this.ready || this.rooms.size) return;
    const gen = this.gen;
    let res = null;
    try {
      res = await this._request("GET", "/api/me");
    } catch {
      res = null;
    }
    if (gen !== this.gen || this.stopped || !this.ready) return;
    if (res && res.status === 401) this._authFailed(res.token);
    else if (!res || isGone(res)) this._fail();
    else if (!this.rooms.size && !this.poll && !this.kickTimer && !this.idleTimer) {
      this.idleTimer = setTimeout(() => this._idleCheck(), IDLE_CHECK_MS);
    }
  }

  /** Messages go out one at a time, in order; each answer is the page's ack (or error). */
  async _drainSends(gen) {
    if (this.sending) return;
    this.sending = true;
    try {
      while (gen === this.gen && this.sendQueue.length) {
        const frame = this.sendQueue.shift();
        const body = { text: frame.text, client_id: frame.client_id };
        if (typeof frame.reply_to === "number") body.reply_to = frame.reply_to;
        const res = await this._call(gen, frame, "POST", `/api/rooms/${enc(frame.room)}/messages`, body, (r) =>
          ackFrame(frame, r),
        );
        if (gen !== this.gen) return;
        if (res && res.status >= 300 && RETRY_CODES.has(errorCode(res))) {
          for (const queued of this.sendQueue.splice(0)) this.onFrame(errorFrame(res, queued.ref));
        }
      }
    } finally {
      if (gen === this.gen) this.sending = false;
    }
  }

  /**
   * One REST call for a page frame. 2xx: `onOk` makes the reply frame (or null). A refusal becomes an
   * `error` frame with the frame's ref (unless `quiet`); a 401 is the token's refusal; no answer (network,
   * proxy error) drops the conversation like a dead socket (unless `drop` is false). Returns the answer, or
   * null when there was none to speak of.
   */
  async _call(gen, frame, method, path, body, onOk, { drop = true, quiet = false } = {}) {
    let res;
    try {
      res = await this._request(method, path, { body });
    } catch {
      if (drop && gen === this.gen && this.ready) this._fail();
      return null;
    }
    if (gen !== this.gen || this.stopped) return null;
    if (res.status === 401) {
      this._authFailed(res.token);
      return null;
    }
    if (res.status >= 200 && res.status < 300) {
      const reply = onOk(res);
      if (reply) this.onFrame(reply);
      return res;
    }
    if (isGone(res)) {
      if (drop && this.ready) this._fail();
      return null;
    }
    if (!quiet) this.onFrame(errorFrame(res, frame.ref));
    return res;
  }

  async _request(method, path, { body, token = this.token, timeout = REQUEST_TIMEOUT_MS, controller } = {}) {
    const ctl = controller || new AbortController();
    const timer = setTimeout(() => ctl.abort(), timeout);
    const headers = { Accept: "application/json", Authorization: `Bearer ${token}` };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    try {
      let res;
      try {
        res = await fetch(path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
          credentials: "same-origin",
          cache: "no-store",
          signal: ctl.signal,
        });
      } catch {
        throw new NetworkError("no answer");
      }
      let data = null;
      try {
        data = await res.json();
      } catch {
        // 204, or a proxy's error page; an answer cut short is no answer
        if (ctl.signal.aborted) throw new NetworkError("answer cut short");
      }
      return { status: res.status, data, token };
    } finally {
      clearTimeout(timer);
    }
  }

  _emit(frame, gen) {
    if (gen === this.gen && !this.stopped) this.onFrame(frame);
  }

  // ---- losing and restoring the conversation -----------------------------------------------------

  /** Forget everything about the current conversation: requests on their way are ignored when they land. */
  _reset(lingerMs = 0) {
    this.gen += 1;
    this._rotate(lingerMs);
    clearTimeout(this.kickTimer);
    clearTimeout(this.idleTimer);
    this.kickTimer = this.idleTimer = null;
    this.sendQueue = [];
    this.sending = false;
    this.rooms.clear();
    this.joining.clear();
    this.connecting = false;
    this.ready = false;
  }

  /** Abort the polls on their way and continue under a new client id; the server may forget the old one now. */
  _rotate(lingerMs = 0) {
    for (const poll of this.polls) {
      poll.done = true;
      poll.controller.abort();
    }
    this.polls.clear();
    this.poll = null;
    if (this.clientUsed) {
      const url = `/api/poll?client=${enc(this.clientId)}`;
      const headers = { Authorization: `Bearer ${this.token}` };
      const forget = () => {
        try {
          fetch(url, { method: "DELETE", headers, keepalive: true, cache: "no-store" }).catch(() => {});
        } catch {
          // best effort: the server forgets a client that stopped polling within a minute anyway
        }
      };
      if (lingerMs > 0) setTimeout(forget, lingerMs);
      else forget();
    }
    this.clientId = newClientId();
    this.clientUsed = false;
  }

  /** The conversation is lost (no answer, a proxy error, the server closing it): reconnect after the backoff. */
  _fail() {
    if (this.stopped) return;
    const wasReady = this.ready;
    this._reset();
    this._clearTimers();
    if (wasReady) this.attempts = 0;
    this._scheduleReconnect();
  }

  _refused() {
    this.stop();
    this.onUnauthorized("Your session has expired. Please sign in again.");
  }

  /** The server refused `token` (a 401, or a `closed` 4401). */
  _authFailed(token) {
    if (this.stopped) return;
    if (token !== this.token) {
      this.restart(); // the token was replaced meanwhile: try the new one
      return;
    }
    if (this.holds > 0) {
      // The token is being replaced right now: wait for the outcome (replacingToken decides).
      this.refusedWhileHeld = true;
      this._reset();
      this._clearTimers();
      this._setState("reconnecting");
      return;
    }
    this._refused();
  }

  _clearTimers() {
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.retryAt = null;
  }

  _setState(state) {
    this.state = state;
    this.onState(state, { retryAt: this.retryAt, attempts: this.attempts });
  }

  _failingState() {
    return navigator.onLine === false || this.attempts > OFFLINE_AFTER ? "offline" : "reconnecting";
  }

  _scheduleReconnect() {
    this.attempts += 1;
    const delay = backoffDelay(this.attempts);
    this.retryAt = Date.now() + delay;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this._connect();
    }, delay);
    this._setState(this._failingState());
  }
}
