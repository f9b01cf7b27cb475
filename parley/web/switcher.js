// switcher.js — The quick switcher (Ctrl+K, ⌘K on a Mac): a dialog with a filter over your rooms and
// direct messages, in the sidebar's order. The filter matches a substring of the name first, then its
// letters in order ("chr" finds "charlie"); ↑ and ↓ choose, Enter opens, Escape closes (the native
// <dialog>, which also gives the focus back). Its markup is in index.html (#switcher-dialog), so Dialogs
// (dialogs.js) handles it like the others: backdrop click, focus restored.

const $ = (id) => document.getElementById(id);

/**
 * How well `query` matches `label` (both lower case): lower is better, null for no match. A substring
 * ranks by where it starts; letters in order rank after every substring, by how spread out they are.
 */
export function matchScore(query, label) {
  if (!query) return 0;
  const at = label.indexOf(query);
  if (at >= 0) return at;
  let pos = -1;
  let first = -1;
  for (const ch of query) {
    pos = label.indexOf(ch, pos + 1);
    if (pos < 0) return null;
    if (first < 0) first = pos;
  }
  return 1000 + (pos - first);
}

export class Switcher {
  constructor(chat) {
    this.chat = chat;
    this.dialog = $("switcher-dialog");
    this.input = $("switcher-filter");
    this.list = $("switcher-list");
    this.shown = []; // [{name, label}] in the list's order
    this.selected = 0;
    this.input.addEventListener("input", () => {
      this.selected = 0;
      this.render();
    });
    this.input.addEventListener("keydown", (ev) => this.key(ev));
    this.list.addEventListener("click", (ev) => {
      const li = ev.target.closest("[role=option]");
      if (li) this.pick(li.dataset.name);
    });
  }

  get isOpen() {
    return this.dialog.open;
  }

  open() {
    if (this.dialog.open) return;
    this.input.value = "";
    this.selected = 0;
    this.render();
    this.chat.dialogs.show(this.dialog);
    this.input.focus();
  }

  close() {
    if (this.dialog.open) this.dialog.close();
  }

  /** Your conversations matching the filter, best first, else in the sidebar's order. */
  matches() {
    const query = this.input.value.trim().replace(/^#/, "").toLowerCase();
    const found = [];
    this.chat.sortedRooms().forEach((room, order) => {
      const label = room.isDm ? room.title : `#${room.name}`;
      const score = matchScore(query, (room.isDm ? room.title : room.name).toLowerCase());
      if (score !== null) found.push({ name: room.name, label, dm: room.isDm, unread: room.unread, score, order });
    });
    return found.sort((a, b) => a.score - b.score || a.order - b.order);
  }

  render() {
    this.shown = this.matches();
    this.selected = Math.min(this.selected, Math.max(0, this.shown.length - 1));
    this.list.replaceChildren(
      ...this.shown.map((entry, i) => {
        const li = document.createElement("li");
        li.id = `switcher-option-${i}`;
        li.className = "switcher-option";
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", String(i === this.selected));
        li.dataset.name = entry.name;
        const label = document.createElement("span");
        label.className = "switcher-label";
        label.textContent = entry.label;
        li.append(label);
        if (entry.dm) {
          const kind = document.createElement("span");
          kind.className = "switcher-kind";
          kind.textContent = "Direct message";
          li.append(kind);
        }
        if (entry.unread > 0) {
          const badge = document.createElement("span");
          badge.className = "switcher-unread";
          badge.textContent = `${entry.unread} unread`;
          li.append(badge);
        }
        return li;
      }),
    );
    $("switcher-empty").hidden = this.shown.length > 0;
    if (this.shown.length) {
      this.input.setAttribute("aria-activedescendant", `switcher-option-${this.selected}`);
      this.list.children[this.selected].scrollIntoView({ block: "nearest" });
    } else {
      this.input.removeAttribute("aria-activedescendant");
    }
  }

  key(ev) {
    const n = this.shown.length;
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
      ev.preventDefault();
      if (!n) return;
      this.selected = (this.selected + (ev.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.render();
    } else if (ev.key === "Enter" && !ev.isComposing) {
      ev.preventDefault();
      if (n) this.pick(this.shown[this.selected].name);
    }
  }

  /** Open `name` and put the focus in its composer. */
  pick(name) {
    this.close();
    if (!this.chat.rooms.has(name)) return;
    this.chat.select(name);
    const box = $("message");
    if (!box.disabled && !$("composer").hidden) box.focus();
  }
}
