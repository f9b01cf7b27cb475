"""The fault table's short profile (tests/faults/, docs/reliability.md): every scenario but the 35 s pg-stall,
against real servers —
kill -9 and SIGTERM on SQLite; on two nodes with PostgreSQL + Redis, a node killed or stopped, node b's Redis
or PostgreSQL link cut or paused through a proxy, Redis restarted; a slow consumer; a garbage flood — each
asserting that the fault took effect and that nothing acked was lost, nothing was stored or delivered twice,
and seq has no gaps. The cluster scenarios need PostgreSQL and redis-server (tests/scale/services.py: skipped
locally without them, failed under CI=true). `scripts/faults --profile full` runs the long version.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.scenarios import SCENARIOS, run_scenario

CASES = [pytest.param(name, marks=[pytest.mark.services] if spec.services else [], id=name)
         for name, spec in SCENARIOS.items() if spec.in_suite]  # (pg-stall waits out a 30 s timeout: script only)


@pytest.mark.parametrize("name", CASES)
async def test_fault_scenario_loses_and_duplicates_nothing(name: str, tmp_path: Path) -> None:
    result = await run_scenario(name, "short", tmp_path, catch=False)
    c = result.counts
    print(f"{name}: {result.observed}\n{c}")
    for line in result.details:
        print("   ", line)
    failed_faults = [f"{k.what} ({k.saw})" for k in result.checks if k.kind == "fault" and not k.ok]
    assert not failed_faults, f"the fault did not take effect: {failed_faults}"
    assert c.sent > 0 and c.acked == c.sent, c
    assert (c.lost, c.duplicated, c.gaps) == (0, 0, 0), (c.problems(), result.details[:10])
    assert (c.out_of_order, c.corrupt, c.unacked) == (0, 0, 0), (c.problems(), result.details[:10])
    assert c.acked <= c.stored_ours <= c.stored, c


class _Seen:
    """A chatter's record, as `count` reads it."""

    def __init__(self, user: str, seqs: list[int], acked: dict[str, int], sent: set[str]) -> None:
        self.user, self.seqs, self.acked = user, seqs, acked
        self.pending: dict[str, str] = {}
        self.sent_ids = sent


def _stored(*rows: tuple[int, str]) -> list[dict[str, object]]:
    return [{"seq": seq, "client_id": cid, "from": cid.split("-")[0], "text": f"{cid.split('-')[0]} says "
             f"{cid.split('-')[1]}"} for seq, cid in rows]


def test_the_count_reports_every_anomaly() -> None:
    """The checker itself: a clean history counts clean; each planted anomaly is counted where it belongs."""
    from tests.faults.counts import count

    stored = _stored((1, "u1-1-aa"), (2, "u2-1-bb"), (3, "u1-2-cc"))
    sent = {"u1-1-aa", "u2-1-bb", "u1-2-cc"}
    clean = count([_Seen("u1", [1, 2, 3], {"u1-1-aa": 1, "u1-2-cc": 3}, sent),
                   _Seen("u2", [1, 2, 3], {"u2-1-bb": 2}, sent)], stored)
    assert clean.ok and (clean.sent, clean.acked, clean.stored, clean.delivered) == (3, 3, 3, 6)

    bad = count([_Seen("u1", [1, 3, 3, 2], {"u1-1-aa": 1, "u1-2-cc": 3, "u1-3-dd": 4}, sent | {"u1-3-dd"}),
                 _Seen("u2", [1, 2], {"u2-1-bb": 2}, sent)],
                stored + _stored((5, "u2-1-bb")) + [{"seq": 6, "client_id": "u1-9-ee", "from": "u1", "text": "x"}])
    assert bad.lost_acked == 1  # u1-3-dd acked as seq 4, never stored
    assert bad.stored_twice == 1  # u2-1-bb at seq 2 and 5
    assert bad.store_gaps == 1  # seq 4 missing
    assert bad.delivered_twice == 1 and bad.out_of_order == 1 and bad.delivery_gaps == 1  # u1 got 1, 3, 3, 2
    assert bad.undelivered == 2 + 3  # u1 never got 5, 6; u2 never got 3, 5, 6
    assert bad.unacked == 0 and not bad.ok
    altered = [{**m, "text": "changed"} if m["seq"] == 2 else m for m in stored]
    assert count([_Seen("u1", [1, 2, 3], {}, sent)], altered).corrupt == 1
