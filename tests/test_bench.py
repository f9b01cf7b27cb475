"""`parley bench` end to end against a real server: every message delivered, the JSON report, the plot;
over WebSocket and long-polling (`--transport poll`: every client's seqs checked), and idle runs.

Behaviour only, never timings: the numbers a run measures depend on the machine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

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


# --transport poll: long-polling clients (docs/protocol.md section 4) ---------------------------------------


def test_poll_bench_delivers_every_message_once_to_every_client(make_server) -> None:
    srv = make_server("--rate", "0")
    clients, rooms, publishers, messages = 24, 2, 2, 10
    code, report, err = bench(srv.http, "--transport", "poll", "--clients", str(clients), "--rooms", str(rooms),
                              "--publishers", str(publishers), "--messages", str(messages), "--window", "3",
                              "--users", "3", "--sample", "2")
    assert code == 0, f"{report}\n{err}"
    assert report["transport"] == "poll"
    members = clients // rooms
    expected = rooms * publishers * messages * members
    pub = report["publish"]
    assert pub["sent"] == rooms * publishers * messages
    assert pub["failed"] == 0 and report["errors"] == {}
    assert pub["deliveries"] == pub["expected"] == expected
    assert pub["latency_ms"]["count"] > 0
    v = report["poll"]["verify"]
    assert (v["clients"], v["connected"]) == (clients, clients)
    assert (v["lost"], v["duplicates"], v["rewinds"], v["clients_short"]) == (0, 0, 0, 0)
    assert report["poll"]["reconnects"] == 0
    assert report["connect"]["ready_ms"]["count"] == clients
    assert report["close"]["ms"]["count"] == clients  # one DELETE /api/poll per client
    assert report["complete"] is True and report["error"] is None
    assert report["server"]["pid"] is not None  # the server runs here: its memory and CPU were read
    assert report["server"]["rss_kib"]["before"] > 0 and report["server"]["cpu_s"] is not None


def test_poll_bench_duration_mode(make_server) -> None:
    srv = make_server("--rate", "0")
    code, report, err = bench(srv.ws_url, "--transport", "poll", "--clients", "6", "--rooms", "2",
                              "--publishers", "1", "--duration", "0.5", "--users", "2")
    assert code == 0, f"{report}\n{err}"
    pub = report["publish"]
    assert pub["sent"] > 0
    assert pub["deliveries"] == pub["expected"] == pub["sent"] * 3  # 3 members per room
    assert report["poll"]["verify"]["lost"] == report["poll"]["verify"]["duplicates"] == 0


@pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)  # about idle pollers, not the store
def test_poll_bench_idle_holds_clients_and_reads_the_server_memory(make_server) -> None:
    srv = make_server()
    clients = 30
    code, report, err = bench(srv.http, "--transport", "poll", "--clients", str(clients), "--idle", "2.5",
                              "--poll-timeout", "1")
    assert code == 0, f"{report}\n{err}"
    assert report["idle_s"] >= 2.5
    assert report["users"] == 20  # the default; at least clients / 10 (the server's limit per user)
    assert report["publish"]["sent"] == report["publish"]["deliveries"] == 0
    poll = report["poll"]
    assert poll["verify"]["connected"] == clients
    assert poll["empty_answers"] >= clients  # every client's poll timed out (1 s) and it polled again
    server = report["server"]
    assert server["pid"] is not None and server["unavailable"] is None
    for key in ("before", "connected", "peak", "end"):
        assert server["rss_kib"][key] > 0, key
    assert isinstance(server["rss_kib_per_client"], float | int)
    assert report["complete"] is True


def test_ws_bench_idle_mode(make_server) -> None:
    srv = make_server()
    code, report, err = bench(srv.ws_url, "--clients", "10", "--idle", "0.5", "--users", "2")
    assert code == 0, f"{report}\n{err}"
    assert report["transport"] == "ws" and "poll" not in report
    assert report["connect"]["ready_ms"]["count"] == 10 and report["close"]["ms"]["count"] == 10
    assert report["server"]["rss_kib"]["connected"] > 0
    assert report["complete"] is True


def test_poll_bench_says_when_the_server_rate_limits_posts(make_server) -> None:
    srv = make_server("--rate", "0.01", "--burst", "1")
    code, report, _ = bench(srv.http, "--transport", "poll", "--clients", "4", "--publishers", "1",
                            "--messages", "10", "--users", "1")
    assert code == 1
    assert report["errors"].get("rate_limited", 0) > 0
    assert report["publish"]["failed"] == report["errors"]["rate_limited"]
    assert report["publish"]["deliveries"] == report["publish"]["expected"]  # the accepted ones all arrived
    assert report["poll"]["verify"]["lost"] == 0
    assert any("rate-limited" in w for w in report["warnings"]), report["warnings"]


def test_poll_bench_needs_an_account_per_ten_clients() -> None:
    run = subprocess.run([sys.executable, "-m", "parley", "bench", "--transport", "poll", "--clients", "25",
                          "--users", "2"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "at least 3" in run.stderr


def test_bench_http_client_reads_chunked_and_length_delimited_answers() -> None:
    from parley.bench.http import HttpConnection

    class Owner:
        def __init__(self) -> None:
            self.answers: list[tuple[int, bytes]] = []
            self.ended: list[Exception | None] = []

        def answered(self, conn: HttpConnection, status: int, body: bytes) -> None:
            self.answers.append((status, body))

        def lost(self, conn: HttpConnection, exc: Exception | None) -> None:
            self.ended.append(exc)

    owner = Owner()
    conn = HttpConnection(owner)
    stream = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
              b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4;x=y\r\ndefg\r\n0\r\n\r\n"
              b"HTTP/1.1 204 No Content\r\n\r\n"
              b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\n\r\n{}")
    for i in range(0, len(stream), 7):  # in pieces, as TCP may deliver it
        conn.data_received(stream[i:i + 7])
    assert owner.answers == [(200, b"hello"), (200, b"abcdefg"), (204, b""), (429, b"{}")]
    assert owner.ended == []
