"""Rendering fault-scenario results: the markdown table of docs/reliability.md, and the command line behind
`scripts/faults` (run scenarios, print the table, optionally write every detail as JSON)."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.faults.scenarios import PROFILES, SCENARIOS, Result, run_all, selected

COLUMNS = ["scenario", "fault", "expected", "observed", "sent", "acked", "stored", "delivered", "lost", "duplicated",
           "gaps"]


def cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def row(r: Result) -> list[str]:
    c = r.counts
    if r.skipped or r.crashed:
        return [r.name, r.fault, r.expected, r.observed, *(["-"] * 7)]
    verdict = "" if r.ok else " **(FAILED)**"
    return [f"{r.name}{verdict}", r.fault, r.expected, r.observed, str(c.sent), str(c.acked), str(c.stored),
            f"{c.delivered}/{c.expected_deliveries}", str(c.lost), str(c.duplicated), str(c.gaps)]


def markdown(results: Sequence[Result]) -> str:
    """The fault table: one row per scenario."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell(x) for x in row(r)) + " |" for r in results]
    return "\n".join(lines)


def machine() -> str:
    """The machine and software the run used, for the record."""
    cpus = len(os.sched_getaffinity(0))
    versions = []
    for tool in ("redis-server", "psql"):
        if shutil.which(tool):
            out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
            versions.append(out.split(" v=")[0] + (" " + out.split(" v=")[1].split()[0] if " v=" in out else ""))
    return (f"{platform.node()}: {platform.system()} {platform.release()}, {cpus} CPUs, Python "
            f"{platform.python_version()}; {'; '.join(versions)}")


def summary(results: Sequence[Result]) -> str:
    ran = [r for r in results if not r.skipped]
    crashed = [r.name for r in ran if r.crashed]
    failed = [r.name for r in ran if not r.ok and not r.crashed]
    unexpected = [r.name for r in ran if r.ok and not r.as_expected]
    lines = [f"{len(ran)} scenarios ran ({len(results) - len(ran)} skipped): "
             f"{sum(r.counts.lost for r in ran)} lost, {sum(r.counts.duplicated for r in ran)} duplicated, "
             f"{sum(r.counts.gaps for r in ran)} gaps in seq."]
    if failed:
        lines.append(f"FAILED (loss, duplication, disorder, or the fault was not made): {', '.join(failed)}")
    if crashed:
        lines.append(f"COULD NOT RUN: {', '.join(crashed)}")
    if unexpected:
        lines.append(f"nothing lost, but not as documented: {', '.join(unexpected)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/faults", description=__doc__)
    parser.add_argument("--profile", choices=sorted(PROFILES), default="full")
    parser.add_argument("--only", help=f"comma-separated scenarios (of: {', '.join(SCENARIOS)})")
    parser.add_argument("--json", metavar="OUT", type=Path, help="write every result, with details, to this file")
    parser.add_argument("--workdir", type=Path, help="where databases and server logs go (default: a temporary "
                        "directory, kept when a scenario fails)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    args = parser.parse_args(argv)
    if args.list:
        for s in SCENARIOS.values():
            print(f"{s.name:14} [{s.setup}] {s.fault}")
        return 0
    try:
        names = selected(args.only.split(",") if args.only else None)
    except KeyError as exc:
        parser.error(str(exc))
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="parley-faults-"))
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")

    def progress(r: Result) -> None:
        state = "skipped" if r.skipped else ("ok" if r.ok else "FAILED")
        extra = "" if r.ok or r.skipped else f" — {r.observed}"
        print(f"{r.name}: {state} in {r.seconds:.0f} s ({r.counts.sent} sent, {r.counts.lost} lost, "
              f"{r.counts.duplicated} duplicated){extra}", file=sys.stderr, flush=True)
        for line in r.details[:20]:
            print(f"    {line}", file=sys.stderr)

    results = asyncio.run(run_all(args.profile, workdir, names, progress))
    print(markdown(results))
    print()
    print(summary(results))
    failed = any(not r.ok for r in results if not r.skipped)
    if args.json:
        payload: dict[str, Any] = {"started": started, "profile": PROFILES[args.profile].__dict__,
                                   "machine": machine(), "results": [r.as_dict() for r in results]}
        args.json.write_text(json.dumps(payload, indent=2, default=str))
    if failed or args.workdir:
        print(f"databases and server logs: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if failed else 0
