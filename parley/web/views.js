// views.js — The small, stateless-looking pieces of the chat screen: the room list in the sidebar
// (updated in place, so keyboard focus survives new messages), the online list, the typing line,
// room suggestions and the connection badge text.

import { avatar } from "./render.js";

export const STATE_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
};

/** The sidebar's list of joined rooms with unread badges. */
export class RoomList {
  constructor(ul, onSelect) {
    this.ul = ul;
    this.onSelect = onSelect;
    this.items = new Map(); // name -> {li, button, badge}
  }

  /** rooms: [{name, unread, unreadMore}] in display order. */
  render(rooms, active) {
    const keep = new Set(rooms.map((r) => r.name));
    for (const [name, item] of this.items) {
      if (!keep.has(name)) {
        item.li.remove();
        this.items.delete(name);
      }
    }
    rooms.forEach((room, index) => {
      const item = this.items.get(room.name) || this._create(room.name);
      if (this.ul.children[index] !== item.li) this.ul.insertBefore(item.li, this.ul.children[index] || null);
      if (room.name === active) item.button.setAttribute("aria-current", "true");
      else item.button.removeAttribute("aria-current");
      const unread = room.unread > 0;
      item.button.classList.toggle("has-unread", unread);
      item.badge.hidden = !unread;
      const more = room.unreadMore || room.unread > 99 ? "+" : "";
      item.count.textContent = unread ? `${Math.min(room.unread, 99)}${more}` : "";
    });
  }

  _create(name) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "room-item";
    const hash = document.createElement("span");
    hash.className = "room-hash";
    hash.setAttribute("aria-hidden", "true");
    hash.textContent = "#";
    const label = document.createElement("span");
    label.className = "room-item-name";
    label.textContent = name;
    const badge = document.createElement("span");
    badge.className = "badge";
    const count = document.createElement("span");
    const sr = document.createElement("span");
    sr.className = "visually-hidden";
    sr.textContent = " unread";
    badge.append(count, sr);
    button.append(hash, label, badge);
    button.addEventListener("click", () => this.onSelect(name));
    li.append(button);
    const item = { li, button, badge, count };
    this.items.set(name, item);
    return item;
  }
}

/** List items for the people online in a room, the signed-in user marked "(you)". */
export function memberItems(online, me) {
  return online.map((user) => {
    const li = document.createElement("li");
    li.className = "member";
    const name = document.createElement("span");
    name.className = "member-name";
    name.textContent = user;
    li.append(avatar(user), name);
    if (user === me) {
      const you = document.createElement("span");
      you.className = "muted";
      you.textContent = " (you)";
      li.append(you);
    }
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

/** Buttons for rooms on the server the user has not joined (shown when no room is open). */
export function roomChips(rooms, onJoin) {
  return rooms.map((r) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.textContent = `#${r.name}`;
    b.addEventListener("click", () => onJoin(r.name));
    return b;
  });
}
