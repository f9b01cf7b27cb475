// render.js — Builds the DOM for one chat message and for the room's system lines ("bob joined",
// "alice set the topic to …"). User text only ever reaches the page through text nodes
// (textContent), formatted by format.js; http(s) links become <a> elements whose href is a parsed,
// checked URL.

import { attachmentElement } from "./attachments.js";
import { appendFormatted, mentionsMe } from "./format.js";
import { paintAvatar, paintName } from "./profiles.js";

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const fullFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "medium" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const yearDayFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "long", day: "numeric" });

// Hues that read well as both avatar backgrounds and name colours, light or dark.
const HUES = [4, 24, 38, 142, 162, 188, 206, 224, 248, 268, 292, 322];

/** A stable hue per name (FNV-1a hash), so each person keeps their colour everywhere. */
export function hueOf(name) {
  let h = 0x811c9dc5;
  for (const ch of name) h = Math.imul(h ^ ch.codePointAt(0), 0x01000193) >>> 0;
  return HUES[h % HUES.length];
}

export function initialOf(name) {
  const ch = [...name.replace(/^[._-]+/, "") || name][0] || "?";
  return ch.toUpperCase();
}

/**
 * A small round avatar, decorative (the name is always shown too): the person's image when they set one
 * (profiles.js paints it when it arrives), their initial until then. `open`: a click opens their profile card.
 */
export function avatar(name, extraClass = "", { open = false } = {}) {
  const el = document.createElement("span");
  el.className = `avatar ${extraClass}`.trim();
  el.setAttribute("aria-hidden", "true");
  el.style.setProperty("--hue", hueOf(name));
  el.dataset.initial = initialOf(name);
  el.dataset.avatarFor = name;
  if (open) el.dataset.profileOpen = name;
  paintAvatar(el);
  return el;
}

/**
 * Make `el` show `user` by their profile, kept up to date: "full" (message headers) the display name in
 * bold then the username, muted; "plain" (lists, titles) the display name alone (the username in its
 * tooltip). Without a display name, the username.
 */
export function personName(el, user, style = "plain") {
  el.dataset.nameFor = user;
  el.dataset.nameStyle = style;
  paintName(el);
  return el;
}

export function dayKey(ts) {
  const d = new Date(ts);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

export function dayLabel(ts) {
  const d = new Date(ts);
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(d) === dayKey(today)) return "Today";
  if (dayKey(d) === dayKey(yesterday)) return "Yesterday";
  return d.getFullYear() === today.getFullYear() ? dayFmt.format(d) : yearDayFmt.format(d);
}

/**
 * The element for one message. `msg` is {seq?, from, text, ts, client_id, mentions?}; `pending` marks an
 * own message not yet acknowledged; `me` is the signed-in user. Call setConfirmed() later to turn a
 * pending element into a stored one.
 */
export function messageElement(msg, { mine = false, pending = false, me = "" } = {}) {
  const el = document.createElement("article");
  el.className = "msg";
  if (mine) el.classList.add("mine");
  else if (mentionsMe(msg.mentions, me)) el.classList.add("mentions-me");
  el.dataset.from = msg.from;
  el.dataset.ts = String(msg.ts);
  if (msg.client_id) el.dataset.clientId = msg.client_id;

  el.append(avatar(msg.from, "", { open: true }));

  const body = document.createElement("div");
  body.className = "msg-body";

  const meta = document.createElement("div");
  meta.className = "msg-meta";
  // the name opens the person's profile card (a button: keyboard users reach it too)
  const author = document.createElement("button");
  author.type = "button";
  author.className = "msg-author";
  author.dataset.profileOpen = msg.from;
  author.style.setProperty("--hue", hueOf(msg.from));
  personName(author, msg.from, "full");
  meta.append(author, " ");
  meta.append(timeElement(msg.ts));
  body.append(meta);

  if (typeof msg.reply_to === "number") {
    // The quoted original: filled in (and kept up to date) by the room, which knows the messages.
    const quote = document.createElement("button");
    quote.type = "button";
    quote.className = "msg-quote";
    quote.dataset.replyTo = String(msg.reply_to);
    body.append(quote);
  }

  const text = document.createElement("div");
  text.className = "msg-text";
  text.dir = "auto";
  appendFormatted(text, msg.text, { mentions: msg.mentions, me });
  body.append(text);

  if (msg.file && typeof msg.file === "object" && !msg.deleted) body.append(attachmentElement(msg.file));

  const reactions = document.createElement("div");
  reactions.className = "msg-reactions";
  reactions.hidden = true;
  body.append(reactions);

  const state = document.createElement("div");
  state.className = "msg-state";
  body.append(state);

  // In a run of messages from one person only the first shows name and time; the others show the
  // time on the side, on hover or focus.
  const sideTime = timeElement(msg.ts);
  sideTime.classList.add("msg-side-time");
  el.append(sideTime, body, actionsElement(mine));

  if (pending) setPending(el, "Sending…");
  else setConfirmed(el, msg);
  return el;
}

// ---- message actions, edits, deletes, reactions, replies ------------------------------------------------

/** The common reactions offered by the picker, with the words a screen reader says for each. */
export const REACTIONS = [
  ["👍", "thumbs up"],
  ["❤️", "heart"],
  ["😂", "laughing"],
  ["🎉", "party"],
  ["😮", "surprised"],
  ["😢", "sad"],
  ["👀", "eyes"],
  ["✅", "check mark"],
];

const ICONS = {
  react:
    '<svg viewBox="0 0 24 24" width="17" height="17" aria-hidden="true"><circle cx="11" cy="12" r="8" fill="none" stroke="currentColor" stroke-width="1.8"/><circle cx="8.3" cy="10" r="1.2" fill="currentColor"/><circle cx="13.7" cy="10" r="1.2" fill="currentColor"/><path d="M7.8 14a3.6 3.6 0 0 0 6.4 0" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/><path d="M20 3v5M17.5 5.5h5" stroke="currentColor" stroke-width="1.8" stroke-linecap="round"/></svg>',
  reply:
    '<svg viewBox="0 0 24 24" width="17" height="17" aria-hidden="true"><path d="M10 6 4 12l6 6M4.5 12H14a6 6 0 0 1 6 6v1" fill="none" stroke="currentColor" stroke-width="1.9" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  edit:
    '<svg viewBox="0 0 24 24" width="17" height="17" aria-hidden="true"><path d="M4 20h4L19 9l-4-4L4 16v4z" fill="none" stroke="currentColor" stroke-width="1.9" stroke-linejoin="round"/></svg>',
  more: '<svg viewBox="0 0 24 24" width="17" height="17" aria-hidden="true"><circle cx="5.5" cy="12" r="1.8" fill="currentColor"/><circle cx="12" cy="12" r="1.8" fill="currentColor"/><circle cx="18.5" cy="12" r="1.8" fill="currentColor"/></svg>',
};

function actionButton(action, label, tabbable = false) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = `msg-action msg-action-${action}`;
  b.dataset.action = action;
  b.setAttribute("aria-label", label);
  b.title = label;
  b.innerHTML = ICONS[action]; // static markup, no user data
  // One stop per message for the keyboard ("More actions" has every action); the others are shortcuts.
  if (!tabbable) b.tabIndex = -1;
  return b;
}

/** The toolbar shown on hover or focus (a "⋯" button only, always visible, at phone width). */
function actionsElement(mine) {
  const bar = document.createElement("div");
  bar.className = "msg-actions";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Message actions");
  bar.append(actionButton("react", "Add reaction"), actionButton("reply", "Reply"));
  if (mine) bar.append(actionButton("edit", "Edit"));
  const more = actionButton("more", "More actions", true);
  more.setAttribute("aria-haspopup", "menu");
  more.setAttribute("aria-expanded", "false");
  bar.append(more);
  return bar;
}

/** The first line of a message, shortened, for a quote. */
export function firstLine(text, max = 120) {
  const line = String(text || "").split("\n").find((l) => l.trim()) || "";
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}

/**
 * Show a message's text as it is now: a tombstone once deleted, otherwise the formatted text with
 * "(edited)". `st` is {text, edited, deleted, mentions}; `me` is the signed-in user.
 */
export function renderText(el, st, me = "") {
  const box = el.querySelector(".msg-text");
  el.classList.toggle("deleted", !!st.deleted);
  if (st.deleted) {
    const file = el.querySelector(".att");
    if (file) file.remove();
    const tomb = document.createElement("span");
    tomb.className = "msg-tombstone";
    tomb.textContent = "This message was deleted";
    box.replaceChildren(tomb);
    return;
  }
  box.replaceChildren();
  appendFormatted(box, st.text, { mentions: st.mentions, me });
  if (st.edited) {
    const mark = document.createElement("span");
    mark.className = "msg-edited";
    mark.title = "This message was edited";
    mark.textContent = "(edited)";
    box.append(" ", mark);
  }
}

/** The reaction chips under a message: emoji and count, yours highlighted, who reacted in the title. */
export function renderReactions(el, reactions, me) {
  const box = el.querySelector(".msg-reactions");
  const chips = [];
  for (const [emoji, users] of reactions) {
    if (!users.length) continue;
    const mine = users.includes(me);
    const b = document.createElement("button");
    b.type = "button";
    b.className = mine ? "reaction mine" : "reaction";
    b.dataset.emoji = emoji;
    b.setAttribute("aria-pressed", String(mine));
    const names = users.map((u) => (u === me ? "you" : u)).join(", ");
    b.title = `${names} reacted with ${emoji}`;
    b.setAttribute("aria-label", `${emoji} ${users.length}: ${names}. ${mine ? "Remove your reaction" : "React too"}`);
    const e = document.createElement("span");
    e.className = "reaction-emoji";
    e.textContent = emoji;
    const n = document.createElement("span");
    n.className = "reaction-count";
    n.textContent = String(users.length);
    b.append(e, n);
    chips.push(b);
  }
  const focused = box.contains(document.activeElement) ? document.activeElement.dataset.emoji : null;
  box.replaceChildren(...chips);
  box.hidden = chips.length === 0;
  if (focused) {
    const again = chips.find((c) => c.dataset.emoji === focused);
    if (again) again.focus();
  }
}

/**
 * Fill a reply's quote of its original: `info` is {from, text, deleted} when known, {missing: true} when the
 * original cannot be found, null while it is being looked up.
 */
export function renderQuote(quote, info) {
  const author = document.createElement("span");
  author.className = "quote-author";
  const text = document.createElement("span");
  text.className = "quote-text";
  quote.classList.toggle("quote-gone", !!(info && (info.deleted || info.missing)));
  if (!info) {
    text.textContent = "Loading the original message…";
    quote.replaceChildren(text);
    quote.setAttribute("aria-label", "Reply to a message: show the original");
    return;
  }
  if (info.missing) {
    text.textContent = "original message not available";
    quote.replaceChildren(text);
    quote.setAttribute("aria-label", "Reply to a message that is not available");
    return;
  }
  author.dataset.nameFor = info.from; // the display name, when the person has one
  paintName(author);
  author.style.setProperty("--hue", hueOf(info.from));
  text.textContent = info.deleted ? "deleted message" : firstLine(info.text);
  quote.replaceChildren(author, " ", text);
  quote.setAttribute(
    "aria-label",
    `Reply to ${info.from}: ${info.deleted ? "deleted message" : firstLine(info.text)}. Show the original`,
  );
}

function timeElement(ts) {
  const t = document.createElement("time");
  const d = new Date(ts);
  t.dateTime = d.toISOString();
  t.title = fullFmt.format(d);
  t.textContent = timeFmt.format(d);
  return t;
}

function setTimes(el, ts) {
  el.dataset.ts = String(ts);
  const d = new Date(ts);
  for (const t of el.querySelectorAll("time")) {
    t.dateTime = d.toISOString();
    t.title = fullFmt.format(d);
    t.textContent = timeFmt.format(d);
  }
}

/** Show an own message as waiting ("Sending…", "Waiting for connection…"). */
export function setPending(el, label) {
  el.classList.add("pending");
  el.classList.remove("failed");
  el.setAttribute("aria-busy", "true");
  const state = el.querySelector(".msg-state");
  state.replaceChildren(label);
}

/** Show an own message the server refused for good, with Retry / Discard buttons. */
export function setFailed(el, reason, { onRetry, onDiscard }) {
  el.classList.remove("pending");
  el.classList.add("failed");
  el.removeAttribute("aria-busy");
  const state = el.querySelector(".msg-state");
  const retry = document.createElement("button");
  retry.type = "button";
  retry.className = "link-button";
  retry.textContent = "Retry";
  retry.addEventListener("click", onRetry);
  const discard = document.createElement("button");
  discard.type = "button";
  discard.className = "link-button";
  discard.textContent = "Discard";
  discard.addEventListener("click", onDiscard);
  state.replaceChildren(`Not sent: ${reason} `, retry, " · ", discard);
}

/** Mark an element as a stored message with its seq and server timestamp. */
export function setConfirmed(el, msg) {
  if (msg.file && typeof msg.file === "object" && !msg.deleted && !el.querySelector(".att")) {
    el.querySelector(".msg-reactions").before(attachmentElement(msg.file)); // an upload of ours, now stored
  }
  el.classList.remove("pending", "failed", "uploading");
  el.removeAttribute("aria-busy");
  el.dataset.seq = String(msg.seq);
  if (typeof msg.ts === "number") setTimes(el, msg.ts);
  el.querySelector(".msg-state").replaceChildren();
}

// ---- system lines: membership and topic events -----------------------------------------------------

const ROLE_TEXT = { owner: "an owner", moderator: "a moderator", member: "a member" };

/**
 * What a `member` or `topic` event says, as parts: strings, and {user} for names (shown in bold).
 * Null for an event this page does not know how to say.
 */
export function describeEvent(ev) {
  const by = typeof ev.from === "string" ? ev.from : "";
  const who = typeof ev.user === "string" ? ev.user : "";
  const reason = typeof ev.reason === "string" && ev.reason ? `: ${ev.reason}` : "";
  const u = (name) => ({ user: name });
  if (ev.type === "topic") {
    const topic = typeof ev.topic === "string" ? ev.topic : "";
    return topic ? [u(by), ` set the topic to “${topic}”`] : [u(by), " cleared the topic"];
  }
  if (ev.type === "call") return describeCall(ev);
  if (ev.type !== "member") return null;
  switch (ev.action) {
    case "created":
      return [u(who || by), " created the room"];
    case "joined":
      return [u(who || by), " joined"];
    case "left":
      return [u(who || by), " left"];
    case "invited":
      return [u(by), " invited ", u(who)];
    case "kicked":
      return [u(by), " kicked ", u(who), reason];
    case "banned":
      return [u(by), " banned ", u(who), reason];
    case "unbanned":
      return [u(by), " unbanned ", u(who)];
    case "muted":
      return [u(by), " muted ", u(who), reason];
    case "unmuted":
      return [u(by), " unmuted ", u(who)];
    case "role":
      return [u(by), " made ", u(who), ` ${ROLE_TEXT[ev.role] || ev.role || "a member"}`];
    default:
      return who ? [u(who), ` ${String(ev.action || "changed")}`] : null;
  }
}

/** "2:13" or "1:02:03" for a call's duration in ms. */
export function callDuration(ms) {
  const s = Math.max(0, Math.round((Number(ms) || 0) / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** What a `call` event says: "alice started a video call", "Missed call", "Call ended · 2:13". */
function describeCall(ev) {
  const by = { user: typeof ev.from === "string" ? ev.from : "" };
  switch (ev.action) {
    case "started":
      return [by, ` started a ${ev.media === "video" ? "video" : "voice"} call`];
    case "joined":
      return [by, " joined the call"];
    case "left":
      return [by, " left the call"];
    case "declined":
      return [by, " declined the call"];
    case "ended":
      return [typeof ev.duration_ms === "number" ? `Call ended · ${callDuration(ev.duration_ms)}` : "Call ended"];
    case "missed":
      return ["Missed call"];
    default:
      return null;
  }
}

/**
 * Hooks for call lines (set by the page's call module): `seen(ev)` learns of each `call` event shown, and
 * `join(room, callId, media)` joins a call from the "Join" button on the line that started it.
 */
export const callLog = { seen: null, join: null };

const SYS_ICON = {
  created: "✦",
  joined: "→",
  left: "←",
  invited: "✉",
  kicked: "⨯",
  banned: "⊘",
  unbanned: "↺",
  muted: "⊖",
  unmuted: "⊕",
  role: "★",
  topic: "✎",
  call: "☎",
  missed: "☎",
};

/** The element for a system line (a `member` or `topic` event), or null if there is nothing to say. */
export function systemElement(ev) {
  const parts = describeEvent(ev);
  if (!parts) return null;
  const el = document.createElement("div");
  el.className = "sys";
  el.dataset.seq = String(ev.seq);
  el.dataset.ts = String(ev.ts);
  el.dataset.kind = ev.type === "topic" ? "topic" : String(ev.action || "");
  if (ev.type === "call") {
    el.dataset.kind = ev.action === "missed" ? "missed" : "call";
    el.dataset.callAction = String(ev.action || "");
    el.classList.add("sys-call");
  }
  const icon = document.createElement("span");
  icon.className = "sys-icon";
  icon.setAttribute("aria-hidden", "true");
  icon.textContent = SYS_ICON[el.dataset.kind] || "•";
  const text = document.createElement("span");
  text.className = "sys-text";
  for (const part of parts) {
    if (typeof part === "string") text.append(part);
    else if (part && part.user) {
      const name = document.createElement("strong");
      name.className = "sys-user";
      name.textContent = part.user;
      text.append(name);
    }
  }
  el.append(icon, text, " ", timeElement(ev.ts));
  if (ev.type === "call" && typeof ev.call_id === "string") {
    el.dataset.callId = ev.call_id;
    if (ev.action === "started") {
      const join = document.createElement("button");
      join.type = "button";
      join.className = "button primary small call-join";
      join.textContent = "Join";
      join.setAttribute("aria-label", `Join the ${ev.media === "video" ? "video" : "voice"} call`);
      join.dataset.callId = ev.call_id;
      join.hidden = true;
      join.addEventListener("click", () => callLog.join?.(ev.room, ev.call_id, ev.media === "video" ? "video" : "voice"));
      el.append(" ", join);
    }
    queueMicrotask(() => callLog.seen?.(ev));
  }
  return el;
}
