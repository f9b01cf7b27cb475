// requests.js — The page's requests to the server, matched to their answers by `ref`. A frame that
// expects an answer carries a ref "KIND:N" (`hist:3`, `act:7`), numbered per kind; what the page needs
// when the answer comes (the room of a history page, the promise of an edit) waits here under that ref
// until the answer takes it, an optional timeout gives up on it, or the connection drops and the caller
// fails what was waiting. Fire-and-forget frames carry a named ref, "KIND:KEY" (`join:general`,
// `read:general`), that is not kept: only its kind is read back from an error. Frames sent as messages
// use their client_id as ref (outbox.js), which has no kind. No DOM here: tests/web/requests.test.mjs.

/** The kind of a ref, the part before its first ":" ("hist" for "hist:3"); "" when it has none. */
export function refKind(ref) {
  const s = ref == null ? "" : String(ref);
  const at = s.indexOf(":");
  return at > 0 ? s.slice(0, at) : "";
}

/** What follows a ref's kind ("general" for "join:general"); "" when it has no kind. */
export function refKey(ref) {
  const s = ref == null ? "" : String(ref);
  return refKind(s) ? s.slice(s.indexOf(":") + 1) : "";
}

/** The ref of a fire-and-forget frame: nothing waits for its answer, an error is told by its kind. */
export function namedRef(kind, key) {
  return `${kind}:${key}`;
}

export class Requests {
  /** `setTimer`/`clearTimer` stand in for setTimeout/clearTimeout (tests give their own clock). */
  constructor({ setTimer = (fn, ms) => setTimeout(fn, ms), clearTimer = (t) => clearTimeout(t) } = {}) {
    this.setTimer = setTimer;
    this.clearTimer = clearTimer;
    this.counters = new Map(); // kind -> the last number issued
    this.waiting = new Map(); // ref -> {kind, context, timer}, in the order issued
  }

  /**
   * A new ref of `kind`, unique for this page's life, keeping `context` until the answer takes it.
   * With `timeoutMs`, a request still waiting then is dropped and `onTimeout(context, ref)` told.
   */
  issue(kind, context, { timeoutMs = 0, onTimeout = null } = {}) {
    const n = (this.counters.get(kind) || 0) + 1;
    this.counters.set(kind, n);
    const ref = `${kind}:${n}`;
    const entry = { kind, context, timer: null };
    if (timeoutMs > 0) {
      entry.timer = this.setTimer(() => {
        if (this.waiting.get(ref) !== entry) return;
        this.waiting.delete(ref);
        if (onTimeout) onTimeout(context, ref);
      }, timeoutMs);
    }
    this.waiting.set(ref, entry);
    return ref;
  }

  /** The request waiting under `ref` ({kind, context}), left waiting; null if none. */
  get(ref) {
    const entry = this.waiting.get(ref == null ? "" : String(ref));
    return entry ? { kind: entry.kind, context: entry.context } : null;
  }

  /**
   * The answer to `ref` came: its request ({kind, context}) stops waiting and is returned; null for a
   * ref unknown, answered already, timed out or dropped, or (given `kind`) of another kind.
   */
  take(ref, kind) {
    const key = ref == null ? "" : String(ref);
    const entry = this.waiting.get(key);
    if (!entry || (kind !== undefined && entry.kind !== kind)) return null;
    this.waiting.delete(key);
    if (entry.timer !== null) this.clearTimer(entry.timer);
    return { kind: entry.kind, context: entry.context };
  }

  /**
   * The connection dropped: every request still waiting (of `kind` only, if given) stops waiting and is
   * returned, oldest first, as [{ref, kind, context}], for the caller to fail or forget.
   */
  dropAll(kind) {
    const dropped = [];
    for (const [ref, entry] of this.waiting) {
      if (kind !== undefined && entry.kind !== kind) continue;
      this.waiting.delete(ref);
      if (entry.timer !== null) this.clearTimer(entry.timer);
      dropped.push({ ref, kind: entry.kind, context: entry.context });
    }
    return dropped;
  }

  /** How many requests wait (of `kind` only, if given). */
  pending(kind) {
    if (kind === undefined) return this.waiting.size;
    let n = 0;
    for (const entry of this.waiting.values()) if (entry.kind === kind) n += 1;
    return n;
  }
}
