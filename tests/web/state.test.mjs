// state.test.mjs — Unit tests of the page's state pieces that need no DOM, run by Node's own test runner
// (`node --test tests/web/`, from tests/test_web_units.py): the outbox (what is unsent survives a reload and
// another tab's changes), the per-user room cache with names brought to lower case, the composer's text
// and length rules, the quick switcher's matching, search words and mentions. localStorage and the window's
// storage events are given by a small in-memory stand-in (Node has neither).

import assert from "node:assert/strict";
import { beforeEach, describe, test } from "node:test";

const store = new Map();
const listeners = [];
globalThis.localStorage = {
  getItem: (k) => (store.has(k) ? store.get(k) : null),
  setItem: (k, v) => store.set(k, String(v)),
  removeItem: (k) => store.delete(k),
};
globalThis.window = { addEventListener: (type, fn) => type === "storage" && listeners.push(fn) };
const otherTabWrites = (key, value) => {
  store.set(key, value);
  for (const fn of listeners) fn({ key });
};

const { Outbox } = await import("../../parley/web/outbox.js");
const { Prefs } = await import("../../parley/web/session.js");
const { composerText, charCount } = await import("../../parley/web/composerlimit.js");
const { matchScore } = await import("../../parley/web/switcher.js");
const { searchWords, mentionsMe } = await import("../../parley/web/format.js");

beforeEach(() => store.clear());

describe("outbox", () => {
  test("keeps unsent messages across a reload, each with one client_id, until acked", () => {
    const box = new Outbox("alice");
    const a = box.add("general", "first");
    const b = box.add("general", "second", 7);
    box.add("dev", "elsewhere");
    assert.notEqual(a.client_id, b.client_id);
    assert.equal(b.reply_to, 7);
    const reloaded = new Outbox("alice");
    assert.deepEqual(reloaded.forRoom("general").map((m) => m.text), ["first", "second"]);
    reloaded.remove(a.client_id);
    assert.deepEqual(new Outbox("alice").forRoom("general").map((m) => m.client_id), [b.client_id]);
    assert.equal(new Outbox("bob").forRoom("general").length, 0); // per user
  });

  test("follows another tab's changes and ignores damaged storage", () => {
    const box = new Outbox("carol");
    box.add("general", "mine");
    otherTabWrites("parley.outbox.carol", JSON.stringify([{ client_id: "x1", room: "general", text: "theirs" }]));
    assert.deepEqual(box.forRoom("general").map((m) => m.text), ["theirs"]);
    otherTabWrites("parley.outbox.carol", "{not json");
    assert.deepEqual(box.forRoom("general"), []);
    otherTabWrites("parley.outbox.carol", JSON.stringify([{ room: "general" }, 5, null]));
    assert.deepEqual(box.forRoom("general"), []);
  });

  test("a room left takes its unsent messages with it; put() does not duplicate", () => {
    const box = new Outbox("dana");
    const entry = box.add("general", "hello");
    box.put(entry);
    assert.equal(box.forRoom("general").length, 1);
    box.dropRoom("general");
    assert.equal(new Outbox("dana").forRoom("general").length, 0);
  });
});

describe("room cache", () => {
  test("names an older page cached in mixed case are brought to lower case, once each", () => {
    store.set("parley.prefs.erin", JSON.stringify({
      rooms: ["General", "general", "Dev", 5], lastRead: { General: 12 }, meta: { Dev: { kind: "public" } },
      active: "Dev",
    }));
    const prefs = new Prefs("erin");
    assert.deepEqual(prefs.rooms, ["general", "dev"]);
    assert.equal(prefs.lastRead.general, 12);
    assert.deepEqual(prefs.meta.dev, { kind: "public" });
    assert.equal(prefs.active, "dev");
  });

  test("damaged or missing data is an empty cache", () => {
    store.set("parley.prefs.finn", "][");
    const prefs = new Prefs("finn");
    assert.deepEqual([prefs.rooms, prefs.lastRead, prefs.active], [[], {}, null]);
  });
});

describe("composer", () => {
  test("keeps the first line's indentation, drops trailing space and leading blank lines", () => {
    assert.equal(composerText("\n \n    def f():\n        return 1  \n\n"), "    def f():\n        return 1");
    assert.equal(composerText(" \t\n  \n"), "");
    assert.equal(composerText("hi"), "hi");
  });

  test("counts characters as the server does (code points, not UTF-16 units)", () => {
    assert.equal(charCount("abc"), 3);
    assert.equal(charCount("👋🏽"), 2);
    assert.equal(charCount("日本語"), 3);
  });
});

describe("quick switcher", () => {
  test("a substring ranks by where it starts, letters in order after every substring", () => {
    assert.equal(matchScore("", "anything"), 0);
    assert.equal(matchScore("gen", "general"), 0);
    assert.ok(matchScore("ral", "general") > matchScore("gen", "general"));
    assert.ok(matchScore("chr", "charlie") >= 1000);
    assert.equal(matchScore("xyz", "charlie"), null);
  });
});

describe("search and mentions", () => {
  test("search words are the query's words, and a mention of me or of the room is mine", () => {
    assert.deepEqual(searchWords("Deploy  failed!"), searchWords("deploy failed"));
    assert.equal(searchWords("Deploy  failed!").length, 2);
    assert.equal(searchWords("¿?!").length, 0);
    assert.equal(mentionsMe(["Alice"], "alice"), true); // names compare case-insensitively
    assert.equal(mentionsMe(["@room"], "alice"), true);
    assert.equal(mentionsMe(["bob"], "alice"), false);
    assert.equal(mentionsMe(null, "alice"), false);
  });
});
