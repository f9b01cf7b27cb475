// requests.test.mjs — Unit tests of the page's request bookkeeping (requests.js: refs issued per kind, each
// request's context kept until its answer takes it, timeouts, what a dropped connection fails) and of the
// room list's pure reckonings (roomstate.js: kinds, sidebar order, the title's unread badge), run by Node's
// own test runner (`node --test tests/web/`, from tests/test_web_units.py). Timers are a hand-driven clock.

import assert from "node:assert/strict";
import { describe, test } from "node:test";

const { namedRef, refKey, refKind, Requests } = await import("../../parley/web/requests.js");
const { kindOf, sortRooms, titleBadge, unreadTotals } = await import("../../parley/web/roomstate.js");

/** A clock the test moves by hand: setTimer/clearTimer for Requests, and `advance(ms)`. */
function manualClock() {
  let now = 0;
  let next = 1;
  const timers = new Map(); // id -> {at, fn}
  return {
    setTimer: (fn, ms) => {
      timers.set(next, { at: now + ms, fn });
      return next++;
    },
    clearTimer: (id) => timers.delete(id),
    advance(ms) {
      now += ms;
      for (const [id, t] of [...timers].sort((a, b) => a[1].at - b[1].at)) {
        if (t.at > now || !timers.has(id)) continue;
        timers.delete(id);
        t.fn();
      }
    },
    get armed() {
      return timers.size;
    },
  };
}

describe("requests", () => {
  test("refs are numbered per kind, in the wire format the page has always sent", () => {
    const reqs = new Requests();
    assert.equal(reqs.issue("hist", { room: "general" }), "hist:1");
    assert.equal(reqs.issue("hist", { room: "dev" }), "hist:2");
    assert.equal(reqs.issue("act", {}), "act:1"); // each kind counts on its own
    assert.equal(reqs.issue("hist", {}), "hist:3");
    assert.equal(reqs.pending(), 4);
    assert.equal(reqs.pending("hist"), 3);
    assert.equal(reqs.pending("act"), 1);
  });

  test("a ref is never issued twice, even once its request is answered or dropped", () => {
    const reqs = new Requests();
    const seen = new Set();
    for (let i = 0; i < 50; i++) {
      const ref = reqs.issue(i % 2 ? "act" : "hist", i);
      assert.ok(!seen.has(ref), ref);
      seen.add(ref);
      if (i % 3 === 0) reqs.take(ref);
      if (i % 10 === 0) reqs.dropAll();
    }
  });

  test("an answer takes its own request's context, once", () => {
    const reqs = new Requests();
    const a = reqs.issue("hist", { room: "general", limit: 50 });
    const b = reqs.issue("hist", { room: "dev", limit: 50 });
    assert.deepEqual(reqs.get(b), { kind: "hist", context: { room: "dev", limit: 50 } }); // get() leaves it
    assert.deepEqual(reqs.take(b), { kind: "hist", context: { room: "dev", limit: 50 } });
    assert.equal(reqs.take(b), null); // a duplicate answer finds nothing
    assert.equal(reqs.get(b), null);
    assert.deepEqual(reqs.take(a).context, { room: "general", limit: 50 });
    assert.equal(reqs.pending(), 0);
  });

  test("unknown refs, refs of another kind and missing refs are ignored", () => {
    const reqs = new Requests();
    const ref = reqs.issue("act", "edit");
    assert.equal(reqs.take("act:99"), null);
    assert.equal(reqs.take("hist:1"), null);
    assert.equal(reqs.take(undefined), null);
    assert.equal(reqs.take(null), null);
    assert.equal(reqs.take(""), null);
    assert.equal(reqs.take(ref, "hist"), null); // a `history` frame carrying an act's ref does not take it
    assert.equal(reqs.pending("act"), 1);
    assert.deepEqual(reqs.take(ref, "act"), { kind: "act", context: "edit" });
  });

  test("dropAll returns every request still waiting, oldest first, and forgets them", () => {
    const reqs = new Requests();
    const h1 = reqs.issue("hist", { room: "general" });
    const a1 = reqs.issue("act", "react");
    const a2 = reqs.issue("act", "delete");
    reqs.take(a1);
    assert.deepEqual(reqs.dropAll(), [
      { ref: h1, kind: "hist", context: { room: "general" } },
      { ref: a2, kind: "act", context: "delete" },
    ]);
    assert.equal(reqs.pending(), 0);
    assert.equal(reqs.take(a2), null); // a late answer after the drop is ignored
    assert.deepEqual(reqs.dropAll(), []);
    assert.equal(reqs.issue("act", "again"), "act:3"); // numbering goes on after a drop
  });

  test("dropAll(kind) drops only that kind", () => {
    const reqs = new Requests();
    const h = reqs.issue("hist", "page");
    const a = reqs.issue("act", "edit");
    assert.deepEqual(
      reqs.dropAll("act").map((r) => r.ref),
      [a],
    );
    assert.deepEqual(reqs.get(h), { kind: "hist", context: "page" });
    assert.deepEqual(
      reqs.dropAll("hist").map((r) => r.context),
      ["page"],
    );
  });

  test("a request not answered in time is dropped and its timeout told, once", () => {
    const clock = manualClock();
    const reqs = new Requests(clock);
    const timedOut = [];
    const onTimeout = (context, ref) => timedOut.push([ref, context]);
    const slow = reqs.issue("act", "edit", { timeoutMs: 15_000, onTimeout });
    const quick = reqs.issue("act", "react", { timeoutMs: 15_000, onTimeout });
    const forever = reqs.issue("hist", "page"); // no timeout
    clock.advance(10_000);
    assert.deepEqual(reqs.take(quick), { kind: "act", context: "react" });
    assert.equal(clock.armed, 1); // an answered request's timer is cleared
    clock.advance(4_999);
    assert.deepEqual(timedOut, []);
    clock.advance(1);
    assert.deepEqual(timedOut, [[slow, "edit"]]);
    assert.equal(reqs.take(slow), null); // its answer, if it ever comes, is ignored
    clock.advance(60_000);
    assert.deepEqual(timedOut, [[slow, "edit"]]);
    assert.deepEqual(reqs.take(forever).context, "page");
  });

  test("dropping clears the timers: a dropped request does not time out later", () => {
    const clock = manualClock();
    const reqs = new Requests(clock);
    let told = 0;
    reqs.issue("act", "edit", { timeoutMs: 100, onTimeout: () => told++ });
    assert.equal(reqs.dropAll().length, 1);
    assert.equal(clock.armed, 0);
    clock.advance(1000);
    assert.equal(told, 0);
  });

  test("the real timers work too", async () => {
    const reqs = new Requests();
    const gone = new Promise((resolve) => reqs.issue("act", "edit", { timeoutMs: 5, onTimeout: (ctx) => resolve(ctx) }));
    assert.equal(await gone, "edit");
    assert.equal(reqs.pending(), 0);
  });

  test("named refs of fire-and-forget frames, and reading a ref's kind back", () => {
    assert.equal(namedRef("join", "general"), "join:general");
    assert.equal(namedRef("read", "dm.alice.bob"), "read:dm.alice.bob");
    assert.equal(refKind("join:general"), "join");
    assert.equal(refKey("join:general"), "general");
    assert.equal(refKey("join:a:b"), "a:b"); // only the first ":" ends the kind
    assert.equal(refKind("hist:12"), "hist");
    assert.equal(refKind("call:3"), "call");
    // A message's ref is its client_id (outbox.js): no kind, so the error goes to the outbox.
    assert.equal(refKind("3f2a9c1e-1111-4222-8333-444455556666"), "");
    assert.equal(refKey("3f2a9c1e-1111-4222-8333-444455556666"), "");
    assert.equal(refKind(":odd"), "");
    assert.equal(refKind(undefined), "");
    assert.equal(refKind(null), "");
    assert.equal(refKind(7), "");
  });
});

describe("room list state", () => {
  test("a room's kind comes from its visibility, else from a dm. name", () => {
    assert.equal(kindOf("general", { visibility: "public" }), "public");
    assert.equal(kindOf("secret", { visibility: "private" }), "private");
    assert.equal(kindOf("dm.a.b", { visibility: "dm" }), "dm");
    assert.equal(kindOf("dm.a.b", {}), "dm"); // not yet in the room list: the name tells
    assert.equal(kindOf("dm.a.b", null), "dm");
    assert.equal(kindOf("general", null), "public");
    assert.equal(kindOf("dm.looks-like", { visibility: "public" }), "public"); // the server's word wins
  });

  test("the sidebar lists rooms first, then DMs, each by label regardless of case", () => {
    const rooms = [
      { name: "dm.me.zoe", isDm: true, label: "Zoe" },
      { name: "zeta", isDm: false, label: "zeta" },
      { name: "Alpha", isDm: false, label: "Alpha" },
      { name: "dm.me.al", isDm: true, label: "al" },
      { name: "beta", isDm: false, label: "beta" },
    ];
    const order = sortRooms(new Set(rooms), (r) => r.label).map((r) => r.name);
    assert.deepEqual(order, ["Alpha", "beta", "zeta", "dm.me.al", "dm.me.zoe"]);
    assert.deepEqual(sortRooms([], (r) => r.label), []);
  });

  test("the title counts mentions of you when there are any, else unread messages", () => {
    const rooms = [
      { unread: 3, mentions: 0 },
      { unread: 2, mentions: 0 },
    ];
    assert.deepEqual(unreadTotals(rooms), { unread: 5, mentions: 0 });
    assert.equal(titleBadge(unreadTotals(rooms)), "(5) ");
    assert.equal(titleBadge(unreadTotals([...rooms, { unread: 1, mentions: 2 }])), "(@2) ");
    assert.equal(titleBadge(unreadTotals([])), "");
    assert.equal(titleBadge({ unread: 0, mentions: 0 }), "");
  });
});
