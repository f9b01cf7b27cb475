// transport.js — How the page talks to the server: over the WebSocket (connection.js) when it gets through,
// by long-polling (poll.js) when the network blocks it, with the interface of Connection, so the page does
// not care which. WebSocket comes first; when it does not reach "ready" within a few seconds, or fails twice
// in a row, while plain HTTP does reach the server, the page switches to polling (a server that is down
// is an outage, not a blocked network: then it keeps retrying the WebSocket). While polling it tries a
// WebSocket every 30 s and moves back when one gets "ready". Each switch goes through the page's onReady,
// exactly like a reconnect: it rejoins every room with `since` and sends its outbox once.
// `?transport=poll` in the page's URL forces polling, `?transport=ws` never falls back; `?switch_ms=N` shortens
// the slow fallback and the WebSocket probe to N ms (at least 1 s), for tests and for trying it out.

import { Connection } from "./connection.js";
import { PollConnection } from "./poll.js";

const FIRST_READY_MS = 4_000; // a WebSocket not even open by then (while HTTP answers): fall back
const FALLBACK_FAILURES = 2; // or as many failed attempts in a row
// In a tab where the WebSocket worked, failures usually mean a restart or a blip: fall back only when they
// go on this long while HTTP answers (e.g. the laptop moved to a network whose proxy drops WebSocket).
const SWITCH_MS = Math.max(1_000, Number(new URLSearchParams(location.search).get("switch_ms")) || 0);
const SLOW_FALLBACK_MS = new URLSearchParams(location.search).has("switch_ms") ? SWITCH_MS : 20_000;
const PROBE_EVERY_MS = new URLSearchParams(location.search).has("switch_ms") ? SWITCH_MS : 30_000; // while
// polling, how often a WebSocket is tried again
const CHECK_TIMEOUT_MS = 5_000;
const HANDOVER_MS = 5_000; // polling's presence outlives the switch to WebSocket by this much: no blink
const LAST_KEY = "parley.transport"; // sessionStorage: what last worked in this tab ("ws" or "poll")

/** "poll" or "ws" when the page's URL asks for one (?transport=...), otherwise "auto". */
export function transportMode() {
  const want = new URLSearchParams(location.search).get("transport");
  return want === "poll" || want === "ws" ? want : "auto";
}

function lastWorked() {
  try {
    return sessionStorage.getItem(LAST_KEY);
  } catch {
    return null;
  }
}

function setLastWorked(kind) {
  try {
    sessionStorage.setItem(LAST_KEY, kind);
  } catch {
    // storage disabled: every load is a first one
  }
}

export class Transport {
  /**
   * The options of Connection (connection.js); onState's info also says `transport` ("ws" or "poll") and
   * `forced` (the page's address chose it).
   */
  constructor({ token, onFrame, onReady, onState, onUnauthorized, authRooms }) {
    this.token = token;
    this.handlers = { onFrame, onReady, onState, onUnauthorized, authRooms };
    this.mode = transportMode();
    this.kind = this.mode === "poll" ? "poll" : "ws";
    this.active = this._make(this.kind);
    this.candidate = null; // while polling: a WebSocket being tried, adopted when it gets "ready"
    this.stopped = true;
    this.holding = 0; // > 0 while the token is being replaced: no switching then
    this.wsFailures = 0; // failed WebSocket attempts since the last "ready"
    this.blockedSince = 0; // when a failed WebSocket was first seen while HTTP answered
    this.checking = false;
    this.firstTimer = null;
    this.slowTimer = null;
    this.probeTimer = null;
  }

  get ready() {
    return this.active.ready;
  }

  get state() {
    return this.active.state;
  }

  get holds() {
    return this.active.holds;
  }

  /** "ws" or "poll": what the page is using now. */
  get transport() {
    return this.kind;
  }

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.active.start();
    this._afterStart();
  }

  stop() {
    this.stopped = true;
    this._clearTimers();
    this._dropCandidate();
    this.active.stop();
  }

  send(frame) {
    return this.active.send(frame);
  }

  setToken(token) {
    this.token = token;
    this.active.setToken(token);
    if (this.candidate) this.candidate.setToken(token);
  }

  async replacingToken(change) {
    this._dropCandidate();
    const conn = this.active;
    this.holding += 1;
    try {
      return await conn.replacingToken(change);
    } finally {
      this.holding -= 1;
      if (!this.holding && !this.stopped && this.kind === "poll") this._scheduleProbe();
    }
  }

  restart() {
    if (this.stopped) {
      this.start();
      return;
    }
    this._clearTimers();
    this._dropCandidate();
    this.active.restart();
    this._afterStart();
  }

  retryNow() {
    this.active.retryNow();
  }

  /** Switch to polling now (auto mode), e.g. from the devtools console: `parley.conn.usePolling()`. */
  usePolling() {
    if (this.mode === "auto") this._usePoll();
  }

  // ---- the two kinds ------------------------------------------------------------------------------

  _make(kind) {
    const Kind = kind === "poll" ? PollConnection : Connection;
    const conn = new Kind({
      token: this.token,
      onFrame: (f) => {
        if (conn === this.active) this.handlers.onFrame(f);
      },
      onReady: (f, carried) => this._ready(conn, f, carried || []),
      authRooms: this.handlers.authRooms,
      onState: (state, info) => this._state(conn, state, info),
      onUnauthorized: (message) => this._unauthorized(conn, message),
    });
    conn.kind = kind;
    return conn;
  }

  _afterStart() {
    if (this.kind === "ws") this._watch();
    else this._scheduleProbe();
  }

  _ready(conn, frame, carried) {
    if (conn === this.candidate) {
      this._adopt(conn, frame, carried);
      return;
    }
    if (conn !== this.active) return;
    if (conn.kind === "ws") {
      this._resetWatch();
      if (this.mode === "auto") setLastWorked("ws");
    }
    this.handlers.onReady(frame, carried);
  }

  _state(conn, state, info) {
    if (conn === this.candidate) {
      if (state !== "connected" && (info.retryAt || state === "offline")) this._candidateFailed();
      return;
    }
    if (conn !== this.active) return;
    this.handlers.onState(state, { ...info, transport: conn.kind, forced: this.mode !== "auto" });
    // info.retryAt: an attempt just failed and the next one is scheduled
    if (conn.kind === "ws" && this.mode === "auto" && state !== "connected" && info.retryAt) this._wsFailed();
  }

  _unauthorized(conn, message) {
    if (conn === this.candidate) {
      this._candidateFailed(); // polling finds out about the token by itself
      return;
    }
    if (conn !== this.active) return;
    this._clearTimers();
    this._dropCandidate();
    this.handlers.onUnauthorized(message);
  }

  // ---- WebSocket → polling ---------------------------------------------------------------------

  _resetWatch() {
    clearTimeout(this.firstTimer);
    clearTimeout(this.slowTimer);
    this.firstTimer = this.slowTimer = null;
    this.wsFailures = 0;
    this.blockedSince = 0;
  }

  _watch() {
    this._resetWatch();
    if (this.mode !== "auto" || this.kind !== "ws") return;
    const conn = this.active;
    this.firstTimer = setTimeout(() => {
      this.firstTimer = null;
      // A socket that opened got through the network and waits for a slow server: its own timeout decides.
      const open = conn.ws && conn.ws.readyState === WebSocket.OPEN;
      if (conn === this.active && !conn.ready && !open) this._check();
    }, FIRST_READY_MS);
  }

  _wsFailed() {
    this.wsFailures += 1;
    if (lastWorked() === "ws" || this.wsFailures >= FALLBACK_FAILURES) this._check();
  }

  /** The WebSocket is failing: does plain HTTP reach the server? Then the network blocks WebSocket. */
  async _check() {
    if (this.checking || this.stopped || this.kind !== "ws" || this.mode !== "auto") return;
    const conn = this.active;
    this.checking = true;
    let reachable = false;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), CHECK_TIMEOUT_MS);
    try {
      const res = await fetch("/api/me", {
        headers: { Accept: "application/json", Authorization: `Bearer ${this.token}` },
        cache: "no-store",
        signal: controller.signal,
      });
      // Parley answered (even "unauthorized": polling will say so); a proxy's 502 or 504 is no answer.
      reachable = res.status < 500;
    } catch {
      reachable = false;
    } finally {
      clearTimeout(timer);
      this.checking = false;
    }
    if (this.stopped || conn !== this.active || conn.ready || this.holding || conn.holds) return;
    if (!reachable) {
      this.blockedSince = 0; // an outage: polling would not get through either
      return;
    }
    const now = Date.now();
    if (!this.blockedSince) this.blockedSince = now;
    if (lastWorked() !== "ws") {
      this._usePoll();
      return;
    }
    const wait = this.blockedSince + SLOW_FALLBACK_MS - now;
    if (wait <= 0) {
      this._usePoll();
      return;
    }
    if (!this.slowTimer) {
      // Then try the WebSocket once more: if that attempt fails too (and HTTP still answers), fall back.
      this.slowTimer = setTimeout(() => {
        this.slowTimer = null;
        if (conn === this.active && !conn.ready) conn.retryNow();
      }, wait);
    }
  }

  _usePoll() {
    if (this.kind === "poll" || this.stopped) return;
    this._resetWatch();
    const old = this.active;
    this.kind = "poll";
    this.active = this._make("poll");
    old.stop();
    setLastWorked("poll");
    this.active.start();
    this._scheduleProbe();
  }

  // ---- polling → WebSocket ---------------------------------------------------------------------

  _scheduleProbe() {
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    if (this.mode !== "auto" || this.kind !== "poll" || this.stopped) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      this._probe();
    }, PROBE_EVERY_MS);
  }

  /** Try a WebSocket (it authenticates); polling goes on until it is "ready", and stays if it fails. */
  _probe() {
    if (this.stopped || this.kind !== "poll" || this.candidate) return;
    if (this.holding || this.active.holds) {
      this._scheduleProbe();
      return;
    }
    this.candidate = this._make("ws");
    this.candidate.start();
  }

  _candidateFailed() {
    this._dropCandidate();
    this._scheduleProbe();
  }

  _dropCandidate() {
    if (!this.candidate) return;
    const conn = this.candidate;
    this.candidate = null;
    conn.stop();
  }

  /** The probe got "ready": it becomes the page's connection and polling stops. */
  _adopt(conn, frame, carried) {
    this.candidate = null;
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
    const old = this.active;
    this.kind = "ws";
    this.active = conn;
    old.stop(HANDOVER_MS);
    this._resetWatch();
    setLastWorked("ws");
    // As after a dropped connection: the page forgets what it had joined, then rejoins over the WebSocket
    // from the seq it holds in each room.
    const info = { retryAt: null, attempts: 0, transport: "ws", forced: false };
    this.handlers.onState("reconnecting", info);
    this.handlers.onState("connected", info);
    this.handlers.onReady(frame, carried);
  }

  _clearTimers() {
    this._resetWatch();
    clearTimeout(this.probeTimer);
    this.probeTimer = null;
  }
}
