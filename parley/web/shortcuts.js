// shortcuts.js — The chat screen's keyboard: Ctrl+K (⌘K) opens the quick switcher (switcher.js), Alt+↑ and
// Alt+↓ open the previous and next conversation in the sidebar's order, `?` outside a text field lists the
// shortcuts (#shortcuts-dialog). ↑ in an empty composer edits your last message (chat.js, where the
// composer's keys are). It also decides where the focus goes once the chat screen is up (focusHome).

import { Switcher } from "./switcher.js";

const $ = (id) => document.getElementById(id);
const MAC = /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent);

/** [keys, what they do]: the list behind `?`. */
export const SHORTCUTS = [
  [[MAC ? "⌘K" : "Ctrl+K"], "Jump to a room or direct message"],
  [["Alt+↑", "Alt+↓"], "Previous / next conversation in the sidebar"],
  [["↑"], "Edit your last message (in an empty message box)"],
  [["Enter"], "Send the message"],
  [["Shift+Enter"], "New line"],
  [["Esc"], "Close a dialog or menu, cancel an edit or a reply"],
  [["?"], "Show this list"],
];

/** True when keys typed at `el` are text (fields, text areas, editable content). */
function isTyping(el) {
  if (!el || !(el instanceof HTMLElement)) return false;
  if (el.isContentEditable) return true;
  if (el instanceof HTMLTextAreaElement || el instanceof HTMLSelectElement) return true;
  if (!(el instanceof HTMLInputElement)) return false;
  return !["button", "checkbox", "radio", "submit", "reset", "range", "color", "file"].includes(el.type);
}

export class Shortcuts {
  constructor(chat) {
    this.chat = chat;
    this.switcher = new Switcher(chat);
  }

  bind() {
    this.renderList();
    window.addEventListener("keydown", (ev) => this.key(ev));
  }

  key(ev) {
    if (ev.defaultPrevented || ev.isComposing || $("chat-view").hidden) return;
    const mod = MAC ? ev.metaKey && !ev.ctrlKey : ev.ctrlKey && !ev.metaKey;
    const dialogOpen = document.querySelector("dialog[open]");
    if (mod && !ev.altKey && !ev.shiftKey && ev.key.toLowerCase() === "k") {
      ev.preventDefault(); // the browser's own Ctrl+K (search the web) is not what a chat user means here
      if (this.switcher.isOpen) this.switcher.close();
      else if (!dialogOpen) this.switcher.open();
      return;
    }
    if (dialogOpen) return;
    if (ev.altKey && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && (ev.key === "ArrowUp" || ev.key === "ArrowDown")) {
      ev.preventDefault();
      this.step(ev.key === "ArrowUp" ? -1 : 1);
      return;
    }
    if (ev.key === "?" && !ev.ctrlKey && !ev.metaKey && !ev.altKey && !isTyping(ev.target)) {
      ev.preventDefault();
      this.chat.dialogs.show($("shortcuts-dialog"));
    }
  }

  /** Open the conversation `delta` places away in the sidebar (no wrapping at either end). */
  step(delta) {
    const rooms = this.chat.sortedRooms();
    if (!rooms.length) return;
    const at = rooms.findIndex((r) => r.name === this.chat.active);
    const next = at < 0 ? (delta > 0 ? 0 : rooms.length - 1) : at + delta;
    if (next < 0 || next >= rooms.length || next === at) return;
    const keepSidebarFocus = $("room-list").contains(document.activeElement) || $("dm-list").contains(document.activeElement);
    this.chat.select(rooms[next].name);
    if (keepSidebarFocus) {
      const current = document.querySelector(".room-item[aria-current='true']");
      if (current) current.focus();
    }
  }

  renderList() {
    const list = $("shortcuts-list");
    list.replaceChildren(
      ...SHORTCUTS.flatMap(([keys, what]) => {
        const dt = document.createElement("dt");
        keys.forEach((k, i) => {
          if (i) dt.append(" ");
          const kbd = document.createElement("kbd");
          kbd.textContent = k;
          dt.append(kbd);
        });
        const dd = document.createElement("dd");
        dd.textContent = what;
        return [dt, dd];
      }),
    );
  }

  /**
   * After signing in (or when the first room opens by itself), the focus goes where a keyboard user starts:
   * the composer when a room is open, else the first room in the sidebar, else the "join a room" field. It
   * is moved only from nowhere (the page itself) or the still empty join field, and not on touch screens,
   * where focusing the composer would pop the keyboard up over the conversation.
   */
  focusHome() {
    if (!matchMedia("(pointer: fine)").matches) return;
    const now = document.activeElement;
    const join = $("join-room");
    const idle = !now || now === document.body || now === document.documentElement || (now === join && !join.value);
    if (!idle || document.querySelector("dialog[open]")) return;
    const box = $("message");
    if (this.chat.active && !$("composer").hidden && !box.disabled) {
      box.focus();
      return;
    }
    const first = document.querySelector("#room-list .room-item, #dm-list .room-item");
    const target = first && first.getClientRects().length ? first : join;
    if (target !== now) target.focus();
  }
}
