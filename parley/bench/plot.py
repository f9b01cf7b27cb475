"""`--plot out.png`: the end-to-end latency distribution (histogram and CDF) and connection-setup latency.

matplotlib is optional (`pip install 'parley[plot]'`); it is imported only when a plot is asked for.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from parley.bench.stats import Results, percentile


class PlotUnavailable(RuntimeError):
    """matplotlib is not installed."""


def plot(results: Results, path: str | Path) -> Path:
    """Write a PNG with three panels: latency histogram, latency CDF, connect-ready CDF."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise PlotUnavailable("--plot needs matplotlib: pip install 'parley[plot]'") from None

    d = results.to_dict()
    latency = sorted(results.latency_ms)
    ready = sorted(results.ready_ms)
    fig, (hist, cdf, setup) = plt.subplots(1, 3, figsize=(15, 4.5))
    fig.suptitle(f"parley bench: {d['clients']} clients, {d['rooms']} rooms, {d['publishers_per_room']} "
                 f"publishers/room, {d['publish']['deliveries_per_s'] or 0:,} deliveries/s")

    if latency:
        hist.hist(latency, bins=min(100, max(10, len(latency) // 20)), color="#4878d0")
        for key, q, style in (("p50", 0.5, "--"), ("p99", 0.99, ":")):
            value = percentile(latency, q)
            if value is not None:
                hist.axvline(value, color="black", linestyle=style, label=f"{key} {value:.2f} ms")
        hist.legend()
        _cdf(cdf, latency, "end to end")
    else:
        hist.text(0.5, 0.5, "no latency samples", ha="center", transform=hist.transAxes)
    hist.set(title="message latency", xlabel="ms", ylabel="messages")
    cdf.set(title="message latency CDF", xlabel="ms (log)", ylabel="fraction", xscale="log")
    cdf.grid(True, which="both", alpha=0.3)

    if ready:
        _cdf(setup, ready, "handshake+auth+join")
        _cdf(setup, sorted(results.handshake_ms), "handshake")
        setup.legend()
    setup.set(title="connection setup CDF", xlabel="ms (log)", ylabel="fraction", xscale="log")
    setup.grid(True, which="both", alpha=0.3)

    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, format="png", dpi=100)
    plt.close(fig)
    return out


def _cdf(ax: Any, ordered: list[float], label: str) -> None:
    n = len(ordered)
    floor = 1e-3  # log axis: clamp zero and negative (clock granularity) samples
    ax.step([max(v, floor) for v in ordered], [(i + 1) / n for i in range(n)], where="post", label=label)
