"""The PNG chart of a bench run: bits per byte per file and method (needs matplotlib)."""

from __future__ import annotations

import os

from nacrith.bench.report import Report
from nacrith.errors import NacrithError

__all__ = ["save_plot"]


def save_plot(report: Report, path: str | os.PathLike[str]) -> None:
    """Write a PNG bar chart of bits per byte per file and method."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NacrithError("--plot needs matplotlib: pip install 'nacrith[bench]'") from None
    labels = [f.label for f in report.files]
    names = [c.name for c in report.contenders if any(r.method == c.name for r in report.results)]
    by_key = {(r.file, r.method): r.bpb for r in report.results if r.error is None}
    width = 0.8 / max(1, len(names))
    fig, ax = plt.subplots(figsize=(min(18.0, max(6.0, 0.12 * len(labels) * len(names) + 2)), 5))
    for index, name in enumerate(names):
        xs = [i + (index - (len(names) - 1) / 2) * width for i in range(len(labels))]
        ys = [by_key.get((label, name)) or 0.0 for label in labels]
        ax.bar(xs, ys, width, label=name)
    ax.set_xticks(range(len(labels)))
    ax.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("bits per byte (lower is better)")
    ax.set_title("ncz bench: " + report.command.removeprefix("ncz bench").strip(), fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
