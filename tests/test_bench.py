"""`parley bench` end to end against a real server: every message delivered, the JSON report, the plot.

Behaviour only, never timings: the numbers a run measures depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def bench(url: str, *args: str) -> tuple[int, dict[str, Any], str]:
    """Run `parley bench --url URL --json ARGS`; its exit code, the JSON object it printed, and stderr."""
    run = subprocess.run([sys.executable, "-m", "parley", "bench", "--url", url, "--json", "--timeout", "60",
                          *args], capture_output=True, text=True, timeout=300)
    lines = [line for line in run.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected one JSON line, got:\n{run.stdout}\nstderr:\n{run.stderr}"
    return run.returncode, json.loads(lines[0]), run.stderr


def test_bench_delivers_every_message_and_reports_json_and_plot(make_server, tmp_path: Path) -> None:
    srv = make_server("--rate", "0")
    clients, rooms, publishers, messages = 20, 2, 2, 10
    plot = tmp_path / "latency.png"
    code, report, err = bench(srv.ws_url, "--clients", str(clients), "--rooms", str(rooms), "--publishers",
                              str(publishers), "--messages", str(messages), "--users", "4", "--plot", str(plot))
    assert code == 0, f"{report}\n{err}"

    members = clients // rooms
    expected = rooms * publishers * messages * members  # every member of a room gets every message of it
    pub = report["publish"]
    assert pub["sent"] == rooms * publishers * messages
    assert pub["failed"] == 0 and report["errors"] == {}
    assert pub["deliveries"] == pub["expected"] == expected
    assert report["complete"] is True and report["error"] is None

    for key in ("url", "clients", "rooms", "publishers_per_room", "messages_each", "window", "size", "users",
                "connect", "publish", "close", "errors", "complete", "warnings"):
        assert key in report, key
    assert (report["clients"], report["rooms"], report["publishers_per_room"]) == (clients, rooms, publishers)
    assert report["users"] == 4
    assert report["connect"]["ready_ms"]["count"] == clients
    assert report["connect"]["handshake_ms"]["count"] == clients
    assert report["close"]["ms"]["count"] == clients
    for key in ("p50", "p90", "p99", "max"):
        assert isinstance(pub["latency_ms"][key], float | int), key
    assert pub["latency_ms"]["count"] > 0
    assert isinstance(pub["deliveries_per_s"], int) and pub["deliveries_per_s"] > 0

    assert plot.read_bytes()[:8] == PNG_SIGNATURE


def test_bench_duration_mode_ends_with_all_accepted_messages_delivered(make_server) -> None:
    srv = make_server("--rate", "0")
    code, report, err = bench(srv.ws_url, "--clients", "6", "--rooms", "2", "--publishers", "1",
                              "--duration", "0.5", "--users", "2")
    assert code == 0, f"{report}\n{err}"
    pub = report["publish"]
    assert report["messages_each"] is None and report["duration_s"] == 0.5
    assert pub["sent"] > 0
    assert pub["deliveries"] == pub["expected"] == pub["sent"] * 3  # 3 members per room


def test_bench_says_when_the_server_rate_limits(make_server) -> None:
    srv = make_server("--rate", "0.01", "--burst", "1")  # one message, then none for 100 s
    code, report, _ = bench(srv.ws_url, "--clients", "4", "--publishers", "1", "--messages", "10",
                            "--users", "1")
    assert code == 1
    assert report["complete"] is False
    assert report["errors"].get("rate_limited", 0) > 0
    assert report["publish"]["failed"] == report["errors"]["rate_limited"]
    assert report["publish"]["deliveries"] == report["publish"]["expected"]  # the accepted ones all arrived
    assert any("rate-limited" in w and "--rate 0" in w for w in report["warnings"]), report["warnings"]


def test_bench_explains_a_wrong_websocket_path(make_server) -> None:
    srv = make_server()
    code, report, _ = bench(srv.ws_url.replace("/ws", "/not-here"), "--clients", "2", "--users", "1",
                            "--messages", "0")
    assert code == 1
    assert "404" in report["error"] and "/not-here" in report["error"]
