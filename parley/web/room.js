// room.js — One joined room: its log of events (messages and system lines such as "bob joined",
// kept sorted by seq, each seq shown once), the pending own messages at the bottom, unread and mention
// counts (the server's, kept up to date with what arrives), read marker, new-message marker, who is online
// and typing, and its scrollable role="log" element, including loading older history without moving
// what you read.

import { messageSummary } from "./attachments.js";
import { mentionsMe } from "./format.js";
import {
  dayKey,
  dayLabel,
  messageElement,
  renderQuote,
  renderReactions,
  renderText,
  setConfirmed,
  setFailed,
  setPending,
  systemElement,
} from "./render.js";

const NEAR_TOP_PX = 400; // load older history when the reader gets this close to the top
const AT_BOTTOM_PX = 48; // "at the bottom" tolerance, so new messages keep the view pinned
const GROUP_GAP_MS = 5 * 60 * 1000; // messages from one person closer than this share a header
const TYPING_TTL_MS = 4000;
const HIGHLIGHT_MS = 2500; // how long a message jumped to stays highlighted
const JUMP_PAGES = 20; // at most this many older pages are loaded to find a quoted message
const CHANGES = new Set(["edit", "delete", "reaction"]);
export const PAGE_SIZE = 50;

/** A chat message (live, replayed, in history, or rebuilt from an ack, which has no type). */
export function isMessage(ev) {
  return ev.type === undefined || ev.type === "message";
}

/** `reactions` of a message as the server gives it ({emoji: [users]}), as a Map of fresh arrays. */
function reactionMap(raw) {
  const out = new Map();
  if (!raw || typeof raw !== "object") return out;
  for (const [emoji, users] of Object.entries(raw)) {
    if (Array.isArray(users)) out.set(emoji, users.filter((u) => typeof u === "string"));
  }
  return out;
}

function isEntry(el) {
  return el.classList.contains("msg") || el.classList.contains("sys");
}

export class Room {
  /**
   * @param {string} name
   * @param {object} opts
   * @param {string} opts.me                      the signed-in user
   * @param {number|null} opts.lastRead           last seq read here (null: never opened)
   * @param {(room: Room) => void} opts.onChange  unread/presence/typing/read-state changed
   * @param {(room: Room, before?: number) => boolean} opts.onNeedHistory  ask the server for a page
   * @param {(room: Room) => void} opts.onRead    the read marker moved up (report it to the server)
   */
  constructor(name, { me, lastRead, onChange, onNeedHistory, onRead, onAction, onNeedQuote, onNotice }) {
    this.name = name;
    this.me = me;
    this.lastRead = typeof lastRead === "number" ? lastRead : null;
    this.onChange = onChange;
    this.onNeedHistory = onNeedHistory;
    this.onRead = onRead || (() => {});
    this.onAction = onAction || (() => {}); // (room, seq, action, element) a message's action was asked for
    this.onNeedQuote = onNeedQuote || (() => {}); // (room, seq) a quoted message is not loaded: look it up
    this.onNotice = onNotice || (() => {}); // (text) something to tell the reader
    this.msgs = new Map(); // seq -> {seq, from, text, edited, deleted, reactions, reply_to, asOf, reactSeq, el}
    this.logSeq = 0; // the highest seq this room's stream (joined, events) has told us about
    this.quoted = new Map(); // seq -> {from, text, deleted} | {missing} for quoted messages not loaded
    this.quoting = new Set(); // seqs being looked up
    this.jumpTarget = null; // {seq, pages}: a quoted message being looked for in older history
    this.replyTo = null; // the seq the composer's next message answers
    this.title = `#${name}`; // what the page calls the room (a DM: the other people's names)
    this.isDm = false;
    this.countedUpTo = 0; // the server's unread count covers messages up to this seq
    this.serverCounted = false;
    this.reportedRead = 0; // the read marker the server has (as far as we know)
    this.joining = false; // a join was sent on this connection and not answered yet
    this.joinedAt = 0; // performance.now() of the last "joined"

    this.seqs = []; // sorted seqs present in the log
    this.bySeq = new Map(); // seq -> element
    this.pending = new Map(); // client_id -> element of an own message not yet acknowledged
    this.unread = 0;
    this.mentions = 0; // of the unread messages, those that mention me or @room
    this.unreadMore = false; // unread messages exist beyond what is loaded
    this.joined = false; // joined on the current connection
    this.seenSeq = 0; // highest seq the server told us about (joined.last_seq or a message)
    this.initialLoaded = false;
    this.atStart = false;
    this.loadingOlder = false;
    this.online = new Set();
    this.typing = new Map(); // user -> timer
    this.active = false;
    this.stick = true; // the view follows new messages (reader is at the bottom)
    this.savedScrollTop = 0;
    this.newBelow = 0; // messages that arrived while the reader was scrolled up

    this.log = document.createElement("div");
    this.log.className = "log";
    this.log.setAttribute("role", "log");
    this.log.setAttribute("aria-label", `${this.title} conversation`);
    this.log.tabIndex = 0;
    this.log.hidden = true;

    this.start = document.createElement("div");
    this.start.className = "log-start";
    this.log.append(this.start);
    this._renderStart();

    this.marker = document.createElement("div");
    this.marker.className = "new-marker";
    this.marker.setAttribute("role", "separator");
    const label = document.createElement("span");
    label.textContent = "New messages";
    this.marker.append(label);

    this.log.addEventListener("scroll", () => this._onScroll(), { passive: true });
    this._bindActions();
    // A view pinned to the newest message stays pinned when it changes size (window resized, phone
    // keyboard opened, composer grew).
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(() => {
        if (this.active && this.stick) this.scrollToBottom();
      }).observe(this.log);
    }
  }

  get minSeq() {
    return this.seqs.length ? this.seqs[0] : 0;
  }

  get maxSeq() {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : 0;
  }

  /** The `since` for a (re)join: the last seq we have, so the server replays exactly the rest. */
  get since() {
    if (this.seqs.length) return this.maxSeq;
    return this.initialLoaded ? this.seenSeq : undefined;
  }

  /** What the page calls this room (`#dev`, or for a DM the other people's names). */
  setTitle(title, isDm) {
    if (this.title === title && this.isDm === isDm) return;
    this.title = title;
    this.isDm = isDm;
    this.log.setAttribute("aria-label", `${title} conversation`);
    this._renderStart();
  }

  // ---- messages and other events ---------------------------------------------------------------

  /**
   * Insert stored events (any order, duplicates ignored): messages, and system lines for `member`
   * and `topic` events; kinds this page does not know keep their seq (for resume) but show nothing.
   * Returns the ones that were new. `first` marks the first page loaded into the room: unread ones
   * in it get the marker.
   */
  addMessages(messages, { first = false } = {}) {
    const added = [];
    // A message that arrives replayed or in history is shown as it is now: changes up to what this room's
    // stream had told us of are in it already, and only later reactions still apply to it.
    const known = this.logSeq;
    this._keepScroll(() => {
      for (const m of messages) {
        if (!m || typeof m.seq !== "number") continue;
        if (this.bySeq.has(m.seq)) {
          this._learnMentions(m);
          continue;
        }
        let el;
        if (isMessage(m)) {
          if (typeof m.from !== "string") continue;
          const own = m.client_id != null && m.from === this.me ? this.pending.get(m.client_id) : null;
          if (own) {
            this.pending.delete(m.client_id);
            el = own;
            setConfirmed(el, m);
          } else {
            el = messageElement({ ...m, text: String(m.text ?? "") }, { mine: m.from === this.me, me: this.me });
          }
          this._register(m, el, Math.max(m.seq, known));
        } else if (CHANGES.has(m.type)) {
          el = document.createElement("div");
          el.className = "evt-change";
          el.hidden = true;
          el.dataset.seq = String(m.seq);
          el.dataset.ts = String(m.ts);
          this._applyChange(m);
        } else {
          el = systemElement(typeof m.room === "string" ? m : { ...m, room: this.name });
          if (!el) {
            el = document.createElement("div");
            el.className = "evt-unknown";
            el.hidden = true;
            el.dataset.seq = String(m.seq);
            el.dataset.ts = String(m.ts);
          }
        }
        this._insert(m.seq, el);
        added.push(m);
      }
    });
    for (const m of added) {
      this.seenSeq = Math.max(this.seenSeq, m.seq);
      this.logSeq = Math.max(this.logSeq, m.seq);
      if (!isMessage(m)) continue;
      this.clearTyping(m.from, false);
      if (this.lastRead !== null && m.seq > this.lastRead && m.seq > this.countedUpTo && m.from !== this.me) {
        this.unread += 1;
        if (mentionsMe(m.mentions, this.me)) this.mentions += 1;
      }
    }
    if (added.length) this._afterNew(added, first);
    return added;
  }

  /**
   * The server's view of this room (GET /api/me/rooms): its last seq, our read marker there, the
   * number of messages from others after it and how many of those mention us. Messages we already have
   * beyond its last seq still count.
   */
  applyServerState({ last_seq: lastSeq, last_read: lastRead, unread, mentions }) {
    const serverSeq = typeof lastSeq === "number" ? lastSeq : 0;
    const serverRead = typeof lastRead === "number" ? lastRead : 0;
    const serverUnread = typeof unread === "number" ? unread : 0;
    const serverMentions = typeof mentions === "number" ? mentions : 0;
    const read = Math.max(this.lastRead ?? -1, serverRead);
    let base = [serverUnread, serverMentions];
    if (read >= serverSeq) base = [0, 0];
    else if (read !== serverRead && this.seqs.length && this.minSeq <= read + 1) {
      base = [this._countUnread(read, serverSeq), this._countUnread(read, serverSeq, true)];
    }
    const before = { unread: this.unread, mentions: this.mentions, lastRead: this.lastRead };
    this.lastRead = read;
    this.countedUpTo = serverSeq;
    this.serverCounted = true;
    this.unreadMore = false;
    this.reportedRead = Math.max(this.reportedRead, serverRead);
    this.unread = base[0] + this._countUnread(Math.max(read, serverSeq), Infinity);
    this.mentions = base[1] + this._countUnread(Math.max(read, serverSeq), Infinity, true);
    this.seenSeq = Math.max(this.seenSeq, serverSeq);
    if (this.active) this.markRead();
    const changed = before.unread !== this.unread || before.mentions !== this.mentions || before.lastRead !== this.lastRead;
    if (changed) this.onChange(this);
  }

  /** Messages from others we have with lo < seq <= hi (only those that mention us, with `mentioning`). */
  _countUnread(lo, hi, mentioning = false) {
    let n = 0;
    for (const seq of this.seqs) {
      if (seq <= lo || seq > hi) continue;
      const el = this.bySeq.get(seq);
      if (!el.classList.contains("msg") || el.dataset.from === this.me) continue;
      if (!mentioning || el.classList.contains("mentions-me")) n += 1;
    }
    return n;
  }

  /** Show an own message at once, before the server has it. */
  addPending(entry, label) {
    if (this.pending.has(entry.client_id)) return;
    const el = messageElement(
      { from: this.me, text: entry.text, ts: entry.created, client_id: entry.client_id, reply_to: entry.reply_to },
      { mine: true, pending: true },
    );
    setPending(el, label);
    this._fillQuote(el);
    this._keepScroll(() => {
      this.log.append(el);
      this._regroup(el);
    }, true);
    this.pending.set(entry.client_id, el);
  }

  setPendingLabel(label) {
    for (const el of this.pending.values()) {
      if (!el.classList.contains("failed")) setPending(el, label);
    }
  }

  markFailed(clientId, reason, handlers) {
    const el = this.pending.get(clientId);
    if (el) setFailed(el, reason, handlers);
  }

  removePending(clientId) {
    const el = this.pending.get(clientId);
    if (!el) return;
    this.pending.delete(clientId);
    const next = this._nextMsg(el);
    el.remove();
    if (next) this._regroup(next);
  }

  /** The server acknowledged our message: it is stored with this seq. */
  confirm(clientId, msg) {
    if (this.bySeq.has(msg.seq)) {
      this.removePending(clientId); // the broadcast copy got here first
      return;
    }
    this.addMessages([msg]);
  }

  /** Place `el` for `seq` among the sorted messages, before any pending ones. */
  _insert(seq, el) {
    let lo = 0;
    let hi = this.seqs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.seqs[mid] < seq) lo = mid + 1;
      else hi = mid;
    }
    let next = lo < this.seqs.length ? this.bySeq.get(this.seqs[lo]) : this._firstPending();
    // An older message goes above the "New messages" marker that belongs to the next one.
    if (next && next.previousElementSibling === this.marker && this.marker.isConnected) next = this.marker;
    this.seqs.splice(lo, 0, seq);
    this.bySeq.set(seq, el);
    if (next) this.log.insertBefore(el, next);
    else this.log.append(el);
    if (isEntry(el)) this._regroup(el);
    const after = this._nextMsg(el);
    if (after) this._regroup(after);
  }

  _firstPending() {
    for (const el of this.pending.values()) if (el.isConnected && el.parentNode === this.log) return el;
    return null;
  }

  /** The next message or system line after `el`. */
  _nextMsg(el) {
    let n = el.nextElementSibling;
    while (n && !isEntry(n)) n = n.nextElementSibling;
    return n;
  }

  /** Day dividers and "same person, same minute-ish" grouping, from the previous entry. */
  _regroup(el) {
    let prev = el.previousElementSibling;
    let separated = false;
    while (prev && !isEntry(prev)) {
      if (prev === this.marker) separated = true;
      prev = prev.previousElementSibling;
    }
    const ts = Number(el.dataset.ts);
    const newDay = !prev || dayKey(Number(prev.dataset.ts)) !== dayKey(ts);
    el.classList.toggle("new-day", newDay);
    if (newDay) el.dataset.day = dayLabel(ts);
    else delete el.dataset.day;
    const cont =
      !!prev &&
      el.classList.contains("msg") &&
      prev.classList.contains("msg") &&
      !newDay &&
      !separated &&
      prev.dataset.from === el.dataset.from &&
      ts - Number(prev.dataset.ts) < GROUP_GAP_MS;
    el.classList.toggle("cont", cont);
  }

  // ---- edits, deletes, reactions, replies -------------------------------------------------------

  /** Keep what a stored message is now (text, edited, deleted, reactions) and show it. */
  _register(m, el, asOf) {
    const st = {
      seq: m.seq,
      from: m.from,
      text: String(m.text ?? ""),
      edited: !!m.edited,
      deleted: !!m.deleted,
      reactions: m.deleted ? new Map() : reactionMap(m.reactions),
      reply_to: typeof m.reply_to === "number" ? m.reply_to : null,
      mentions: Array.isArray(m.mentions) ? m.mentions : null,
      file: m.deleted ? null : m.file || null,
      asOf,
      reactSeq: new Map(), // "emoji\u0000user" -> seq of the last reaction event applied for it
      el,
    };
    this.msgs.set(m.seq, st);
    if (st.reply_to !== null && !el.querySelector(".msg-quote")) {
      // an own message confirmed from an ack: its element was made before the reply was known
      const quote = document.createElement("button");
      quote.type = "button";
      quote.className = "msg-quote";
      quote.dataset.replyTo = String(st.reply_to);
      el.querySelector(".msg-text").before(quote);
    }
    this._render(st);
    this._fillQuote(el);
    this._refreshQuotes(m.seq);
  }

  _render(st) {
    renderText(st.el, st, this.me);
    renderReactions(st.el, st.reactions, this.me);
  }

  /** An own message confirmed from its ack learns its mentions when the broadcast copy follows. */
  _learnMentions(m) {
    const st = isMessage(m) && Array.isArray(m.mentions) ? this.msgs.get(m.seq) : null;
    if (!st || st.mentions) return;
    st.mentions = m.mentions;
    if (!st.deleted) this._keepScroll(() => this._render(st));
  }

  /**
   * Apply an `edit`, `delete` or `reaction` event to its target. Applying one again changes nothing: an edit
   * carries the latest text, a delete is final, and a reaction older than what the message shows is skipped.
   */
  _applyChange(ev) {
    const st = this.msgs.get(ev.target);
    if (!st || st.deleted) return; // not loaded: history shows it as it is now when it comes
    if (ev.type === "edit") {
      if (typeof ev.text !== "string") return;
      st.text = ev.text;
      st.edited = true;
    } else if (ev.type === "delete") {
      st.deleted = true;
      st.file = null;
      st.text = "";
      st.reactions = new Map();
      this.onAction(this, st.seq, "deleted", st.el);
    } else {
      if (typeof ev.emoji !== "string" || typeof ev.from !== "string") return;
      const key = `${ev.emoji}\u0000${ev.from}`;
      if (ev.seq <= (st.reactSeq.get(key) ?? st.asOf)) return;
      st.reactSeq.set(key, ev.seq);
      const users = st.reactions.get(ev.emoji) || [];
      const has = users.includes(ev.from);
      const on = ev.on !== false;
      if (on && !has) st.reactions.set(ev.emoji, [...users, ev.from]);
      else if (!on && has) {
        const rest = users.filter((u) => u !== ev.from);
        if (rest.length) st.reactions.set(ev.emoji, rest);
        else st.reactions.delete(ev.emoji);
      } else return;
    }
    this._keepScroll(() => this._render(st));
    if (ev.type !== "reaction") this._refreshQuotes(st.seq);
  }

  /** Show an edit of our own at once (its event follows, with the same text). */
  localEdit(seq, text) {
    const st = this.msgs.get(seq);
    if (!st || st.deleted) return;
    st.text = text;
    st.edited = true;
    this._keepScroll(() => this._render(st));
    this._refreshQuotes(seq);
  }

  /** Show a delete of ours at once. */
  localDelete(seq) {
    this._applyChange({ type: "delete", target: seq });
  }

  /** What a quote of message `seq` shows: {from, text, deleted}, {missing}, or null (being looked up). */
  quoteInfo(seq) {
    const st = this.msgs.get(seq);
    if (st) return { from: st.from, text: messageSummary(st.text, st.file), deleted: st.deleted };
    if (this.quoted.has(seq)) return this.quoted.get(seq);
    if (!this.quoting.has(seq)) {
      this.quoting.add(seq);
      this.onNeedQuote(this, seq);
    }
    return null;
  }

  /** The lookup of a quoted message that is not loaded answered (info: {from, text, deleted} or {missing}). */
  quoteFound(seq, info) {
    this.quoting.delete(seq);
    this.quoted.set(seq, info);
    this._refreshQuotes(seq);
  }

  _fillQuote(el) {
    const quote = el.querySelector(".msg-quote");
    if (quote) renderQuote(quote, this.quoteInfo(Number(quote.dataset.replyTo)));
  }

  _refreshQuotes(seq) {
    const quotes = this.log.querySelectorAll(`.msg-quote[data-reply-to="${seq}"]`);
    if (quotes.length) this._keepScroll(() => quotes.forEach((q) => renderQuote(q, this.quoteInfo(seq))));
  }

  /** My latest message that can still be edited (for the Up arrow in an empty composer). */
  lastOwnMessage() {
    for (let i = this.seqs.length - 1; i >= 0; i -= 1) {
      const st = this.msgs.get(this.seqs[i]);
      if (st && st.from === this.me && !st.deleted) return st;
    }
    return null;
  }

  /** Scroll to message `seq` and highlight it, loading older history to find it if needed. */
  jumpTo(seq) {
    const st = this.msgs.get(seq);
    if (st) {
      this.jumpTarget = null;
      this._highlight(st.el);
      return;
    }
    if (this.seqs.length && seq > this.minSeq) {
      this.onNotice("The original message is not available.");
      return;
    }
    if (this.atStart || !this.joined) {
      this.onNotice(this.joined ? "The original message is not available." : "The original message is not loaded: try again when connected.");
      return;
    }
    this.jumpTarget = { seq, pages: 0 };
    if (!this.loadingOlder) this.requestHistory();
  }

  _continueJump() {
    const target = this.jumpTarget;
    if (this.msgs.has(target.seq)) {
      this.jumpTarget = null;
      requestAnimationFrame(() => this._highlight(this.msgs.get(target.seq).el));
      return;
    }
    target.pages += 1;
    if (this.atStart || this.minSeq < target.seq || target.pages >= JUMP_PAGES) {
      this.jumpTarget = null;
      this.onNotice(this.atStart || this.minSeq < target.seq ? "The original message is not available." : "The original message is not loaded: it is too far back.");
      return;
    }
    this.requestHistory();
  }

  _highlight(el) {
    el.scrollIntoView({ block: "center", behavior: matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth" });
    this.stick = this._isAtBottom();
    el.classList.remove("highlighted");
    void el.offsetWidth; // restart the animation when jumping to the same message again
    el.classList.add("highlighted");
    clearTimeout(el._highlightTimer);
    el._highlightTimer = setTimeout(() => el.classList.remove("highlighted"), HIGHLIGHT_MS);
    if (!el.hasAttribute("tabindex")) el.tabIndex = -1;
    el.focus({ preventScroll: true });
  }

  /** Clicks on a message's actions, quote and reaction chips, and a long press on touch screens. */
  _bindActions() {
    this.log.addEventListener("click", (ev) => {
      const target = ev.target instanceof Element ? ev.target : null;
      const el = target && target.closest(".msg");
      if (!el || !el.dataset.seq || el.classList.contains("pending")) return;
      const seq = Number(el.dataset.seq);
      const quote = target.closest(".msg-quote");
      if (quote) {
        this.jumpTo(Number(quote.dataset.replyTo));
        return;
      }
      const chip = target.closest(".reaction");
      if (chip) {
        this.onAction(this, seq, "toggle", chip, chip.dataset.emoji);
        return;
      }
      const button = target.closest("[data-action]");
      if (button) this.onAction(this, seq, button.dataset.action, button);
    });
    let press = null;
    const cancel = () => {
      if (press) clearTimeout(press.timer);
      press = null;
    };
    this.log.addEventListener("pointerdown", (ev) => {
      if (ev.pointerType !== "touch") return;
      const el = ev.target instanceof Element ? ev.target.closest(".msg") : null;
      if (!el || !el.dataset.seq || el.classList.contains("pending") || ev.target.closest("button, a, textarea")) return;
      cancel();
      press = {
        x: ev.clientX,
        y: ev.clientY,
        timer: setTimeout(() => {
          press = null;
          const more = el.querySelector(".msg-action-more");
          if (more) this.onAction(this, Number(el.dataset.seq), "more", more);
        }, 550),
      };
    });
    this.log.addEventListener("pointermove", (ev) => {
      if (press && Math.hypot(ev.clientX - press.x, ev.clientY - press.y) > 10) cancel();
    });
    for (const type of ["pointerup", "pointercancel", "scroll"]) this.log.addEventListener(type, cancel, { passive: true });
    this.log.addEventListener("contextmenu", (ev) => {
      // a long press on a touch screen: our menu instead of the browser's
      if (ev.target instanceof Element && ev.target.closest(".msg") && matchMedia("(hover: none)").matches) ev.preventDefault();
    });
  }

  /**
   * Another device of ours read up to `seq`: what is left unread here follows. False when the messages
   * after `seq` are not all loaded here, so only the server can count them.
   */
  readElsewhere(seq) {
    if (typeof seq !== "number") return true;
    this.reportedRead = Math.max(this.reportedRead, seq);
    if (this.lastRead !== null && seq <= this.lastRead) return true;
    this.lastRead = seq;
    const exact = seq >= this.countedUpTo || (this.seqs.length > 0 && this.minSeq <= seq + 1);
    if (exact) {
      this.unread = this._countUnread(seq, Infinity);
      this.mentions = this._countUnread(seq, Infinity, true);
      this.unreadMore = false;
      if (!this.unread && !this.active) this.marker.remove();
    }
    this.onChange(this);
    return exact;
  }

  // ---- history paging --------------------------------------------------------------------------

  /** A page of history arrived (oldest first). `limit` is what we asked for. */
  historyArrived(messages, limit) {
    this.loadingOlder = false;
    this.log.removeAttribute("aria-busy");
    const before = this.minSeq;
    const first = !this.initialLoaded;
    this.initialLoaded = true;
    this.addMessages(messages, { first });
    if (messages.length < limit || this.minSeq === 1 || (messages.length === 0 && before)) {
      this.atStart = true;
    }
    this._keepScroll(() => this._renderStart());
    this._updateUnreadMore();
    if (this.jumpTarget) this._continueJump();
    // Keep going while the reader is still near the top (or the page does not fill the view yet).
    requestAnimationFrame(() => this.maybeLoadOlder());
  }

  /**
   * Older events fetched to show a message in its context (a search hit): they reach down to what is
   * loaded, so the log stays one unbroken run of seqs. `atStart`: they begin at the room's first event.
   */
  addContext(events, atStart) {
    this.initialLoaded = true;
    this.addMessages(events);
    if (atStart) this.atStart = true;
    this._keepScroll(() => this._renderStart());
    this._updateUnreadMore();
  }

  historyFailed() {
    if (this.jumpTarget) {
      this.jumpTarget = null;
      this.onNotice("Couldn't load the original message: try again when connected.");
    }
    this.loadingOlder = false;
    this.log.removeAttribute("aria-busy");
    this._renderStart();
  }

  /** Ask for the page before the oldest message we have, if the reader is near the top. */
  maybeLoadOlder(force = false) {
    if (this.loadingOlder || this.atStart || !this.joined) return;
    if (!force) {
      if (!this.active || this.log.clientHeight === 0) return;
      const roomToScroll = this.log.scrollHeight > this.log.clientHeight + 1;
      if (roomToScroll && this.log.scrollTop > NEAR_TOP_PX) return;
    }
    this.requestHistory();
  }

  requestHistory() {
    if (this.loadingOlder) return;
    if (this.seqs.length && this.minSeq <= 1) {
      this.atStart = true;
      this.initialLoaded = true;
      this._keepScroll(() => this._renderStart());
      return;
    }
    this.loadingOlder = true;
    this.log.setAttribute("aria-busy", "true");
    this._renderStart();
    if (!this.onNeedHistory(this, this.seqs.length ? this.minSeq : undefined)) this.historyFailed();
  }

  _renderStart() {
    if (this.atStart) {
      const title = document.createElement("strong");
      title.textContent = this.title;
      const line = this.isDm
        ? "This is the very beginning of your conversation."
        : "This is the very beginning of the room.";
      this.start.replaceChildren(title, document.createElement("br"), line);
      this.start.className = "log-start at-start";
    } else if (this.loadingOlder) {
      this.start.replaceChildren("Loading earlier messages…");
      this.start.className = "log-start loading";
    } else {
      this.start.replaceChildren("");
      this.start.className = "log-start";
    }
  }

  // ---- joining ----------------------------------------------------------------------------------

  /** The server confirmed our join: presence list and the room's last seq. */
  joinedNow(lastSeq, online) {
    this.joined = true;
    this.joining = false;
    this.joinedAt = performance.now();
    this.seenSeq = Math.max(this.seenSeq, lastSeq || 0);
    this.logSeq = Math.max(this.logSeq, lastSeq || 0);
    if (this.lastRead === null) this.lastRead = lastSeq || 0; // first visit: nothing is "unread"
    this.setOnline(online);
    if (!lastSeq && !this.seqs.length) {
      this.initialLoaded = true;
      this.atStart = true;
      this._renderStart();
    } else if (!this.initialLoaded) {
      this.requestHistory();
    }
  }

  disconnected() {
    this.joined = false;
    this.joining = false;
    this.loadingOlder = false;
    this.log.removeAttribute("aria-busy");
    this._renderStart();
    for (const user of [...this.typing.keys()]) this.clearTyping(user, false);
    this.onChange(this);
  }

  // ---- presence and typing -------------------------------------------------------------------

  setOnline(list) {
    this.online = new Set(Array.isArray(list) ? list : []);
    this.onChange(this);
  }

  presence(user, online) {
    if (online) this.online.add(user);
    else {
      this.online.delete(user);
      this.clearTyping(user, false);
    }
    this.onChange(this);
  }

  setTyping(user) {
    if (user === this.me) return;
    clearTimeout(this.typing.get(user));
    this.typing.set(
      user,
      setTimeout(() => this.clearTyping(user), TYPING_TTL_MS),
    );
    this.onChange(this);
  }

  clearTyping(user, notify = true) {
    if (!this.typing.has(user)) return;
    clearTimeout(this.typing.get(user));
    this.typing.delete(user);
    if (notify) this.onChange(this);
  }

  // ---- reading, scrolling, unread ----------------------------------------------------------------

  show() {
    this.active = true;
    this.log.hidden = false;
    if (this.stick) this.scrollToBottom();
    else this.log.scrollTop = this.savedScrollTop;
    this._revealUnread();
    this.markRead();
    requestAnimationFrame(() => this.maybeLoadOlder());
  }

  /** Put the "New messages" marker before the first unread message and bring it into view. */
  _revealUnread() {
    this._placeMarker();
    if (!this.marker.isConnected) return;
    if (this.stick) this.scrollToBottom(); // the marker itself takes room
    // Scroll up only when the unread part does not fit on screen, to show where it starts.
    const target = Math.max(0, this.marker.offsetTop - 24);
    if (target < this.log.scrollTop) this.log.scrollTop = target;
    this.stick = this._isAtBottom();
  }

  hide() {
    if (this.active) this.savedScrollTop = this.log.scrollTop;
    this.active = false;
    this.log.hidden = true;
    this.marker.remove();
    this.newBelow = 0;
  }

  scrollToBottom() {
    this.log.scrollTop = this.log.scrollHeight;
    this.stick = true;
    this.newBelow = 0;
  }

  /** Forget the marker (after the reader sends a message, the conversation has caught up). */
  clearMarker() {
    if (this.marker.isConnected) {
      const next = this._nextMsg(this.marker);
      this.marker.remove();
      if (next) this._regroup(next);
    }
  }

  /** Everything loaded counts as read if the reader can see the bottom of an open room. */
  markRead() {
    if (!this.active || document.visibilityState === "hidden" || !this.stick) return;
    this.newBelow = 0;
    const before = this.lastRead;
    if (this.seqs.length) this.lastRead = Math.max(this.lastRead ?? 0, this.maxSeq);
    // Caught up only once what we have reaches what the server counted (history may still be on its way).
    if (this.lastRead !== null && this.lastRead < this.countedUpTo) {
      if (before !== this.lastRead) this.onChange(this);
      return;
    }
    const changed = this.unread !== 0 || this.mentions !== 0 || this.unreadMore || before !== this.lastRead;
    this.unread = 0;
    this.mentions = 0;
    this.unreadMore = false;
    if (changed) this.onChange(this);
    if (this.lastRead !== null && this.lastRead > this.reportedRead) this.onRead(this);
  }

  _placeMarker() {
    if (this.marker.isConnected || this.lastRead === null) return;
    const idx = this.seqs.findIndex((s) => s > this.lastRead);
    if (idx < 0) return;
    // Only others' messages make something "new"; skip past our own and system lines.
    for (let i = idx; i < this.seqs.length; i += 1) {
      const el = this.bySeq.get(this.seqs[i]);
      if (el.classList.contains("msg") && el.dataset.from !== this.me) {
        this.log.insertBefore(this.marker, el);
        this._regroup(el);
        return;
      }
    }
  }

  _afterNew(added, first) {
    if (this.active && first) {
      this._revealUnread();
      this.markRead();
    } else if (this.active) {
      const fromOthers = added.filter((m) => isMessage(m) && m.from !== this.me && m.seq > (this.lastRead ?? 0));
      if (fromOthers.length && (!this.stick || document.visibilityState === "hidden")) {
        this._keepScroll(() => this._placeMarker());
        this.newBelow += fromOthers.length;
      }
      this.markRead();
    }
    this.onChange(this);
  }

  _updateUnreadMore() {
    if (this.serverCounted) return; // the server's count is exact
    this.unreadMore = this.lastRead !== null && this.seqs.length > 0 && this.minSeq > this.lastRead + 1;
  }

  _isAtBottom() {
    const log = this.log;
    return log.scrollHeight - log.scrollTop - log.clientHeight <= AT_BOTTOM_PX;
  }

  _onScroll() {
    if (!this.active) return;
    const wasStuck = this.stick;
    this.stick = this._isAtBottom();
    if (this.stick && !wasStuck) this.markRead();
    if (this.stick !== wasStuck) this.onChange(this);
    if (this.log.scrollTop <= NEAR_TOP_PX) this.maybeLoadOlder();
  }

  /**
   * Run a DOM change without moving what the reader sees: a view pinned to the bottom stays pinned
   * (and `followOwn` pins it, for the reader's own new message); otherwise the first visible message
   * keeps its exact position on screen, so older history can be prepended without a jump.
   */
  _keepScroll(change, followOwn = false) {
    if (!this.active || this.log.clientHeight === 0) {
      change();
      if (followOwn) this.stick = true;
      return;
    }
    const stuck = this.stick;
    const anchor = stuck ? null : this._anchor();
    change();
    if (stuck || followOwn) {
      this.scrollToBottom();
    } else if (anchor) {
      this.log.scrollTop += anchor.el.getBoundingClientRect().bottom - anchor.bottom;
    }
  }

  // The anchor is the first message still (partly) in view, pinned by its bottom edge: regrouping
  // can hide its name line or day divider (changing its top), but its text stays put.
  _anchor() {
    const top = this.log.getBoundingClientRect().top;
    for (const seq of this.seqs) {
      const el = this.bySeq.get(seq);
      const r = el.getBoundingClientRect();
      if (r.bottom > top) return { el, bottom: r.bottom };
    }
    return null;
  }

  destroy() {
    for (const t of this.typing.values()) clearTimeout(t);
    this.typing.clear();
    this.log.remove();
  }
}
