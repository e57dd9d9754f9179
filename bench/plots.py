"""The scaling curves of a bench run as one PNG (``python bench/run.py --plot FILE``).

A result with a curve carries ``details["curve"] = {"title", "x_label", "y_label", "series":
{label: [[x, y], ...]}}``; :func:`write_plots` draws each such result in its own subplot (log-
scaled x, and y when the values span more than 20x; one line per series, the result's name and
target in the title). matplotlib is
imported inside the function, with the Agg backend (no display needed): importing this module
costs nothing.
"""
from __future__ import annotations

import math
from pathlib import Path

COLUMNS = 2


def curves(results) -> list:
    """``(result, curve)`` for every result whose details hold a curve with points."""
    found = []
    for result in results:
        curve = (getattr(result, "details", None) or {}).get("curve")
        if isinstance(curve, dict) and any(curve.get("series", {}).values()):
            found.append((result, curve))
    return found


def write_plots(results, path) -> bool:
    """Draw every result having ``details["curve"]`` into the PNG ``path``; False (and no
    file) when none has one."""
    drawn = curves(results)
    if not drawn:
        return False
    import matplotlib
    matplotlib.use("Agg", force=True)
    from matplotlib import pyplot as plt

    columns = min(COLUMNS, len(drawn))
    rows = math.ceil(len(drawn) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(6.4 * columns, 4.4 * rows), squeeze=False)
    try:
        for ax, (result, curve) in zip(axes.flat, drawn):
            for label, points in curve["series"].items():
                if not points:
                    continue
                xs, ys = zip(*sorted((float(x), float(y)) for x, y in points))
                ax.plot(xs, ys, marker="o", label=label)
            ax.set_xscale("log")
            ys = [float(y) for pts in curve["series"].values() for _, y in pts if float(y) > 0]
            if ys and max(ys) / min(ys) > 20:         # flat lines next to a growing one
                ax.set_yscale("log")
            ax.set_title(f"{result.name}: {curve.get('title', '')}\n(target {result.target})",
                         fontsize=10)
            ax.set_xlabel(curve.get("x_label", ""))
            ax.set_ylabel(curve.get("y_label", ""))
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=8)
        for ax in list(axes.flat)[len(drawn):]:
            ax.set_visible(False)
        fig.tight_layout()
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)
    return True
