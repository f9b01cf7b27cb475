"""What the bench can see of the server process itself: its resident memory and CPU time, from /proc.

The server names its pid in `GET /healthz`; when the server runs on this machine (a loopback URL, and
/proc/PID/cmdline mentions parley) the bench reads /proc/PID/status (VmRSS) and /proc/PID/stat (utime +
stime) around its phases. Anywhere else (another host, no /proc, `--workers N` answering from several
processes) the probe is unavailable and the report says why instead of showing numbers.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from pathlib import Path

import aiohttp

CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _loopback(host: str) -> bool:
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    for info in infos:
        try:
            if ipaddress.ip_address(info[4][0]).is_loopback:
                return True
        except ValueError:
            continue
    return False


class ServerProbe:
    """The server's pid (from /healthz) and readings of its memory and CPU; `why` when none can be made."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.why: str | None = "not probed"

    async def find(self, http_base: str, host: str, session: aiohttp.ClientSession, ssl: object = True) -> None:
        """Ask /healthz for the pid and check that /proc shows that process here."""
        try:
            async with session.get(f"{http_base}/healthz", ssl=ssl) as resp:  # type: ignore[arg-type]
                body = await resp.text()
            pid = int(json.loads(body)["pid"])
        except (aiohttp.ClientError, OSError, TimeoutError, ValueError, KeyError, TypeError) as exc:
            self.why = f"/healthz did not name the server's pid ({exc or type(exc).__name__})"
            return
        if not _loopback(host):
            self.why = f"the server ({host}) is not on this machine"
            return
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            self.why = f"pid {pid} from /healthz is not visible in /proc here (another container or host?)"
            return
        if b"parley" not in cmdline:
            self.why = f"pid {pid} from /healthz is not a parley process here (another container?)"
            return
        self.pid, self.why = pid, None

    def rss_kib(self) -> int | None:
        """VmRSS of the server in KiB, or None."""
        if self.pid is None:
            return None
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds the server has used, or None."""
        if self.pid is None:
            return None
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "; fields[0] is field 3 (state)
            return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15: utime, stime
        except (OSError, ValueError, IndexError):
            return None
