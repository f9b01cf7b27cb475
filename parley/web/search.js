// search.js — The message search dialog (GET /api/search): words to find, searched as you type, in every
// room you are in or only the open one, from anyone or one author. Hits show room, author, time and the
// text with the matched words marked; "More results" pages on. Choosing a hit opens its room there.

import * as api from "./api.js";
import { UserPicker } from "./combobox.js";
import { appendHighlighted, searchWords } from "./format.js";
import { paintName } from "./profiles.js";
import { avatar, hueOf } from "./render.js";

const { describeError, USER_RE } = api;
const PAGE = 20;
const TYPING_PAUSE_MS = 250; // search once typing pauses this long

const $ = (id) => document.getElementById(id);
const whenFmt = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });

export class Search {
  constructor(chat) {
    this.chat = chat;
    this.dialog = $("search-dialog");
    this.input = $("search-input");
    this.here = $("search-here");
    this.from = $("search-from");
    this.list = $("search-results");
    this.more = $("search-more");
    this.status = $("search-status");
    this.error = $("search-error");
    this.asked = 0; // answers to an older question are dropped
    this.timer = null;
    this.query = null; // {q, room, from, words}: what the results shown answer
    this.next = null;

    this.picker = new UserPicker(this.from, $("search-from-options"), {
      search: (prefix) => api.findUsers(chat.token, prefix),
      exclude: () => new Set(),
      onPick: (name) => {
        this.from.value = name;
        this.run();
      },
    });
    $("search-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.run();
    });
    this.input.addEventListener("input", () => this.schedule());
    this.from.addEventListener("input", () => this.schedule());
    this.here.addEventListener("change", () => this.run());
    this.more.addEventListener("click", () => this.load(this.next));
  }

  /** Open the dialog; "This room only" names the open room (and is offered only with one open). */
  open() {
    const room = this.chat.rooms.get(this.chat.active);
    $("search-here-row").hidden = !room;
    $("search-here-label").textContent = room ? `Only in ${room.title}` : "";
    if (!room) this.here.checked = false;
    this.chat.dialogs.show(this.dialog);
    this.input.focus();
    this.input.select();
    if (this.input.value.trim()) this.run();
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), TYPING_PAUSE_MS);
  }

  /** Search again from the first page with what the form says now. */
  run() {
    clearTimeout(this.timer);
    const q = this.input.value.trim();
    const from = this.from.value.trim();
    const words = searchWords(q);
    this.error.textContent = "";
    if (!words.length || (from && !USER_RE.test(from))) {
      this.asked += 1;
      this.query = null;
      this.list.replaceChildren();
      this.more.hidden = true;
      this.status.textContent = from && !USER_RE.test(from) ? "Give the author's user name." : "";
      return;
    }
    const room = this.here.checked ? this.chat.active : null;
    this.query = { q, room, from: from || null, words };
    this.list.replaceChildren();
    this.load(0);
  }

  async load(offset) {
    const query = this.query;
    if (!query) return;
    const asked = ++this.asked;
    this.more.hidden = true;
    this.status.textContent = "Searching…";
    let page;
    try {
      page = await api.search(this.chat.token, { ...query, limit: PAGE, offset });
    } catch (err) {
      if (asked !== this.asked || this.chat.restFailed(err)) return;
      this.status.textContent = "";
      this.error.textContent = describeError(err, "Couldn't search");
      return;
    }
    if (asked !== this.asked) return;
    this.list.append(...page.results.map((m) => this.hitElement(m, query.words)));
    this.next = page.next;
    this.more.hidden = page.next === null;
    const shown = this.list.children.length;
    if (!shown) this.status.textContent = `No messages match “${query.q}”.`;
    else this.status.textContent = `${shown}${page.next === null ? "" : "+"} message${shown === 1 ? "" : "s"} found`;
  }

  /** One hit: a button with the room, author and time, and the text with the matched words marked. */
  hitElement(m, words) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.className = "search-hit";
    const head = document.createElement("span");
    head.className = "hit-head";
    const room = document.createElement("span");
    room.className = "hit-room";
    const known = this.chat.rooms.get(m.room);
    room.textContent = known ? known.title : `#${m.room}`;
    const author = document.createElement("span");
    author.className = "hit-author";
    author.style.setProperty("--hue", hueOf(String(m.from)));
    author.dataset.nameFor = String(m.from); // the display name, when the person has one
    paintName(author);
    const when = document.createElement("time");
    const d = new Date(m.ts);
    when.dateTime = d.toISOString();
    when.textContent = whenFmt.format(d);
    head.append(avatar(String(m.from), "avatar-small"), author, room, when);
    const text = document.createElement("span");
    text.className = "hit-text";
    text.dir = "auto";
    appendHighlighted(text, String(m.text ?? ""), words);
    b.append(head, text);
    b.addEventListener("click", () => {
      // Once the dialog has closed (and given the focus back), the message takes it.
      this.dialog.addEventListener("close", () => this.chat.showInContext(m.room, m.seq), { once: true });
      this.dialog.close();
    });
    li.append(b);
    return li;
  }
}
