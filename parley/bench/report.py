"""Presenting a run: a rich table for people, one JSON object (--json) for scripts and CI."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.table import Table

from parley.bench.stats import Results


def to_json(results: Results) -> str:
    return json.dumps(results.to_dict(), separators=(",", ":"))


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f} ms"


def _n(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _latency_row(table: Table, name: str, s: dict[str, Any]) -> None:
    table.add_row(name, _ms(s["p50"]), _ms(s["p90"]), _ms(s["p99"]), _ms(s["max"]), _n(s["count"]))


def render(results: Results, console: Console) -> None:
    """The run's setup, throughput, latency tables, then warnings and the error, if any."""
    d = results.to_dict()
    con, pub = d["connect"], d["publish"]
    what = (f"{d['messages_each']} messages each" if d["duration_s"] is None else f"for {d['duration_s']:g}s")
    console.print(f"[bold]parley bench[/] {d['url']}: {d['clients']} clients in {d['rooms']} rooms, "
                  f"{d['publishers_per_room']} publishers per room {what}, window {d['window']}, "
                  f"{d['size']}-byte messages, {d['users']} accounts")

    totals = Table(title="throughput", title_justify="left")
    for col in ("phase", "count", "seconds", "per second"):
        totals.add_column(col, justify="left" if col == "phase" else "right")
    totals.add_row("connect (handshake+auth+join)", _n(len(results.ready_ms)), f"{con['seconds']:.3f}",
                   _n(con["per_s"]))
    totals.add_row("messages sent", _n(pub["sent"]), f"{pub['seconds']:.3f}", _n(pub["messages_per_s"]))
    totals.add_row("deliveries", f"{pub['deliveries']:,} of {pub['expected']:,}", f"{pub['seconds']:.3f}",
                   f"[bold]{_n(pub['deliveries_per_s'])}[/]")
    console.print(totals)

    latency = Table(title="latency", title_justify="left")
    for col in ("what", "p50", "p90", "p99", "max", "samples"):
        latency.add_column(col, justify="left" if col == "what" else "right")
    _latency_row(latency, "connect: handshake", con["handshake_ms"])
    _latency_row(latency, "connect: ready (+auth+join)", con["ready_ms"])
    _latency_row(latency, "message end to end", pub["latency_ms"])
    _latency_row(latency, "close", d["close"]["ms"])
    console.print(latency)

    if pub["failed"]:
        console.print(f"[red]{pub['failed']} sends failed[/] (error frames: "
                      + ", ".join(f"{k} x{v}" for k, v in d["errors"].items()) + ")")
    for warning in d["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
    if d["error"]:
        console.print(f"[red bold]error:[/] {d['error']}")
    elif pub["failed"]:
        console.print(f"[red bold]incomplete:[/] the server rejected {pub['failed']:,} of {pub['sent']:,} sends")
    elif not d["complete"]:
        console.print(f"[red bold]incomplete:[/] {pub['deliveries']:,} of {pub['expected']:,} deliveries")
