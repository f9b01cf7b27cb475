// members.js — Who is in the open room (GET /api/rooms/{room}/members): roles for the online panel,
// and the Members dialog with invitations and moderation (kick, ban, unban, mute, unmute, roles).
// Only the actions the signed-in user may take are offered; what the server refuses is shown in words.
// Below 1100 px wide, the header's "N online" button opens the online panel as a popover (OnlineList).

import * as api from "./api.js";
import { closeMenu, openMenu } from "./menu.js";
import { avatar, personName } from "./render.js";
import { ROLE_LABEL, roleTag } from "./views.js";
import { UserPicker } from "./combobox.js";

const { USER_RE } = api;
const ROLE_ORDER = { owner: 0, moderator: 1, member: 2 };
const ROLE_WORDS = { owner: "an owner", moderator: "a moderator", member: "a member" };

const $ = (id) => document.getElementById(id);

/** What the signed-in user may do in `room` (server admins may do everything everywhere). */
export function permissions(room, admin) {
  const role = room.info.role;
  const dm = room.isDm;
  const owner = !dm && (admin || role === "owner");
  const mod = !dm && (owner || role === "moderator");
  return {
    invite: mod,
    topic: mod,
    delete: owner,
    role: owner,
    unban: mod,
    seeLists: mod,
    /** kick, ban, mute, unmute `target` (a member with this role) */
    moderate: (targetRole) => owner || (mod && (targetRole || "member") === "member"),
  };
}

function nameOf(entry) {
  if (typeof entry === "string") return entry;
  return entry && typeof entry.user === "string" ? entry.user : null;
}

/** The server's member list made uniform: members [{user, role, muted}], invited and banned: names. */
function normalize(data) {
  const members = (Array.isArray(data && data.members) ? data.members : [])
    .map((m) => (typeof m === "string" ? { user: m, role: "member", muted: false } : m))
    .filter((m) => m && typeof m.user === "string")
    .map((m) => ({ user: m.user, role: ROLE_ORDER[m.role] !== undefined ? m.role : "member", muted: !!m.muted }));
  members.sort((a, b) => ROLE_ORDER[a.role] - ROLE_ORDER[b.role] || a.user.localeCompare(b.user));
  const names = (list) => (Array.isArray(list) ? list.map(nameOf).filter(Boolean).sort() : []);
  return { members, invited: names(data && data.invited), banned: names(data && data.banned) };
}

// layout: below 1100 px the online panel has no column of its own; the header's "N online" button opens
// it as a popover (Escape, a click elsewhere or focus leaving it closes it). Wider, the button moves
// focus to the panel beside the conversation.
const NARROW = "(max-width: 1100px)";

class OnlineList {
  constructor() {
    this.button = $("room-online");
    this.panel = $("members");
    this.narrow = matchMedia(NARROW);
    this.button.addEventListener("click", () => {
      if (!this.narrow.matches) this.panel.focus();
      else if (this.isOpen) this.close(true);
      else this.open();
    });
    document.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" && this.isOpen && !document.querySelector("dialog[open]")) {
        ev.preventDefault();
        this.close(true);
      }
    });
    document.addEventListener("pointerdown", (ev) => {
      if (this.isOpen && !this.panel.contains(ev.target) && !this.button.contains(ev.target)) this.close(false);
    });
    this.panel.addEventListener("focusout", (ev) => {
      const to = ev.relatedTarget;
      if (this.isOpen && to && !this.panel.contains(to) && to !== this.button) this.close(false);
    });
    // "All members" opens a dialog: the popover makes way for it
    $("show-members").addEventListener("click", () => this.close(false));
    this.narrow.addEventListener("change", () => {
      this.close(false);
      this.sync();
    });
    // the room's panel goes away with the room (chat.js hides it): so does the popover
    new MutationObserver(() => {
      if (this.panel.hidden) this.close(false);
    }).observe(this.panel, { attributes: true, attributeFilter: ["hidden"] });
    this.sync();
  }

  get isOpen() {
    return document.body.classList.contains("online-open");
  }

  sync() {
    if (this.narrow.matches) this.button.setAttribute("aria-expanded", String(this.isOpen));
    else this.button.removeAttribute("aria-expanded");
    this.button.title = this.narrow.matches ? "Who is online" : "";
  }

  open() {
    const r = this.button.getBoundingClientRect();
    const width = Math.min(300, innerWidth - 16);
    const style = document.body.style;
    style.setProperty("--online-top", `${Math.round(r.bottom + 8)}px`);
    style.setProperty("--online-left", `${Math.round(Math.max(8, Math.min(r.left, innerWidth - width - 8)))}px`);
    document.body.classList.add("online-open");
    this.sync();
    this.panel.focus();
  }

  close(returnFocus) {
    if (!this.isOpen) return;
    document.body.classList.remove("online-open");
    this.sync();
    if (returnFocus) this.button.focus();
  }
}

export class Members {
  constructor(chat) {
    this.chat = chat;
    this.data = new Map(); // room -> normalized member list
    this.loading = new Map(); // room -> promise
    this.timers = new Map(); // room -> debounce timer for a refresh after a membership event
    this.room = null; // the room the dialog shows
    this.dialog = $("members-dialog");
    this.picker = new UserPicker($("invite-user"), $("invite-options"), {
      search: (prefix) => api.findUsers(this.chat.token, prefix),
      exclude: () => {
        const d = this.data.get(this.room);
        return new Set([this.chat.me, ...(d ? d.members.map((m) => m.user) : []), ...(d ? d.invited : [])]);
      },
      onPick: (name) => {
        $("invite-user").value = name;
        this.invite();
      },
    });
    $("invite-form").addEventListener("submit", (ev) => {
      ev.preventDefault();
      this.invite();
    });
    this.dialog.addEventListener("close", () => {
      closeMenu();
      this.picker.close();
      this.room = null;
    });
    this.onlineList = new OnlineList();
  }

  /** user -> {role, muted} for `room`, or null while unknown. */
  rolesOf(room) {
    const d = this.data.get(room);
    return d ? new Map(d.members.map((m) => [m.user, m])) : null;
  }

  async load(room) {
    if (this.loading.has(room)) return this.loading.get(room);
    const run = (async () => {
      try {
        const data = normalize(await api.roomMembers(this.chat.token, room));
        if (!this.chat.rooms.has(room)) return;
        this.data.set(room, data);
        const mine = data.members.find((m) => m.user === this.chat.me);
        const r = this.chat.rooms.get(room);
        if (mine && r && (r.info.role !== mine.role || !!r.info.muted !== mine.muted)) {
          this.chat.setRoomInfo(r, { role: mine.role, muted: mine.muted });
        }
        if (room === this.chat.active) this.chat.renderActive();
        if (room === this.room) this.render();
      } catch (err) {
        if (this.chat.restFailed(err)) return;
        if (room === this.room) $("members-error").textContent = `Couldn't load the members: ${err.message}`;
      } finally {
        this.loading.delete(room);
      }
    })();
    this.loading.set(room, run);
    return run;
  }

  /** A membership event arrived in `room`: refresh its list soon (once for a burst of events). */
  changed(room) {
    if (room !== this.chat.active && room !== this.room) {
      this.data.delete(room);
      return;
    }
    clearTimeout(this.timers.get(room));
    this.timers.set(
      room,
      setTimeout(() => {
        this.timers.delete(room);
        this.load(room);
      }, 250),
    );
  }

  roomGone(room) {
    this.data.delete(room);
    clearTimeout(this.timers.get(room));
    if (this.room === room && this.dialog.open) this.dialog.close();
  }

  open(room, { invite = false } = {}) {
    const r = this.chat.rooms.get(room);
    if (!r) return;
    this.room = room;
    $("members-title").textContent = r.isDm ? "People in this conversation" : `Members of ${r.title}`;
    $("members-status").textContent = "";
    $("members-error").textContent = "";
    this.picker.reset();
    this.render();
    this.chat.dialogs.show(this.dialog);
    this.load(room);
    if (invite && !$("invite-form").hidden) $("invite-user").focus();
  }

  render() {
    const room = this.chat.rooms.get(this.room);
    if (!room) return;
    const can = permissions(room, this.chat.admin);
    $("invite-form").hidden = !can.invite;
    const data = this.data.get(this.room);
    const body = $("members-body");
    const focusedLabel = body.contains(document.activeElement) ? document.activeElement.getAttribute("aria-label") : null;
    if (!data) {
      const p = document.createElement("p");
      p.className = "muted";
      p.textContent = "Loading members…";
      body.replaceChildren(p);
      return;
    }
    const sections = [this._section(`Members — ${data.members.length}`, data.members.map((m) => this._memberRow(room, m, can)))];
    if (data.invited.length) {
      sections.push(this._section(`Invited — ${data.invited.length}`, data.invited.map((u) => this._plainRow(u, "Invited"))));
    }
    if (data.banned.length) {
      sections.push(this._section(`Banned — ${data.banned.length}`, data.banned.map((u) => this._bannedRow(u, can))));
    }
    body.replaceChildren(...sections);
    if (focusedLabel) {
      const again = [...body.querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focusedLabel);
      (again || this.dialog.querySelector("[data-close]")).focus();
    }
  }

  _section(title, rows) {
    const section = document.createElement("section");
    section.className = "member-section";
    const h = document.createElement("h3");
    h.textContent = title;
    const ul = document.createElement("ul");
    ul.className = "member-rows";
    ul.setAttribute("aria-label", title.replace(/ — \d+$/, ""));
    ul.append(...rows);
    section.append(h, ul);
    return section;
  }

  _rowStart(user) {
    const li = document.createElement("li");
    li.className = "member-row";
    const name = document.createElement("span");
    name.className = "member-name";
    name.dataset.profileOpen = user;
    personName(name, user); // the display name; layout: a long name is ellipsized, the tooltip has it whole
    li.append(avatar(user, "avatar-small", { open: true }), name);
    if (user === this.chat.me) {
      const you = document.createElement("span");
      you.className = "muted";
      you.textContent = "(you)";
      li.append(you);
    }
    return li;
  }

  _memberRow(room, m, can) {
    const li = this._rowStart(m.user);
    if (ROLE_LABEL[m.role]) li.append(roleTag(ROLE_LABEL[m.role], m.role));
    if (m.muted) li.append(roleTag("Muted", "muted-tag"));
    if (room.online.has(m.user)) {
      const on = document.createElement("span");
      on.className = "presence-dot";
      on.title = "Online";
      const sr = document.createElement("span");
      sr.className = "visually-hidden";
      sr.textContent = "online";
      on.append(sr);
      li.append(on);
    }
    const items = this._actions(room, m, can);
    if (items.length) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "icon-button row-actions";
      b.setAttribute("aria-haspopup", "menu");
      b.setAttribute("aria-expanded", "false");
      b.setAttribute("aria-label", `Actions for ${m.user}`);
      b.innerHTML =
        '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true"><circle cx="5" cy="12" r="1.8" fill="currentColor"/><circle cx="12" cy="12" r="1.8" fill="currentColor"/><circle cx="19" cy="12" r="1.8" fill="currentColor"/></svg>';
      b.addEventListener("click", () => openMenu(b, this._actions(room, m, can), { label: `Actions for ${m.user}` }));
      li.append(b);
    }
    return li;
  }

  _plainRow(user, tag) {
    const li = this._rowStart(user);
    li.append(roleTag(tag, "invited-tag"));
    return li;
  }

  _bannedRow(user, can) {
    const li = this._rowStart(user);
    li.append(roleTag("Banned", "banned-tag"));
    if (can.unban) {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "button ghost small row-button";
      b.textContent = "Unban";
      b.setAttribute("aria-label", `Unban ${user}`);
      b.addEventListener("click", () => this.act("unban", user));
      li.append(b);
    }
    return li;
  }

  /** The menu of what the signed-in user may do to member `m`. */
  _actions(room, m, can) {
    if (m.user === this.chat.me) return [];
    const items = [];
    if (can.role) {
      for (const role of ["owner", "moderator", "member"]) {
        if (role === m.role) continue;
        const label = role === "owner" ? "Make owner" : role === "moderator" ? "Make moderator" : "Make member";
        items.push({ label, onSelect: () => this.act("role", m.user, { role }) });
      }
    }
    if (can.moderate(m.role)) {
      items.push(
        m.muted
          ? { label: "Unmute", onSelect: () => this.act("unmute", m.user) }
          : { label: "Mute", onSelect: () => this.act("mute", m.user) },
      );
      items.push({
        label: "Kick…",
        onSelect: () =>
          this.chat.dialogs.confirm({
            title: `Remove ${m.user} from ${room.title}?`,
            text: room.info.visibility === "private"
              ? `${m.user} will need a new invitation to come back.`
              : `${m.user} can join again later.`,
            ok: "Kick",
            reason: true,
            run: (reason) => this.act("kick", m.user, reason ? { reason } : {}, { rethrow: true }),
          }),
      });
      items.push({
        label: "Ban…",
        danger: true,
        onSelect: () =>
          this.chat.dialogs.confirm({
            title: `Ban ${m.user} from ${room.title}?`,
            text: `${m.user} is removed and can't come back until unbanned.`,
            ok: "Ban",
            reason: true,
            run: (reason) => this.act("ban", m.user, reason ? { reason } : {}, { rethrow: true }),
          }),
      });
    }
    return items;
  }

  /** Run a moderation action in the dialog's room and say how it went. */
  async act(action, user, fields = {}, { rethrow = false } = {}) {
    const room = this.room;
    const r = this.chat.rooms.get(room);
    if (!r) return;
    $("members-status").textContent = "";
    $("members-error").textContent = "";
    try {
      await api.manage(this.chat.token, room, action, { user, ...fields });
    } catch (err) {
      if (this.chat.restFailed(err)) return;
      const text = this.errorText(action, user, err);
      if (rethrow) throw Object.assign(new Error(text), { shown: true });
      $("members-error").textContent = text;
      return;
    }
    const done = {
      invite: `${user} was invited.`,
      kick: `${user} was removed from the room.`,
      ban: `${user} was banned.`,
      unban: `${user} was unbanned.`,
      mute: `${user} was muted.`,
      unmute: `${user} can send messages again.`,
      role: `${user} is now ${ROLE_WORDS[fields.role] || fields.role}.`,
    }[action];
    if (this.room === room) $("members-status").textContent = done || "Done.";
    await this.load(room);
  }

  errorText(action, user, err) {
    const verb = {
      invite: "invite",
      kick: "kick",
      ban: "ban",
      unban: "unban",
      mute: "mute",
      unmute: "unmute",
      role: "change the role of",
    }[action];
    if (err.code === "not_found") return `Couldn't ${verb} ${user}: there is no account named “${user}”.`;
    if (err.code === "forbidden") return `Couldn't ${verb} ${user}: you are not allowed to (${err.message}).`;
    if (err.code === "conflict") {
      if (action === "invite") return `Couldn't invite ${user}: they are already a member or invited (${err.message}).`;
      return `Couldn't ${verb} ${user}: ${err.message}.`;
    }
    return `Couldn't ${verb} ${user}: ${err.message}`;
  }

  async invite() {
    const input = $("invite-user");
    const user = input.value.trim().replace(/^@/, "");
    if (!USER_RE.test(user)) {
      $("members-status").textContent = "";
      $("members-error").textContent = user ? "Usernames are 1–32 letters, digits, “.”, “_” or “-”." : "Type a username to invite.";
      input.focus();
      return;
    }
    this.picker.close();
    await this.act("invite", user);
    if (!$("members-error").textContent) this.picker.reset();
    input.focus();
  }
}
