"""The backend-independent part of storing a batch: finding duplicates and shaping the results.

Pure functions shared by every Store: a backend looks up which (sender, client_id) keys exist, asks
`plan` what is new, reserves seqs, inserts `rows`, and returns `outcome`.
"""

from dataclasses import dataclass, field

from parley.protocol.frames import Message
from parley.store.base import NewMessage, Saved

Key = tuple[str, str]


@dataclass
class Plan:
    """What a batch will store: `fresh` messages (first of their key, not stored before) per room."""

    batch: list[NewMessage]
    known: dict[Key, Message]
    fresh: list[NewMessage] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)

    def rows(self, first_seq: dict[str, int], ts: int) -> list[Message]:
        """Assign seqs from each room's first reserved seq; the messages to insert, in batch order."""
        out = []
        for m in self.fresh:
            seq = first_seq[m.room]
            first_seq[m.room] = seq + 1
            msg = Message(room=m.room, seq=seq, sender=m.sender, text=m.text, ts=ts, client_id=m.client_id)
            self.known[(m.sender, m.client_id)] = msg
            out.append(msg)
        return out

    def outcome(self) -> list[Saved]:
        """One Saved per batch item: the first fresh occurrence of a key is new, every other a duplicate."""
        fresh_keys = {(m.sender, m.client_id) for m in self.fresh}
        out = []
        for m in self.batch:
            key = (m.sender, m.client_id)
            new = key in fresh_keys
            fresh_keys.discard(key)
            out.append(Saved(message=self.known[key], duplicate=not new))
        return out


def keys(batch: list[NewMessage]) -> list[Key]:
    return list({(m.sender, m.client_id) for m in batch})


def plan(batch: list[NewMessage], known: dict[Key, Message]) -> Plan:
    """Given the already stored messages `known` by key, decide what the batch adds."""
    p = Plan(batch=batch, known=known)
    seen: set[Key] = set()
    for m in batch:
        key = (m.sender, m.client_id)
        if key not in known and key not in seen:
            seen.add(key)
            p.fresh.append(m)
            p.counts[m.room] = p.counts.get(m.room, 0) + 1
    return p
