"""The backend-independent part of storing a batch: finding duplicates, building rows, shaping results.

Pure functions shared by every Store: a backend looks up which (sender, client_id) keys exist, asks
`plan` what is new, reserves seqs, inserts `rows`, and returns `outcome`. Rows are tuples in the order
of schema.EVENT_COLUMNS, which every backend selects and inserts.
"""

from dataclasses import dataclass, field
from typing import Any

from parley.protocol.events import RoomEvent, build
from parley.store.base import NewEvent, Saved

Key = tuple[str, str]
Row = tuple[Any, ...]  # (room, seq, kind, sender, text, ts, client_id, data)


def event_of(row: Row) -> RoomEvent:
    """The event of a stored row (columns in schema.EVENT_COLUMNS order)."""
    return build(*row)


def key_of(row: Row) -> Key:
    return (row[3], row[6])


@dataclass
class Plan:
    """What a batch will store: `fresh` events (first of their key, not stored before) per room."""

    batch: list[NewEvent]
    known: dict[Key, RoomEvent]
    fresh: list[NewEvent] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def rows(self, first_seq: dict[str, int], ts: int) -> list[Row]:
        """Assign seqs from each room's first reserved seq; the rows to insert, in batch order."""
        out = []
        for e in self.fresh:
            seq = first_seq[e.room]
            first_seq[e.room] = seq + 1
            row = (e.room, seq, e.kind, e.sender, e.text, ts, e.client_id, e.data)
            self.known[(e.sender, e.client_id)] = event_of(row)
            out.append(row)
        return out

    def outcome(self) -> list[Saved]:
        """One Saved per batch item: the first fresh occurrence of a key is new, every other a duplicate."""
        fresh_keys = {(e.sender, e.client_id) for e in self.fresh}
        out = []
        for e in self.batch:
            key = (e.sender, e.client_id)
            new = key in fresh_keys
            fresh_keys.discard(key)
            out.append(Saved(event=self.known[key], duplicate=not new))
        return out


def keys(batch: list[NewEvent]) -> list[Key]:
    return list({(e.sender, e.client_id) for e in batch})


def plan(batch: list[NewEvent], known: dict[Key, RoomEvent]) -> Plan:
    """Given the already stored events `known` by key, decide what the batch adds."""
    p = Plan(batch=batch, known=known)
    seen: set[Key] = set()
    for e in batch:
        key = (e.sender, e.client_id)
        if key not in known and key not in seen:
            seen.add(key)
            p.fresh.append(e)
            p.counts[e.room] = p.counts.get(e.room, 0) + 1
    return p
