// api.js — The REST calls the page makes: accounts, the rooms you are in, the directory, creating
// rooms and direct messages, members and moderation. Errors become ApiError with the HTTP status, the
// server's error code and its message, so the UI can say something useful.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

export const ROOM_RE = /^[A-Za-z0-9._-]{1,64}$/;

/** Room names ignore case and are kept in lower case, as the server keeps them: `General` is `general`. */
export function roomKey(name) {
  return name.toLowerCase();
}

/** The room name (or the start of one) typed in a field: spaces and a leading "#" left out, in lower case. */
export function typedRoom(value) {
  return roomKey(value.trim().replace(/^#/, ""));
}
export const USER_RE = /^[A-Za-z0-9._-]{1,32}$/;

/** Words for an error the server gave for something the user asked for: "<what>: <why>". */
export function describeError(err, what) {
  const message = err && err.message ? err.message : "something went wrong";
  switch (err && err.code) {
    case "network":
      return `${what}: can't reach the server. Check your connection and try again.`;
    case "forbidden":
      return `${what}: you are not allowed to do that (${message}).`;
    case "not_found":
      return `${what}: not found (${message}).`;
    case "rate_limited":
      return `${what}: too many requests, try again in a moment.`;
    default:
      return `${what}: ${message}`;
  }
}

async function request(method, path, { body, token } = {}) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (token) headers.Authorization = `Bearer ${token}`;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw Object.assign(new ApiError(0, "network", "Can't reach the server. Check your connection and try again."), {
      token,
    });
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    // A body that is not JSON (204, proxy error page, empty reply): fall through with data = null.
  }
  if (!res.ok) {
    const code = (data && data.error) || "http";
    const message = (data && data.message) || `The server answered ${res.status}.`;
    const err = new ApiError(res.status, code, message);
    err.token = token; // which token was refused, if it was (it may have been replaced since)
    throw err;
  }
  return data;
}

const enc = encodeURIComponent;

// ---- accounts ------------------------------------------------------------------------------------

/** What anyone may know before signing in: {registration: "open"|"invite"|"closed", room_creation, max_text}. */
export function serverInfo() {
  return request("GET", "/api/info");
}

/** Create an account; resolves to {token, user, expires}. `invite` only when the server asks for one. */
export function register(username, password, invite) {
  const body = { username, password };
  if (invite) body.invite = invite;
  return request("POST", "/api/register", { body });
}

/** Sign in; resolves to {token, user, expires}. */
export function login(username, password) {
  return request("POST", "/api/login", { body: { username, password } });
}

/** {user, admin} */
export function me(token) {
  return request("GET", "/api/me", { token });
}

/** A new token; every other token of the account stops working. */
export function changePassword(token, password, newPassword) {
  return request("POST", "/api/me/password", { token, body: { password, new_password: newPassword } });
}

/** This token stops working (on every node); the account's other devices stay signed in. */
export function signOut(token) {
  return request("POST", "/api/me/signout", { token, body: {} });
}

/** Every token of the account stops working, this one too. */
export function signOutEverywhere(token) {
  return request("POST", "/api/me/signout", { token, body: { everywhere: true } });
}

/** Account names starting with `prefix` (case-insensitive), in name order. */
export async function findUsers(token, prefix, limit = 8) {
  const data = await request("GET", `/api/users?prefix=${enc(prefix)}&limit=${limit}`, { token });
  return Array.isArray(data && data.users) ? data.users.filter((u) => typeof u === "string") : [];
}

// ---- rooms ---------------------------------------------------------------------------------------

/** Every room you are a member of or invited to, with read markers and unread counts. */
export async function myRooms(token) {
  const data = await request("GET", "/api/me/rooms", { token });
  return Array.isArray(data && data.rooms) ? data.rooms.filter((r) => r && typeof r.name === "string") : [];
}

/** One page of the directory of public rooms: {rooms: [{name, topic, members, last_seq}], next}. */
export async function directory(token, { after = null, limit = 100, q: words = "" } = {}) {
  const q = `?limit=${limit}${after ? `&after=${enc(after)}` : ""}${words ? `&q=${enc(words)}` : ""}`;
  const data = await request("GET", `/api/rooms${q}`, { token });
  return {
    rooms: Array.isArray(data && data.rooms) ? data.rooms.filter((r) => r && typeof r.name === "string") : [],
    next: data && typeof data.next === "string" ? data.next : null,
  };
}

/** Create a room you own: resolves to the room. */
export function createRoom(token, name, visibility, topic) {
  return request("POST", "/api/rooms", { token, body: { name, visibility, topic } });
}

/** {name, visibility, topic, members, last_seq, role, muted, state} */
export function roomInfo(token, room) {
  return request("GET", `/api/rooms/${enc(room)}`, { token });
}

/** {members: [{user, role, muted}], invited: [...], banned: [...]} (the last two for moderators). */
export function roomMembers(token, room) {
  return request("GET", `/api/rooms/${enc(room)}/members`, { token });
}

/** A moderation or membership action: {action, user?, role?, reason?, topic?} -> {seq}. */
export function manage(token, room, action, fields = {}) {
  return request("POST", `/api/rooms/${enc(room)}/manage`, { token, body: { action, ...fields } });
}

/** Move the read marker up to `seq`. */
export function markRead(token, room, seq) {
  return request("POST", `/api/rooms/${enc(room)}/read`, { token, body: { seq } });
}

/** What you want to be notified of in `room`: "all", "mentions" or "none". */
export function setNotify(token, room, level) {
  return request("POST", `/api/rooms/${enc(room)}/notify`, { token, body: { level } });
}

/**
 * Messages containing every word of `q` (the last as a prefix), newest first, in `room` or every room you
 * are in, from one author if `from`: {results, next} (`next`: the offset of the next page, or null).
 */
export async function search(token, { q, room = null, from = null, limit = 20, offset = 0 }) {
  const params = new URLSearchParams({ q, limit: String(limit), offset: String(offset) });
  if (room) params.set("room", room);
  if (from) params.set("from", from);
  const data = await request("GET", `/api/search?${params}`, { token });
  return {
    results: Array.isArray(data && data.results) ? data.results.filter((m) => m && typeof m.seq === "number") : [],
    next: data && typeof data.next === "number" ? data.next : null,
  };
}

/** Stored events of `room` with seq > `after`, oldest first (at most `limit`). */
export async function eventsAfter(token, room, after, limit = 1) {
  const data = await request("GET", `/api/rooms/${enc(room)}/messages?after=${after}&limit=${limit}`, { token });
  return Array.isArray(data && data.messages) ? data.messages : [];
}

/** The direct conversation with `users` (besides you), made if new: resolves to the room. */
export function openDm(token, users) {
  return request("POST", "/api/dms", { token, body: { users } });
}
