// connection.js — The page's one WebSocket to /ws. It authenticates with the session token, reports
// its state (connecting / connected / reconnecting / offline), keeps itself alive, and reconnects on
// its own with a capped backoff and jitter, at once when the browser goes online or the page is shown.
// The app only sees parsed frames and state changes.
// When the token is replaced (password changed: the server closes the old sockets with 4401) it
// reconnects with the new one instead of giving up.

import { replacingToken } from "./tokenhold.js";

// The first retry comes after 0.5-1 s and the waits grow slowly to at most 10 s (5-10 s with jitter): a
// server back from a restart is found within seconds, not the half minute a steeper, higher curve took.
// Going online or becoming visible again retries at once (the handlers below, and poll.js's).
const BASE_DELAY_MS = 1_000;
const GROWTH = 1.4;
const MAX_DELAY_MS = 10_000;
const OPEN_TIMEOUT_MS = 10_000; // socket open + "ready" must happen within this, or we retry
export const OFFLINE_AFTER = 4; // consecutive failed attempts before "reconnecting" becomes "offline"
const CLOSE_UNAUTHENTICATED = 4401;
// The code this page closes its own socket with when the server stopped answering (open timeout, unanswered
// ping). It must not be one of the server's codes (1000-1011, 4000 heartbeat, 4401, 4408: protocol/codes.py):
// `_closed` would take it for the server's verdict.
const CLOSE_CLIENT_TIMEOUT = 4900;
const CLOSE_CLIENT_TIMEOUT_REASON = "client: no answer";

export function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/ws`;
}

/** Delay before reconnect attempt number `attempt` (1-based): exponential, capped, "equal jitter". */
export function backoffDelay(attempt) {
  const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * GROWTH ** Math.max(0, attempt - 1));
  return cap / 2 + Math.random() * (cap / 2);
}

/** Close `ws` without hearing from it again (its handlers are removed first). */
function silence(ws, code, reason) {
  ws.onopen = ws.onmessage = ws.onclose = ws.onerror = null;
  try {
    ws.close(code, reason);
  } catch {
    // already closed
  }
}

export class Connection {
  /**
   * @param {object} opts
   * @param {string} opts.token        bearer token sent in the "auth" frame
   * @param {(frame: object) => void} opts.onFrame      every frame after "ready"
   * @param {(ready: object, carried: string[]) => void} opts.onReady  each time a (re)connection is
   *   authenticated; `carried`: the rooms its "auth" frame asked to join (their "joined" frames follow)
   * @param {() => object[]} [opts.authRooms]  the rooms to join in the "auth" frame itself, as
   *   {room, since, resume, ref}: ready to chat after one round trip
   * @param {(state: string, info: object) => void} opts.onState
   * @param {(message: string) => void} opts.onUnauthorized  the token was refused: sign in again
   *   (the app may call setToken() and restart() instead, if it has a newer token)
   */
  constructor({ token, onFrame, onReady, onState, onUnauthorized, authRooms }) {
    this.token = token;
    this.onFrame = onFrame;
    this.onReady = onReady;
    this.authRooms = authRooms;
    this.onState = onState;
    this.onUnauthorized = onUnauthorized;
    this.ws = null;
    this.ready = false;
    this.stopped = true;
    this.attempts = 0;
    this.state = "connecting";
    this.retryAt = null;
    this.retryTimer = null;
    this.openTimer = null;
    this.beatTimer = null;
    this.lastRx = 0;
    this.heartbeatMs = 20_000;
    this.holds = 0; // > 0 while the token is being replaced: a 4401 then waits for the outcome
    this.refusedWhileHeld = false;

    this._online = () => {
      if (this.ready) return;
      // An attempt begun on the old network may hang until its timeout: start a fresh one instead.
      if (this.ws && this.ws.readyState === WebSocket.CONNECTING) this._drop(this.ws);
      this.retryNow();
    };
    // The browser lost its network: the socket is as good as dead even if no close event came yet.
    this._offline = () => {
      if (this.ws) this._drop(this.ws);
      else this._setState("offline");
    };
    this._visible = () => {
      if (document.visibilityState === "visible" && !this.ready && this.retryTimer) this.retryNow();
    };
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    window.addEventListener("online", this._online);
    window.addEventListener("offline", this._offline);
    document.addEventListener("visibilitychange", this._visible);
    this._connect();
  }

  stop() {
    this.stopped = true;
    window.removeEventListener("online", this._online);
    window.removeEventListener("offline", this._offline);
    document.removeEventListener("visibilitychange", this._visible);
    this._clearTimers();
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      silence(ws, 1000, "bye");
    }
    this.ready = false;
  }

  /** Send a frame if the connection is authenticated; false means "not now, keep it for later". */
  send(frame) {
    if (!this.ready || !this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    try {
      this.ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Use `token` from now on; a socket authenticated with an older one that is refused reconnects. */
  setToken(token) {
    this.token = token;
  }

  /**
   * Run `change` (which replaces the token, e.g. a password change) while holding refusals: the
   * server may close this socket with 4401 before the new token arrives. Afterwards, a refused
   * connection reconnects if the token changed and gives up if not.
   */
  replacingToken(change) {
    return replacingToken(this, change);
  }

  /** Drop the current socket (if any) and connect again now, e.g. with a new token. */
  restart() {
    if (this.stopped) {
      this.start();
      return;
    }
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      silence(ws, 1000, "reconnect");
      if (this.ready) {
        this.ready = false;
        this._setState("reconnecting");
      }
    }
    this.ready = false;
    this.attempts = 0;
    this._clearTimers();
    this._connect();
  }

  /** Skip the backoff wait and try to connect now (the "Retry now" button, the browser going online). */
  retryNow() {
    if (this.stopped || this.ready) return;
    if (this.ws && this.ws.readyState === WebSocket.CONNECTING) return;
    this._clearTimers();
    this._connect();
  }

  _clearTimers() {
    clearTimeout(this.retryTimer);
    clearTimeout(this.openTimer);
    clearInterval(this.beatTimer);
    this.retryTimer = this.openTimer = this.beatTimer = null;
    this.retryAt = null;
  }

  _setState(state) {
    this.state = state;
    this.onState(state, { retryAt: this.retryAt, attempts: this.attempts });
  }

  _connect() {
    if (this.stopped) return;
    this.retryAt = null;
    if (this.attempts === 0) this._setState("connecting");
    else this._setState(this._failingState());
    let ws;
    try {
      ws = new WebSocket(socketUrl());
    } catch {
      this._scheduleReconnect();
      return;
    }
    this.ws = ws;
    this.ready = false;
    const token = this.token;
    this.openTimer = setTimeout(() => this._drop(ws), OPEN_TIMEOUT_MS);
    ws.onopen = () => {
      const rooms = this.authRooms ? this.authRooms() : [];
      ws.carried = rooms.map((r) => r.room);
      const auth = { type: "auth", token };
      if (rooms.length) auth.rooms = rooms;
      ws.send(JSON.stringify(auth));
    };
    ws.authToken = token;
    ws.onmessage = (ev) => this._receive(ws, ev);
    ws.onclose = (ev) => this._closed(ws, ev.code, ev.reason);
    ws.onerror = () => {
      // A "close" event always follows; reconnection is handled there.
    };
  }

  _receive(ws, ev) {
    if (ws !== this.ws || typeof ev.data !== "string") return;
    this.lastRx = Date.now();
    let frame;
    try {
      frame = JSON.parse(ev.data);
    } catch {
      return;
    }
    if (!frame || typeof frame !== "object") return;
    if (!this.ready) {
      if (frame.type === "ready") {
        this.ready = true;
        this.attempts = 0;
        clearTimeout(this.openTimer);
        this.openTimer = null;
        if (typeof frame.heartbeat === "number" && frame.heartbeat > 0) {
          this.heartbeatMs = frame.heartbeat * 1000;
        }
        this._startHeartbeat(ws);
        this._setState("connected");
        this.onReady(frame, ws.carried || []);
      } else if (frame.type === "error" && frame.code === "unauthenticated") {
        this._authFailed(ws);
      }
      return;
    }
    if (frame.type === "pong") return;
    // A revoked token (password changed, signed out everywhere): the close 4401 follows.
    if (frame.type === "error" && frame.code === "unauthenticated" && frame.ref == null) {
      this._authFailed(ws);
      return;
    }
    this.onFrame(frame);
  }

  // Browsers cannot see the server's WebSocket pings, so a silent, half-open connection would look
  // alive forever. When nothing has arrived for a heartbeat period we send a "ping" frame; if a whole
  // period passes after it with nothing received, the connection is dead and gets replaced. (Only an
  // unanswered ping counts: background tabs run timers late, and lateness alone proves nothing.)
  _startHeartbeat(ws) {
    clearInterval(this.beatTimer);
    const period = Math.max(2_000, this.heartbeatMs);
    let pingAt = 0;
    this.beatTimer = setInterval(() => {
      if (ws !== this.ws) return;
      const now = Date.now();
      if (pingAt && this.lastRx >= pingAt) pingAt = 0;
      if (pingAt && now - pingAt > period) this._drop(ws);
      else if (!pingAt && now - this.lastRx >= period && this.send({ type: "ping" })) pingAt = now;
    }, period / 2);
  }

  /** Give up on a socket now (timeout, silence) without waiting for a slow closing handshake. */
  _drop(ws) {
    if (ws !== this.ws) return;
    silence(ws, CLOSE_CLIENT_TIMEOUT, CLOSE_CLIENT_TIMEOUT_REASON);
    this._closed(ws, CLOSE_CLIENT_TIMEOUT, CLOSE_CLIENT_TIMEOUT_REASON);
  }

  _refused() {
    this.stop();
    this.onUnauthorized("Your session has expired. Please sign in again.");
  }

  /** The server refused the token `ws` authenticated with (error frame or close 4401). */
  _authFailed(ws) {
    if (ws !== this.ws) return;
    if (ws.authToken !== this.token) {
      this.restart(); // the token was replaced meanwhile: try the new one
      return;
    }
    if (this.holds > 0) {
      // The token is being replaced right now: wait for the outcome (replacingToken decides).
      this.refusedWhileHeld = true;
      this.ws = null;
      silence(ws, 1000, "bye");
      this.ready = false;
      this._clearTimers();
      this._setState("reconnecting");
      return;
    }
    this._refused();
  }

  _closed(ws, code) {
    if (ws !== this.ws) return;
    const wasReady = this.ready;
    this.ws = null;
    this.ready = false;
    clearTimeout(this.openTimer);
    clearInterval(this.beatTimer);
    this.openTimer = this.beatTimer = null;
    if (this.stopped) return;
    if (code === CLOSE_UNAUTHENTICATED) {
      this.ws = ws; // _authFailed decides for this socket
      this._authFailed(ws);
      return;
    }
    if (wasReady) this.attempts = 0;
    this._scheduleReconnect();
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
