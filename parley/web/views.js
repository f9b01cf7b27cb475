// views.js — The small, stateless-looking pieces of the chat screen: the sidebar's lists of rooms,
// direct messages and invitations (updated in place, so keyboard focus survives new messages), the
// online list, the typing line, room suggestions and the connection badge text.

import { avatar, personName } from "./render.js";

export const STATE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/**
 * The connection badge: its text ("Connected", "Connected · polling" when the page long-polls because
 * WebSocket does not get through) and its tooltip (when the next attempt is, or why it polls).
 */
export function connectionText(state, { retryAt = null, transport = "ws", forced = false } = {}) {
  const polling = transport === "poll";
  const text = state === "connected" && polling ? "Connected · polling" : STATE_TEXT[state] || state;
  let title = "";
  if (retryAt) title = `Next attempt at ${new Date(retryAt).toLocaleTimeString()}`;
  else if (polling && state === "connected") {
    title = forced
      ? "Long-polling, as the page's address asks (?transport=poll)."
      : "WebSocket does not get through on this network: messages arrive by long-polling. Parley moves back to WebSocket by itself when it can.";
  }
  return { text, title };
}

export const ROLE_LABEL = { owner: "Owner", moderator: "Moderator" };

const LOCK_SVG =
  '<svg viewBox="0 0 24 24" width="13" height="13" aria-hidden="true"><rect x="5" y="10.5" width="14" height="10" rx="2" fill="currentColor"/><path d="M8 10.5V8a4 4 0 0 1 8 0v2.5" fill="none" stroke="currentColor" stroke-width="2.2"/></svg>';

/**
 * The icon before a room's name: "#" for a public room, a lock for a private one, an avatar for a DM (the
 * other person's, `user`, when it is a DM of two).
 */
function roomIcon(kind, label, user = null) {
  if (kind === "dm") return avatar(user || label || "?", "avatar-small");
  const icon = document.createElement("span");
  icon.className = "room-hash";
  icon.setAttribute("aria-hidden", "true");
  if (kind === "private") icon.innerHTML = LOCK_SVG; // static markup, no user data
  else icon.textContent = "#";
  return icon;
}

/** A sidebar list of rooms (or direct messages) with unread and mention badges. */
export class RoomList {
  constructor(ul, onSelect) {
    this.ul = ul;
    this.onSelect = onSelect;
    this.items = new Map(); // name -> {li, button, badge, count, mention, mentionCount, mentionWord, key}
  }

  /** rooms: [{name, label, kind: "public"|"private"|"dm", unread, unreadMore, mentions}] in display order. */
  render(rooms, active) {
    const keep = new Set(rooms.map((r) => r.name));
    for (const [name, item] of this.items) {
      if (!keep.has(name)) {
        item.li.remove();
        this.items.delete(name);
      }
    }
    rooms.forEach((room, index) => {
      const key = `${room.kind}\u0000${room.label}\u0000${room.user || ""}`;
      let item = this.items.get(room.name);
      if (item && item.key !== key) {
        // Label or kind changed (a DM's names arrived, a room turned private): rebuild in place.
        const fresh = this._create(room);
        const hadFocus = item.button === document.activeElement;
        item.li.replaceWith(fresh.li);
        item = fresh;
        if (hadFocus) item.button.focus();
      }
      if (!item) item = this._create(room);
      this.items.set(room.name, item);
      if (this.ul.children[index] !== item.li) this.ul.insertBefore(item.li, this.ul.children[index] || null);
      if (room.name === active) item.button.setAttribute("aria-current", "true");
      else item.button.removeAttribute("aria-current");
      const unread = room.unread > 0;
      item.button.classList.toggle("has-unread", unread);
      item.badge.hidden = !unread;
      const more = room.unreadMore || room.unread > 99 ? "+" : "";
      item.count.textContent = unread ? `${Math.min(room.unread, 99)}${more}` : "";
      const mentions = room.mentions || 0;
      item.mention.hidden = mentions === 0;
      item.mentionCount.textContent = mentions ? String(Math.min(mentions, 99)) + (mentions > 99 ? "+" : "") : "";
      item.mentionWord.textContent = mentions === 1 ? " mention" : " mentions";
    });
  }

  _create(room) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "room-item";
    button.dataset.room = room.name;
    const label = document.createElement("span");
    label.className = "room-item-name";
    label.textContent = room.label;
    label.title = room.label;
    const parts = [roomIcon(room.kind, room.label, room.user), label];
    if (room.kind === "private") {
      const sr = document.createElement("span");
      sr.className = "visually-hidden";
      sr.textContent = " (private)";
      parts.push(sr);
    }
    const badge = document.createElement("span");
    badge.className = "badge";
    const count = document.createElement("span");
    const sr = document.createElement("span");
    sr.className = "visually-hidden";
    sr.textContent = " unread";
    badge.append(count, sr);
    // Mentions of you (or @room) among the unread: a badge of their own, before the unread count.
    const mention = document.createElement("span");
    mention.className = "badge mention-badge";
    const at = document.createElement("span");
    at.setAttribute("aria-hidden", "true");
    at.textContent = "@";
    const mentionCount = document.createElement("span");
    const mentionWord = document.createElement("span");
    mentionWord.className = "visually-hidden";
    mention.append(at, mentionCount, mentionWord);
    button.append(...parts, mention, badge);
    button.addEventListener("click", () => this.onSelect(room.name));
    li.append(button);
    const key = `${room.kind}\u0000${room.label}\u0000${room.user || ""}`;
    return { li, button, badge, count, mention, mentionCount, mentionWord, key };
  }
}

/** The sidebar's invitations: each with Accept and Decline. */
export function inviteItems(invites, { onAccept, onDecline, busy }) {
  return invites.map((inv) => {
    const li = document.createElement("li");
    li.className = "invite-item";
    const head = document.createElement("div");
    head.className = "invite-head";
    const label = document.createElement("span");
    label.className = "room-item-name";
    label.textContent = inv.label;
    head.append(roomIcon(inv.kind, inv.label), label);
    const note = document.createElement("span");
    note.className = "invite-note";
    note.textContent = inv.kind === "private" ? "Private room" : "Room";
    if (inv.topic) note.textContent += ` · ${inv.topic}`;
    const actions = document.createElement("div");
    actions.className = "invite-actions";
    const accept = document.createElement("button");
    accept.type = "button";
    accept.className = "button primary small";
    accept.textContent = "Accept";
    accept.setAttribute("aria-label", `Accept invitation to ${inv.label}`);
    accept.addEventListener("click", () => onAccept(inv.name));
    const decline = document.createElement("button");
    decline.type = "button";
    decline.className = "button ghost small";
    decline.textContent = "Decline";
    decline.setAttribute("aria-label", `Decline invitation to ${inv.label}`);
    decline.addEventListener("click", () => onDecline(inv.name));
    accept.disabled = decline.disabled = busy.has(inv.name);
    actions.append(accept, decline);
    li.append(head, note, actions);
    return li;
  });
}

/** A small "Owner" / "Moderator" / "Muted" tag. */
export function roleTag(text, kind = "") {
  const tag = document.createElement("span");
  tag.className = `tag ${kind}`.trim();
  tag.textContent = text;
  return tag;
}

/**
 * List items for the people online in a room, the signed-in user marked "(you)", with their role when
 * the member list is known (`roles`: user -> {role, muted}).
 */
export function memberItems(online, me, roles = null) {
  return online.map((user) => {
    const li = document.createElement("li");
    li.className = "member";
    const name = document.createElement("span");
    name.className = "member-name";
    name.dataset.profileOpen = user;
    personName(name, user); // the display name; layout: a long name is ellipsized, the tooltip has it whole
    li.append(avatar(user, "", { open: true }), name);
    if (user === me) {
      const you = document.createElement("span");
      you.className = "muted";
      you.textContent = " (you)";
      li.append(you);
    }
    const info = roles && roles.get(user);
    if (info && ROLE_LABEL[info.role]) li.append(roleTag(ROLE_LABEL[info.role], info.role));
    if (info && info.muted) li.append(roleTag("Muted", "muted-tag"));
    const dot = document.createElement("span");
    dot.className = "presence-dot";
    dot.setAttribute("aria-hidden", "true");
    li.append(dot);
    return li;
  });
}

/** "alice is typing…", "alice and bob are typing…", "Several people are typing…", or "". */
export function typingText(names) {
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  if (names.length > 2) return "Several people are typing…";
  return "";
}

/** Buttons for public rooms the user has not joined (shown when no room is open). */
export function roomChips(rooms, onJoin) {
  return rooms.map((r) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.textContent = `#${r.name}`;
    if (r.topic) b.title = r.topic;
    b.addEventListener("click", () => onJoin(r.name));
    return b;
  });
}
