"""Latency summaries (nearest-rank percentiles) and the results of one `parley bench` run."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

QUANTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("p999", 0.999))


def percentile(ordered: list[float], q: float) -> float | None:
    """The nearest-rank q-quantile (0 < q <= 1) of an ascending list; None for no values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(values: list[float]) -> dict[str, Any]:
    """count, min, mean, p50, p90, p99, p99.9 and max of `values` (milliseconds), rounded to microseconds."""
    ordered = sorted(values)
    out: dict[str, Any] = {"count": len(ordered)}
    if not ordered:
        return {**out, "min": None, "mean": None, **{k: None for k, _ in QUANTILES}, "max": None}
    out["min"] = round(ordered[0], 3)
    out["mean"] = round(sum(ordered) / len(ordered), 3)
    for key, q in QUANTILES:
        value = percentile(ordered, q)
        out[key] = round(value, 3) if value is not None else None
    out["max"] = round(ordered[-1], 3)
    return out


@dataclass
class Results:
    """Everything one run measured; `to_dict` is the --json output."""

    options: dict[str, Any]
    accounts: int = 0
    connect_seconds: float = 0.0
    handshake_ms: list[float] = field(default_factory=list)  # TCP connect + HTTP upgrade (poll: TCP connect)
    ready_ms: list[float] = field(default_factory=list)  # handshake + auth + join, until `joined` (poll: the
    # TCP connect and the first poll, until its answer with `joined`)
    sent: int = 0  # send frames written
    failed: int = 0  # sends answered with an error frame (nothing stored)
    deliveries: int = 0  # `message` frames received by all members together
    expected: int = 0  # deliveries the successful sends should produce
    publish_seconds: float = 0.0
    client_cpu_s: float = 0.0  # CPU seconds this bench process used during the publish phase
    latency_ms: list[float] = field(default_factory=list)  # end to end, from sampled members
    close_ms: list[float] = field(default_factory=list)  # close frame sent until the TCP connection ended
    errors: Counter[str] = field(default_factory=Counter)  # error frame codes
    error: str | None = None  # why the run stopped early
    warnings: list[str] = field(default_factory=list)
    idle_seconds: float = 0.0  # how long the clients were held idle (--idle)
    server_pid: int | None = None
    server_why: str | None = None  # why the server's memory and CPU could not be read
    server_rss_kib: dict[str, int | None] = field(default_factory=dict)  # before / connected / peak / end
    server_cpu_s: float | None = None  # server CPU seconds over the publish (or idle) phase
    poll: dict[str, Any] | None = None  # --transport poll: answers, reconnects, and the seq verification

    @property
    def verified(self) -> bool:
        """Poll clients: every client connected, nothing lost, nothing twice, every client got all it was owed."""
        if self.poll is None:
            return True
        v = self.poll["verify"]
        return (v["connected"] == v["clients"] and not v["lost"] and not v["duplicates"]
                and not v["clients_short"])

    @property
    def complete(self) -> bool:
        return self.error is None and not self.failed and self.deliveries == self.expected and self.verified

    def _server(self) -> dict[str, Any]:
        rss = self.server_rss_kib
        before, connected = rss.get("before"), rss.get("connected")
        clients = len(self.ready_ms)
        per_client = (round((connected - before) / clients, 2)
                      if before is not None and connected is not None and clients else None)
        cpu = self.server_cpu_s
        return {
            "pid": self.server_pid,
            "unavailable": self.server_why,
            "rss_kib": {k: rss.get(k) for k in ("before", "connected", "peak", "end")},
            "rss_kib_per_client": per_client,
            "cpu_s": round(cpu, 3) if cpu is not None else None,
            "cpu_us_per_delivery": (round(cpu * 1e6 / self.deliveries, 2)
                                    if cpu is not None and self.deliveries else None),
        }

    def to_dict(self) -> dict[str, Any]:
        opts = self.options
        per_s = self.deliveries / self.publish_seconds if self.publish_seconds else None
        sends_per_s = self.sent / self.publish_seconds if self.publish_seconds else None
        out = {
            "url": opts["url"],
            "transport": opts.get("transport", "ws"),
            "clients": opts["clients"],
            "rooms": opts["rooms"],
            "publishers_per_room": opts["publishers"],
            "messages_each": None if opts["duration"] is not None else opts["messages"],
            "duration_s": opts["duration"],
            "window": opts["window"],
            "size": opts["size"],
            "users": self.accounts,
            "connect": {
                "seconds": round(self.connect_seconds, 3),
                "per_s": round(len(self.ready_ms) / self.connect_seconds) if self.connect_seconds else None,
                "handshake_ms": summarize(self.handshake_ms),
                "ready_ms": summarize(self.ready_ms),
            },
            "publish": {
                "sent": self.sent,
                "failed": self.failed,
                "deliveries": self.deliveries,
                "expected": self.expected,
                "seconds": round(self.publish_seconds, 3),
                "deliveries_per_s": round(per_s) if per_s is not None else None,
                "messages_per_s": round(sends_per_s) if sends_per_s is not None else None,
                "client_cpu_s": round(self.client_cpu_s, 3),
                "latency_ms": summarize(self.latency_ms),
            },
            "close": {"ms": summarize(self.close_ms)},
            "idle_s": round(self.idle_seconds, 3) if opts.get("idle") is not None else None,
            "server": self._server(),
            "errors": dict(self.errors),
            "complete": self.complete,
            "error": self.error,
            "warnings": list(self.warnings),
        }
        if self.poll is not None:
            out["poll"] = self.poll
        return out
