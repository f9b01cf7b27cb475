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
    poll = d["transport"] == "poll"
    if d["idle_s"] is not None:
        what = f"held idle {d['idle_s']:g}s"
    else:
        what = (f"{d['publishers_per_room']} publishers per room "
                + (f"{d['messages_each']} messages each" if d["duration_s"] is None else f"for {d['duration_s']:g}s")
                + f", window {d['window']}, {d['size']}-byte messages")
    console.print(f"[bold]parley bench[/] {d['url']} ({'long-polling' if poll else 'WebSocket'}): {d['clients']} "
                  f"clients in {d['rooms']} rooms, {what}, {d['users']} accounts")

    setup = "connect (tcp+first poll)" if poll else "connect (handshake+auth+join)"
    totals = Table(title="throughput", title_justify="left")
    for col in ("phase", "count", "seconds", "per second"):
        totals.add_column(col, justify="left" if col == "phase" else "right")
    totals.add_row(setup, _n(len(results.ready_ms)), f"{con['seconds']:.3f}", _n(con["per_s"]))
    if d["idle_s"] is None:
        totals.add_row("messages sent", _n(pub["sent"]), f"{pub['seconds']:.3f}", _n(pub["messages_per_s"]))
        totals.add_row("deliveries", f"{pub['deliveries']:,} of {pub['expected']:,}", f"{pub['seconds']:.3f}",
                       f"[bold]{_n(pub['deliveries_per_s'])}[/]")
    console.print(totals)

    latency = Table(title="latency", title_justify="left")
    for col in ("what", "p50", "p90", "p99", "max", "samples"):
        latency.add_column(col, justify="left" if col == "what" else "right")
    _latency_row(latency, "connect: tcp" if poll else "connect: handshake", con["handshake_ms"])
    _latency_row(latency, "connect: joined (first poll)" if poll else "connect: ready (+auth+join)", con["ready_ms"])
    if d["idle_s"] is None:
        _latency_row(latency, "message end to end", pub["latency_ms"])
    _latency_row(latency, "close (DELETE /api/poll)" if poll else "close", d["close"]["ms"])
    console.print(latency)
    _server(d, console)
    if "poll" in d:
        p, v = d["poll"], d["poll"]["verify"]
        console.print(f"polls answered {p['answers']:,} ({p['empty_answers']:,} empty), reconnects "
                      f"{p['reconnects']:,}, longest wait {p['max_wait_ms'] / 1000:,.1f} s; verified: "
                      f"{v['connected']:,} of {v['clients']:,} clients connected, lost {v['lost']:,}, "
                      f"duplicates {v['duplicates']:,}, clients short of messages {v['clients_short']:,}")

    if pub["failed"]:
        console.print(f"[red]{pub['failed']} sends failed[/] (error frames: "
                      + ", ".join(f"{k} x{v}" for k, v in d["errors"].items()) + ")")
    for warning in d["warnings"]:
        console.print(f"[yellow]warning:[/] {warning}")
    if d["error"]:
        console.print(f"[red bold]error:[/] {d['error']}")
    elif pub["failed"]:
        console.print(f"[red bold]incomplete:[/] the server rejected {pub['failed']:,} of {pub['sent']:,} sends")
    elif not results.verified:
        console.print("[red bold]incomplete:[/] a poll client lost messages, got some twice, or did not connect")
    elif not d["complete"]:
        console.print(f"[red bold]incomplete:[/] {pub['deliveries']:,} of {pub['expected']:,} deliveries")


def _server(d: dict[str, Any], console: Console) -> None:
    s = d["server"]
    if s["unavailable"]:
        console.print(f"server memory and CPU: not read ({s['unavailable']})")
        return
    rss = s["rss_kib"]
    parts = [f"{k} {v / 1024:,.1f} MiB" for k, v in rss.items() if v is not None]
    line = f"server pid {s['pid']} RSS: " + ", ".join(parts)
    if s["rss_kib_per_client"] is not None:
        line += f" ({s['rss_kib_per_client']:,.2f} KiB per connected client)"
    if s["cpu_s"] is not None:
        line += f"; CPU {s['cpu_s']:,.2f} s"
        if s["cpu_us_per_delivery"] is not None:
            line += f" ({s['cpu_us_per_delivery']:,.2f} µs per delivery)"
    console.print(line)
