"""Counting one scenario's outcome, Jepsen-style: what clients sent, what the server acked, what the room's
log holds, and what each client received — and the anomalies between them.

Unlike tests/scale/cluster.py's `verify`, which asserts on the first anomaly, `count` never raises: a
fault table must report what it found. Definitions (docs/reliability.md repeats them):

- sent: distinct client_ids the chatters sent (a resend of the same client_id counts once);
- acked: distinct client_ids that got an `ack` (duplicate acks included: they carry the original seq);
- stored: events in the room's log, read back over REST history after the run;
- delivered: distinct (client, seq) pairs of stored seqs the chatters received, against stored x clients;
- lost: acked but not stored under the acked seq (`lost_acked`), plus stored but never delivered to a
  chatter, all of which stayed in the room until the end (`undelivered`, counted per client);
- duplicated: a client_id stored twice (`stored_twice`), plus a seq delivered twice to one client
  (`delivered_twice`);
- gaps: numbers missing from the stored seqs 1..max (`store_gaps`), plus a client's deliveries jumping
  ahead (`delivery_gaps`); deliveries going backwards are `out_of_order`;
- unacked: sent but still without an ack when the run ended; corrupt: stored with another sender or
  text than the chatter sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol


class Counted(Protocol):
    """What `count` needs of a client (tests/scale/cluster.py's Chatter has it)."""

    user: str
    seqs: list[int]
    acked: dict[str, int]
    pending: dict[str, str]

    @property
    def sent_ids(self) -> set[str]: ...


@dataclass
class Counts:
    """One scenario's numbers; `ok` holds when nothing was lost, duplicated, reordered or corrupted."""

    clients: int = 0
    sent: int = 0
    acked: int = 0
    stored: int = 0
    stored_ours: int = 0  # stored events whose client_id a chatter sent
    delivered: int = 0
    expected_deliveries: int = 0  # stored x clients
    lost: int = 0
    lost_acked: int = 0
    undelivered: int = 0
    duplicated: int = 0
    stored_twice: int = 0
    delivered_twice: int = 0
    gaps: int = 0
    store_gaps: int = 0
    delivery_gaps: int = 0
    out_of_order: int = 0
    unacked: int = 0
    corrupt: int = 0

    @property
    def ok(self) -> bool:
        return (self.lost, self.duplicated, self.gaps, self.out_of_order, self.corrupt, self.unacked) == (0,) * 6 \
            and self.acked <= self.stored_ours

    def problems(self) -> list[str]:
        """Each anomaly, in words (empty when `ok`)."""
        out = [f"{name.replace('_', ' ')} {value}" for name, value in (
            ("lost_acked", self.lost_acked), ("undelivered", self.undelivered), ("stored_twice", self.stored_twice),
            ("delivered_twice", self.delivered_twice), ("store_gaps", self.store_gaps),
            ("delivery_gaps", self.delivery_gaps), ("out_of_order", self.out_of_order),
            ("corrupt", self.corrupt), ("unacked", self.unacked)) if value]
        if self.acked > self.stored_ours:
            out.append(f"acked {self.acked} > stored {self.stored_ours}")
        return out

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def expected_text(client_id: str) -> tuple[str, str] | None:
    """(sender, text) a Chatter sends under this client_id ("<user>-<n>-<hex>" carries "<user> says <n>")."""
    user, sep, rest = client_id.rpartition("-")[0].rpartition("-")
    if not sep or not user or not rest.isdigit():
        return None
    return user, f"{user} says {rest}"


def count(chatters: Sequence[Counted], stored: list[dict[str, Any]], details: list[str] | None = None) -> Counts:
    """Compare every chatter's view with the room's stored log. Anomalies are also described in `details`."""
    notes = details if details is not None else []
    c = Counts(clients=len(chatters))
    sent = set().union(*(ch.sent_ids for ch in chatters)) if chatters else set()
    acked = {cid: seq for ch in chatters for cid, seq in ch.acked.items()}
    c.sent, c.acked, c.stored = len(sent), len(acked), len(stored)
    c.unacked = len(sent - set(acked))

    seqs = [m["seq"] for m in stored]
    top = max(seqs, default=0)
    c.store_gaps = top - len(set(seqs))
    if c.store_gaps:
        notes.append(f"stored seqs missing: {sorted(set(range(1, top + 1)) - set(seqs))[:20]}")
    by_cid = Counter(m.get("client_id") for m in stored if m.get("client_id") is not None)
    c.stored_twice = sum(n - 1 for n in by_cid.values() if n > 1)
    if c.stored_twice:
        notes.append(f"client_ids stored twice: {[cid for cid, n in by_cid.items() if n > 1][:10]}")
    ours = [m for m in stored if m.get("client_id") in sent]
    c.stored_ours = len(ours)
    seqs_of: dict[str, set[int]] = {}
    for m in ours:
        seqs_of.setdefault(m["client_id"], set()).add(m["seq"])
    for cid, seq in sorted(acked.items()):
        if seq not in seqs_of.get(cid, set()):
            c.lost_acked += 1
            notes.append(f"acked {cid} as seq {seq}, the store has {sorted(seqs_of.get(cid, set()))}")
    for m in ours:
        want = expected_text(m["client_id"])
        if want is not None and want != (m.get("from"), m.get("text")):
            c.corrupt += 1
            notes.append(f"seq {m['seq']} stored as {m.get('from')!r}: {m.get('text')!r}, sent as {want}")

    wanted = set(seqs)
    c.expected_deliveries = len(wanted) * len(chatters)
    for ch in chatters:
        got = set(ch.seqs)
        c.delivered += len(got & wanted)
        missed = wanted - got
        c.undelivered += len(missed)
        twice = {s: n for s, n in Counter(ch.seqs).items() if n > 1}
        c.delivered_twice += sum(n - 1 for n in twice.values())
        previous, seen = 0, set[int]()
        for s in ch.seqs:
            if s in seen:
                continue  # counted in delivered_twice
            if s < previous:
                c.out_of_order += 1
            elif s > previous + 1:
                c.delivery_gaps += 1
            seen.add(s)
            previous = max(previous, s)
        if missed or twice:
            notes.append(f"{ch.user}: missing {sorted(missed)[:20]}, twice {sorted(twice)[:20]}")
    c.lost = c.lost_acked + c.undelivered
    c.duplicated = c.stored_twice + c.delivered_twice
    c.gaps = c.store_gaps + c.delivery_gaps
    return c
