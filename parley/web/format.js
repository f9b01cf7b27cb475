// format.js — Message text as DOM nodes, with a small Markdown-like subset: **bold**, *italics* or
// _italics_, `inline code`, ``` code blocks ```, http(s) links, and the @mentions the server recognised.
// Everything is made with createElement and text nodes, so HTML in a message is never interpreted, and
// only URLs that parse as http or https become links. Also: search words, and marking them in a text.

const FENCE_RE = /```(?:[A-Za-z0-9_+.#-]*\n)?([\s\S]*?)```/g;
const TRAILING_PUNCT_RE = /[.,;:!?'"\]}>]+$/;

// One alternative per inline form; at a position the first that matches wins, so code and links keep
// their `*` and `_` as they are. Mention names follow the server's rule (parley/protocol/names.py).
const INLINE_SOURCE = [
  "`(?<code>[^`\\n]+)`",
  "(?<url>\\bhttps?:\\/\\/[^\\s<>\"'`]+)",
  "\\*\\*(?<bold>(?=\\S)[\\s\\S]*?\\S)\\*\\*",
  "(?<![\\p{L}\\p{N}_*])\\*(?<star>[^\\s*](?:[^\\n]*?[^\\s*])?)\\*(?![\\p{L}\\p{N}_*])",
  "(?<![\\p{L}\\p{N}_])_(?<under>[^\\s_](?:[^\\n]*?[^\\s_])?)_(?![\\p{L}\\p{N}_])",
  "(?<![\\p{L}\\p{N}_@])@(?<mention>[A-Za-z0-9._-]{1,32})",
].join("|");

const MAX_DEPTH = 4; // emphasis inside emphasis this deep is shown as it was typed

/** Strip punctuation that usually ends a sentence rather than a URL, and an unbalanced ")". */
function trimUrl(raw) {
  let url = raw.replace(TRAILING_PUNCT_RE, "");
  while (url.endsWith(")") && (url.match(/\(/g) || []).length < (url.match(/\)/g) || []).length) {
    url = url.slice(0, -1).replace(TRAILING_PUNCT_RE, "");
  }
  return url;
}

/** The href for `url` if it is a valid http(s) URL, else null. */
function safeHref(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

function link(url, href) {
  const a = document.createElement("a");
  a.href = href;
  a.textContent = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function wrap(tag, className = "") {
  const el = document.createElement(tag);
  if (className) el.className = className;
  return el;
}

/**
 * Whether a message's `mentions` (from the server: names as registered, and "@room") name `me`.
 * Names compare case-insensitively, as the server matches them.
 */
export function mentionsMe(mentions, me) {
  if (!Array.isArray(mentions)) return false;
  const mine = me.toLowerCase();
  return mentions.some((n) => typeof n === "string" && (n === "@room" || n.toLowerCase() === mine));
}

/** Append the inline forms of `text` (no code blocks) to `parent`. */
function appendInline(parent, text, ctx, depth) {
  const re = new RegExp(INLINE_SOURCE, "gu");
  let pos = 0;
  let m;
  while ((m = re.exec(text))) {
    const g = m.groups;
    let node = null;
    let end = m.index + m[0].length;
    if (g.code !== undefined) {
      node = wrap("code", "inline-code");
      node.textContent = g.code;
    } else if (g.url !== undefined) {
      const url = trimUrl(g.url);
      const href = safeHref(url);
      end = m.index + url.length;
      if (href) node = link(url, href);
    } else if (g.mention !== undefined) {
      const name = g.mention.replace(/\.+$/, "");
      const key = name.toLowerCase() === "room" ? "@room" : name.toLowerCase();
      if (ctx.mentions.has(key)) {
        end = m.index + 1 + name.length;
        node = wrap("span", key === "@room" || key === ctx.me ? "mention mention-me" : "mention");
        node.textContent = `@${name}`;
      }
    } else if (depth < MAX_DEPTH) {
      const inner = g.bold ?? g.star ?? g.under;
      node = wrap(g.bold !== undefined ? "strong" : "em");
      appendInline(node, inner, ctx, depth + 1);
    }
    if (!node) continue; // shown as typed, with the rest of the text
    if (m.index > pos) parent.append(text.slice(pos, m.index));
    parent.append(node);
    pos = end;
    re.lastIndex = end;
  }
  if (pos < text.length) parent.append(text.slice(pos));
}

/**
 * Append message `text` to `parent`, formatted. `mentions` is the message's list from the server (only
 * those names become mention pills); `me` is the signed-in user, whose mentions stand out.
 */
export function appendFormatted(parent, text, { mentions = null, me = "" } = {}) {
  const names = Array.isArray(mentions) ? mentions.filter((n) => typeof n === "string") : [];
  const ctx = { mentions: new Set(names.map((n) => n.toLowerCase())), me: me.toLowerCase() };
  let pos = 0;
  for (const m of text.matchAll(FENCE_RE)) {
    const body = m[1].replace(/\n$/, "");
    if (!body.trim()) continue;
    // The line breaks around a block belong to the block: the text would otherwise gain empty lines.
    appendInline(parent, text.slice(pos, m.index).replace(/\n$/, ""), ctx, 0);
    const pre = wrap("pre", "code-block");
    const code = wrap("code");
    code.textContent = body;
    pre.append(code);
    parent.append(pre);
    pos = m.index + m[0].length;
    if (text[pos] === "\n") pos += 1;
  }
  appendInline(parent, text.slice(pos), ctx, 0);
}

// ---- search words ------------------------------------------------------------------------------

const WORD_RE = /[\p{L}\p{N}\p{M}]+/gu;

/** A word as the search compares it: lower case, without accents. */
function fold(word) {
  return word.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();
}

/** The words of a search query, as the server splits them (letters, digits and combining marks). */
export function searchWords(query) {
  return (String(query).match(WORD_RE) || []).map(fold).filter(Boolean);
}

/** Append `text` to `parent` with the words the search matched in <mark> (the last word as a prefix). */
export function appendHighlighted(parent, text, words) {
  const last = words.length - 1;
  let pos = 0;
  for (const m of text.matchAll(WORD_RE)) {
    const word = fold(m[0]);
    if (!words.some((w, i) => word === w || (i === last && word.startsWith(w)))) continue;
    if (m.index > pos) parent.append(text.slice(pos, m.index));
    const mark = document.createElement("mark");
    mark.textContent = m[0];
    parent.append(mark);
    pos = m.index + m[0].length;
  }
  if (pos < text.length) parent.append(text.slice(pos));
}
