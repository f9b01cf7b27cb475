// dialogs.js — The chat screen's modal dialogs (native <dialog>: focus stays inside, Escape closes,
// the focus goes back where it was): create a room, browse the directory of public rooms, start a
// direct message, set the topic, confirm an action (with an optional reason), account settings (with your
// display name and avatar); and the
// "You left #room. Undo" notice after leaving a public room.

import * as api from "./api.js";
import { UserPicker } from "./combobox.js";
import { profiles } from "./profiles.js";
import { avatar } from "./render.js";

const { describeError, ROOM_RE, USER_RE } = api;
const MIN_PASSWORD = 8;
const MAX_DISPLAY_NAME = 64; // characters, as the server counts them
const MAX_AVATAR = 5 * 1024 * 1024;
const MAX_DM_USERS = 9;
const DIRECTORY_PAGE = 200;
const UNDO_MS = 8000; // how long "Undo" stays after leaving a public room

const $ = (id) => document.getElementById(id);

/** Put `text` in a status or error line, hidden while empty (so an empty one is not announced or found). */
function say(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

function busy(form, on) {
  for (const b of form.querySelectorAll("button")) b.disabled = on;
  form.setAttribute("aria-busy", String(on));
}

export class Dialogs {
  constructor(chat) {
    this.chat = chat;
    this.openers = new Map(); // dialog -> element focused before it opened
    for (const dialog of document.querySelectorAll("dialog")) {
      for (const b of dialog.querySelectorAll("[data-close]")) b.addEventListener("click", () => dialog.close());
      dialog.addEventListener("close", () => this._restoreFocus(dialog));
      // A click on the backdrop (outside the box) closes, like Escape.
      dialog.addEventListener("click", (ev) => {
        if (ev.target !== dialog) return;
        const r = dialog.getBoundingClientRect();
        const inside = ev.clientX >= r.left && ev.clientX <= r.right && ev.clientY >= r.top && ev.clientY <= r.bottom;
        if (!inside) dialog.close();
      });
    }
    this._bindCreate();
    this._bindBrowse();
    this._bindDm();
    this._bindTopic();
    this._bindConfirm();
    this._bindSettings();
  }

  show(dialog) {
    if (!dialog.open) {
      this.openers.set(dialog, document.activeElement);
      dialog.showModal();
    }
  }

  _restoreFocus(dialog) {
    const el = this.openers.get(dialog);
    this.openers.delete(dialog);
    if (document.querySelector("dialog[open]")) {
      if (el && el.isConnected && el.closest("dialog[open]")) el.focus();
      return;
    }
    if (el && el.isConnected && el.getClientRects().length && getComputedStyle(el).visibility !== "hidden") el.focus();
    else if (!$("message").disabled && !$("composer").hidden) $("message").focus();
    else $("menu-button").focus();
  }

  // ---- create a room ------------------------------------------------------------------------------

  _bindCreate() {
    const form = $("create-form");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const error = $("create-error");
      const input = $("create-name");
      const name = api.typedRoom(input.value);
      const visibility = form.querySelector("input[name=visibility]:checked").value;
      const topic = $("create-topic").value.trim();
      if (!ROOM_RE.test(name)) {
        error.textContent = name
          ? "Room names use letters, digits, “.”, “_” and “-” (up to 64)."
          : "Give the room a name.";
        input.focus();
        return;
      }
      if (name.toLowerCase().startsWith("dm.")) {
        error.textContent = "Names starting with “dm.” are kept for direct messages. Choose another name.";
        input.focus();
        return;
      }
      error.textContent = "";
      busy(form, true);
      let room;
      try {
        room = await api.createRoom(this.chat.token, name, visibility, topic);
      } catch (err) {
        busy(form, false);
        if (this.chat.restFailed(err)) return;
        if (err.status === 409) error.textContent = `The name #${name} is already taken. Choose another one.`;
        else if (err.status === 403) error.textContent = "Only server administrators can create rooms on this server.";
        else error.textContent = describeError(err, "Couldn't create the room");
        input.focus();
        return;
      }
      busy(form, false);
      $("create-dialog").close();
      const info = room && typeof room === "object" ? room : {};
      this.chat.join(name, { info: { visibility, topic, role: "owner", ...info } });
    });
  }

  createRoom() {
    const form = $("create-form");
    form.reset();
    busy(form, false);
    $("create-error").textContent = "";
    this.show($("create-dialog"));
    $("create-name").focus();
  }

  // ---- browse the directory -------------------------------------------------------------------------

  _bindBrowse() {
    this.dir = { rooms: [], next: null, loading: false, words: "" };
    let timer = null;
    $("browse-filter").addEventListener("input", () => {
      this._renderDirectory(); // at once, among the rooms loaded
      clearTimeout(timer);
      timer = setTimeout(() => {
        // then from the server, which looks through every public room
        const words = api.typedRoom($("browse-filter").value);
        if (words === this.dir.words) return;
        this.dir = { rooms: [], next: null, loading: false, words };
        this._loadDirectory(false);
      }, 250);
    });
    $("browse-more").addEventListener("click", () => this._loadDirectory(true));
  }

  browse() {
    this.dir = { rooms: [], next: null, loading: false, words: "" };
    $("browse-filter").value = "";
    $("browse-error").textContent = "";
    $("directory-list").replaceChildren();
    this.show($("browse-dialog"));
    $("browse-filter").focus();
    this._loadDirectory(false);
  }

  async _loadDirectory(more) {
    const dir = this.dir; // a new filter replaces it: what this call loads then is dropped
    if (dir.loading) return;
    dir.loading = true;
    $("browse-status").textContent = "Loading rooms…";
    $("browse-more").disabled = true;
    try {
      const page = await api.directory(this.chat.token, { after: more ? dir.next : null, limit: DIRECTORY_PAGE, q: dir.words });
      const seen = new Set(dir.rooms.map((r) => r.name));
      dir.rooms.push(...page.rooms.filter((r) => !seen.has(r.name)));
      dir.next = page.next;
      $("browse-error").textContent = "";
    } catch (err) {
      if (this.chat.restFailed(err)) return;
      if (dir === this.dir) $("browse-error").textContent = describeError(err, "Couldn't load the rooms");
    } finally {
      dir.loading = false;
      if (dir === this.dir) $("browse-more").disabled = false;
    }
    if (dir === this.dir) this._renderDirectory();
  }

  _renderDirectory() {
    const q = api.typedRoom($("browse-filter").value);
    const rooms = this.dir.rooms.filter(
      (r) => !q || r.name.toLowerCase().includes(q) || (typeof r.topic === "string" && r.topic.toLowerCase().includes(q)),
    );
    const list = $("directory-list");
    const focused = list.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    list.replaceChildren(...rooms.map((r) => this._directoryItem(r)));
    if (focused) {
      const again = [...list.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused);
      if (again) again.focus();
    }
    const total = this.dir.rooms.length;
    let status;
    if (!total && !this.dir.words) status = "There are no public rooms yet.";
    else if (!rooms.length) status = `No rooms match “${$("browse-filter").value.trim()}”.`;
    else if (q) status = `${rooms.length} of ${total}${this.dir.next ? "+" : ""} rooms match.`;
    else status = `${total}${this.dir.next ? "+" : ""} public room${total === 1 ? "" : "s"}.`;
    $("browse-status").textContent = status;
    $("browse-more").hidden = !this.dir.next;
  }

  _directoryItem(r) {
    const li = document.createElement("li");
    li.className = "dir-item";
    const main = document.createElement("div");
    main.className = "dir-main";
    const head = document.createElement("div");
    head.className = "dir-head";
    const name = document.createElement("span");
    name.className = "dir-name";
    name.textContent = `#${r.name}`;
    head.append(name);
    if (typeof r.members === "number") {
      const count = document.createElement("span");
      count.className = "dir-count";
      count.textContent = `${r.members} member${r.members === 1 ? "" : "s"}`;
      head.append(count);
    }
    main.append(head);
    if (typeof r.topic === "string" && r.topic) {
      const topic = document.createElement("p");
      topic.className = "dir-topic";
      topic.textContent = r.topic;
      main.append(topic);
    }
    const mine = this.chat.rooms.has(r.name);
    const b = document.createElement("button");
    b.type = "button";
    b.className = mine ? "button secondary small" : "button primary small";
    b.textContent = mine ? "Open" : "Join";
    b.setAttribute("aria-label", `${mine ? "Open" : "Join"} #${r.name}`);
    b.addEventListener("click", () => {
      $("browse-dialog").close();
      this.chat.join(r.name, { info: { visibility: "public", topic: r.topic } });
    });
    li.append(main, b);
    return li;
  }

  // ---- a direct message ------------------------------------------------------------------------------

  _bindDm() {
    this.dmUsers = [];
    const input = $("dm-user");
    this.dmPicker = new UserPicker(input, $("dm-options"), {
      search: (prefix) => api.findUsers(this.chat.token, prefix),
      exclude: () => new Set([this.chat.me, ...this.dmUsers]),
      onPick: (name) => {
        this._addDmUser(name);
        input.value = "";
        input.focus();
      },
    });
    input.addEventListener("keydown", (ev) => {
      if (ev.key === "Backspace" && !input.value && this.dmUsers.length) {
        this.dmUsers.pop();
        this._renderDmUsers();
      } else if (ev.key === "," || (ev.key === " " && input.value.trim())) {
        ev.preventDefault();
        const name = input.value.trim();
        if (USER_RE.test(name)) {
          this._addDmUser(name);
          input.value = "";
          this.dmPicker.close();
        }
      }
    });
    $("dm-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this._startDm();
    });
  }

  newDm(prefill = []) {
    this.dmUsers = [...prefill];
    this.dmPicker.reset();
    $("dm-error").textContent = "";
    busy($("dm-form"), false);
    this._renderDmUsers();
    this.show($("dm-dialog"));
    $("dm-user").focus();
  }

  _addDmUser(name) {
    const error = $("dm-error");
    if (name === this.chat.me) {
      error.textContent = "Choose someone other than yourself.";
      return;
    }
    if (this.dmUsers.includes(name)) return;
    if (this.dmUsers.length >= MAX_DM_USERS) {
      error.textContent = `A direct message has at most ${MAX_DM_USERS} other people.`;
      return;
    }
    error.textContent = "";
    this.dmUsers.push(name);
    this._renderDmUsers();
  }

  _renderDmUsers() {
    const ul = $("dm-chosen");
    ul.replaceChildren(
      ...this.dmUsers.map((name) => {
        const li = document.createElement("li");
        li.className = "chosen-item";
        li.append(name);
        const x = document.createElement("button");
        x.type = "button";
        x.className = "chosen-remove";
        x.setAttribute("aria-label", `Remove ${name}`);
        x.textContent = "×";
        x.addEventListener("click", () => {
          this.dmUsers = this.dmUsers.filter((u) => u !== name);
          this._renderDmUsers();
          $("dm-user").focus();
        });
        li.append(x);
        return li;
      }),
    );
    ul.hidden = this.dmUsers.length === 0;
  }

  async _startDm() {
    const input = $("dm-user");
    const error = $("dm-error");
    const typed = input.value.trim().replace(/^@/, "");
    if (typed) {
      if (!USER_RE.test(typed)) {
        error.textContent = "Usernames are 1–32 letters, digits, “.”, “_” or “-”.";
        input.focus();
        return;
      }
      this._addDmUser(typed);
      input.value = "";
      this.dmPicker.close();
      if (error.textContent) return;
    }
    if (!this.dmUsers.length) {
      error.textContent = "Type the username of the person to write to.";
      input.focus();
      return;
    }
    const form = $("dm-form");
    busy(form, true);
    let room;
    try {
      room = await api.openDm(this.chat.token, this.dmUsers);
    } catch (err) {
      busy(form, false);
      if (this.chat.restFailed(err)) return;
      if (err.status === 404) {
        error.textContent = `Couldn't start the conversation: ${err.message}. Check the username${this.dmUsers.length > 1 ? "s" : ""}.`;
      } else {
        error.textContent = describeError(err, "Couldn't start the conversation");
      }
      input.focus();
      return;
    }
    busy(form, false);
    if (!room || typeof room.name !== "string") {
      error.textContent = "Couldn't start the conversation: the server's answer was not understood.";
      return;
    }
    $("dm-dialog").close();
    const listed = Array.isArray(room.members) ? room.members : Array.isArray(room.people) ? room.people : null;
    const members = listed || [this.chat.me, ...this.dmUsers];
    this.chat.join(room.name, { info: { ...room, visibility: "dm", members } });
  }

  /** The DM with `user` (made if new), from their profile card. */
  async openDmWith(user) {
    let room;
    try {
      room = await api.openDm(this.chat.token, [user]);
    } catch (err) {
      if (this.chat.restFailed(err)) return;
      this.chat.notify(describeError(err, "Couldn't start the conversation"));
      return;
    }
    if (!room || typeof room.name !== "string") return;
    const listed = Array.isArray(room.members) ? room.members : Array.isArray(room.people) ? room.people : null;
    this.chat.join(room.name, { info: { ...room, visibility: "dm", members: listed || [this.chat.me, user] } });
  }

  // ---- topic ----------------------------------------------------------------------------------------

  _bindTopic() {
    $("topic-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = $("topic-form");
      const room = this.topicRoom;
      if (!room) return;
      const topic = $("topic-input").value.trim();
      busy(form, true);
      try {
        await api.manage(this.chat.token, room.name, "topic", { topic });
      } catch (err) {
        busy(form, false);
        if (this.chat.restFailed(err)) return;
        $("topic-error").textContent = describeError(err, "Couldn't set the topic");
        return;
      }
      busy(form, false);
      this.chat.setRoomInfo(room, { topic });
      $("topic-dialog").close();
    });
  }

  topic(room) {
    this.topicRoom = room;
    busy($("topic-form"), false);
    $("topic-title").textContent = `Set the topic of ${room.title}`;
    $("topic-input").value = typeof room.info.topic === "string" ? room.info.topic : "";
    $("topic-error").textContent = "";
    this.show($("topic-dialog"));
    $("topic-input").select();
  }

  // ---- confirm ----------------------------------------------------------------------------------------

  _bindConfirm() {
    $("confirm-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const job = this.confirmJob;
      if (!job) return;
      const form = $("confirm-form");
      busy(form, true);
      try {
        await job.run($("confirm-reason").value.trim());
      } catch (err) {
        busy(form, false);
        if (this.chat.restFailed(err)) {
          $("confirm-dialog").close();
          return;
        }
        $("confirm-error").textContent = err.shown ? err.message : describeError(err, `Couldn't ${job.ok.toLowerCase()}`);
        return;
      }
      busy(form, false);
      this.confirmJob = null;
      $("confirm-dialog").close();
    });
  }

  /** Ask before doing something; `run(reason)` does it (throws to keep the dialog open with the error). */
  confirm({ title, text, ok, reason = false, run }) {
    this.confirmJob = { ok, run };
    busy($("confirm-form"), false);
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = ok;
    $("confirm-reason-field").hidden = !reason;
    $("confirm-reason").value = "";
    $("confirm-error").textContent = "";
    this.show($("confirm-dialog"));
    (reason ? $("confirm-reason") : $("confirm-ok")).focus();
  }

  /**
   * You left the public room `name` (shown as `title`): a notice says so, with an Undo that joins it again
   * for a few seconds (a private room asked first instead, since coming back needs an invitation).
   */
  leftWithUndo(name, title) {
    const el = this.chat.notify(`You left ${title}.`, { kind: "info", timeout: UNDO_MS });
    const undo = document.createElement("button");
    undo.type = "button";
    undo.className = "link-button notice-undo";
    undo.textContent = "Undo";
    undo.addEventListener("click", () => {
      el.remove();
      this.chat.leaving.delete(name); // a removal from now on is news again
      if (!this.chat.rooms.has(name)) this.chat.join(name);
      else this.chat.select(name);
    });
    el.querySelector(".notice-close").before(undo);
  }

  // ---- account settings ----------------------------------------------------------------------------------

  _bindSettings() {
    this._bindProfile();
    $("password-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const form = $("password-form");
      const current = $("pw-current");
      const next = $("pw-new");
      const again = $("pw-confirm");
      const error = $("pw-error");
      $("pw-status").textContent = "";
      if (!current.value) {
        error.textContent = "Enter your current password.";
        current.focus();
        return;
      }
      if (next.value.length < MIN_PASSWORD) {
        error.textContent = `Choose a new password of at least ${MIN_PASSWORD} characters.`;
        next.focus();
        return;
      }
      if (!next.value.trim()) {
        error.textContent = "A password of only spaces is not accepted: choose another one.";
        next.focus();
        return;
      }
      if (next.value !== again.value) {
        error.textContent = "The two new passwords are not the same.";
        again.focus();
        return;
      }
      error.textContent = "";
      busy(form, true);
      try {
        await this.chat.changePassword(current.value, next.value);
      } catch (err) {
        busy(form, false);
        if (err.status === 401) {
          error.textContent = "Your current password is not right.";
          current.focus();
        } else if (err.status === 400) {
          error.textContent = `The new password was not accepted: ${err.message}`;
          next.focus();
        } else {
          error.textContent = describeError(err, "Couldn't change the password");
        }
        return;
      }
      busy(form, false);
      form.reset();
      $("pw-status").textContent = "Password changed. Your other devices have been signed out.";
    });
    $("sign-out-everywhere").addEventListener("click", () =>
      this.confirm({
        title: "Sign out everywhere?",
        text: "Every session of your account ends, on every device, this one included. You will need your password to sign in again.",
        ok: "Sign out everywhere",
        run: () => this.chat.signOutEverywhere(),
      }),
    );
  }

  // ---- your profile (in account settings): display name and avatar ------------------------------

  _bindProfile() {
    const form = $("profile-form");
    const error = $("profile-error");
    const status = $("profile-status");
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const input = $("profile-display-name");
      const value = input.value.trim();
      say(status, "");
      if ([...value].length > MAX_DISPLAY_NAME) {
        say(error, `A display name is at most ${MAX_DISPLAY_NAME} characters.`);
        input.focus();
        return;
      }
      say(error, "");
      busy(form, true);
      try {
        const p = await profiles.setDisplayName(value);
        input.value = p.display_name;
        say(status, p.display_name ? "Display name saved." : "Display name removed.");
      } catch (err) {
        if (!this.chat.restFailed(err)) say(error, describeError(err, "Couldn't save the display name"));
        input.focus();
      } finally {
        busy(form, false);
      }
    });
    const file = $("profile-avatar-file");
    $("profile-avatar-upload").addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
      const chosen = file.files && file.files[0];
      file.value = "";
      if (!chosen) return;
      say(status, "");
      say(error, "");
      if (chosen.size > MAX_AVATAR) {
        say(error, "That image is larger than 5 MB: choose a smaller one.");
        return;
      }
      busy(form, true);
      try {
        await profiles.setAvatar(chosen);
        say(status, "Avatar updated.");
      } catch (err) {
        if (!this.chat.restFailed(err)) say(error, describeError(err, "Couldn't set the avatar"));
      } finally {
        busy(form, false);
        this._paintProfile();
      }
    });
    $("profile-avatar-remove").addEventListener("click", async () => {
      say(status, "");
      say(error, "");
      busy(form, true);
      try {
        await profiles.removeAvatar();
        say(status, "Avatar removed.");
      } catch (err) {
        if (!this.chat.restFailed(err)) say(error, describeError(err, "Couldn't remove the avatar"));
      } finally {
        busy(form, false);
        this._paintProfile();
        $("profile-avatar-upload").focus();
      }
    });
    profiles.onChange((user) => {
      if (profiles.getToken !== this.chat.profileToken) return; // a chat of an earlier sign-in on this page
      if (user.toLowerCase() === this.chat.me.toLowerCase()) this._paintProfile();
    });
  }

  _paintProfile() {
    const p = profiles.get(this.chat.me);
    $("profile-avatar-preview").replaceChildren(avatar(this.chat.me, "avatar-large"));
    $("profile-avatar-remove").hidden = !(p && p.avatar);
  }

  settings() {
    const p = profiles.get(this.chat.me);
    $("profile-display-name").value = p ? p.display_name : "";
    say($("profile-error"), "");
    say($("profile-status"), "");
    busy($("profile-form"), false);
    this._paintProfile();
    $("settings-user").textContent = this.chat.me;
    $("password-form").reset();
    busy($("password-form"), false);
    $("pw-status").textContent = "";
    $("pw-error").textContent = "";
    $("everywhere-error").textContent = "";
    this.show($("settings-dialog"));
    $("profile-display-name").focus();
  }
}
