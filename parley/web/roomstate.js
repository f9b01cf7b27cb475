// roomstate.js — What the page works out from the rooms you are in, with no DOM: a room's kind for the
// sidebar, the sidebar's order (rooms, then direct messages, each by label; Alt+Up/Down follows it) and
// the unread badge in the tab's title. chat.js draws them; tests/web/requests.test.mjs tests them.

/** A room's kind for the sidebar: "public", "private" or "dm" (a "dm." name without details is a DM). */
export function kindOf(name, info) {
  const v = info && info.visibility;
  if (v === "dm" || (!v && name.startsWith("dm."))) return "dm";
  return v === "private" ? "private" : "public";
}

/** `rooms` ({isDm, …}) in the sidebar's order: rooms first, then DMs, each by `label(room)`, case aside. */
export function sortRooms(rooms, label) {
  const byLabel = (a, b) => label(a).localeCompare(label(b), undefined, { sensitivity: "base" });
  const all = [...rooms];
  return [...all.filter((r) => !r.isDm).sort(byLabel), ...all.filter((r) => r.isDm).sort(byLabel)];
}

/** Unread messages and mentions of you over `rooms` ({unread, mentions}). */
export function unreadTotals(rooms) {
  let unread = 0;
  let mentions = 0;
  for (const r of rooms) {
    unread += r.unread;
    mentions += r.mentions;
  }
  return { unread, mentions };
}

/** The title's prefix: mentions of you when there are any ("(@2) "), else unread messages ("(5) "), else "". */
export function titleBadge({ unread, mentions }) {
  return mentions ? `(@${mentions}) ` : unread ? `(${unread}) ` : "";
}
