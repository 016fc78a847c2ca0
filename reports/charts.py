"""Charts drawn with matplotlib (Agg, Noto Sans for Vietnamese), as PNG bytes that are the same
for the same data (no software or date in the file)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

FONT = ["Noto Sans", "DejaVu Sans"]
MET, NOT_MET, NO_DATA = "#2e7d32", "#c62828", "#9e9e9e"


def bar_chart(labels: Sequence[str], values: Sequence[float | None], *, title: str,
              unit: str = "", target: float | None = None,
              colours: Sequence[str] | None = None, width_mm: float = 170,
              dpi: int = 150) -> bytes:
    """A horizontal bar per label (top to bottom in the given order); a dashed target line."""
    plt.rcParams["font.family"] = FONT
    plt.rcParams["svg.hashsalt"] = "iocgis"
    height_in = max(2.0, 0.22 * len(labels) + 0.9)
    fig, ax = plt.subplots(figsize=(width_mm / 25.4, height_in), dpi=dpi)
    try:
        ys = list(range(len(labels)))[::-1]
        shown = [v if v is not None else 0.0 for v in values]
        ax.barh(ys, shown, color=list(colours) if colours else "#1565c0", height=0.7)
        ax.set_yticks(ys, labels=list(labels), fontsize=7)
        ax.tick_params(axis="x", labelsize=7)
        if target is not None:
            ax.axvline(target, color="#000000", linestyle="--", linewidth=0.8)
        ax.set_title(title, fontsize=9)
        if unit:
            ax.set_xlabel(unit, fontsize=7)
        ax.grid(axis="x", linewidth=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
        return buf.getvalue()
    finally:
        plt.close(fig)
