"""The sweep's results as a Markdown table and a Pareto plot."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from .pareto import best_within, pareto_front
from .settings import FAMILIES, FULL

TOLERANCE = 0.01


def reference_row(rows: Sequence[Mapping]) -> Mapping:
    full = [r for r in rows if r["family"] == FULL]
    if not full:
        raise ValueError("the results have no full-CFG row to compare with")
    return full[0]


def _steps(steps: Sequence[int]) -> str:
    """[15, 16, 17, 19] -> '15-17, 19'."""
    if not steps:
        return "none"
    runs, start, prev = [], steps[0], steps[0]
    for s in list(steps[1:]) + [None]:
        if s is not None and s == prev + 1:
            prev = s
            continue
        runs.append(str(start) if start == prev else f"{start}-{prev}")
        if s is not None:
            start = prev = s
    return ", ".join(runs)


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (benchmarks run without a screen)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


def markdown_table(rows: Sequence[Mapping]) -> str:
    ref = reference_row(rows)
    lines = ["| setting | truncated steps | calls / image | calls saved | accuracy | Δ accuracy | Fréchet | "
             "diversity |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        steps = "all (cfg 1)" if r["family"] == "no CFG (cfg 1)" else _steps(r["truncated_steps"])
        lines.append(f"| {r['label']} | {steps} | {r['calls']:.0f} | {r['calls_saved']:.0%} | {r['accuracy']:.3f} | "
                     f"{r['accuracy'] - ref['accuracy']:+.3f} | {r['frechet']:.2f} | {r['diversity']:.3f} |")
    return "\n".join(lines)


def picks(rows: Sequence[Mapping], tolerance: float = TOLERANCE) -> list[Mapping]:
    """The settings saving the most calls within ``tolerance`` accuracy of full CFG."""
    return best_within(rows, reference_row(rows)["accuracy"], tolerance)


def plot_pareto(rows: Sequence[Mapping], path: Path, title: str, tolerance: float = TOLERANCE) -> Path:
    """Left: accuracy against calls saved, with the Pareto front and the picks. Right: Fréchet distance."""
    plt = pyplot()
    ref = reference_row(rows)
    fig, (ax, ax_fd) = plt.subplots(1, 2, figsize=(12, 5), dpi=100, gridspec_kw={"width_ratios": [3, 2]})
    for family, marker in zip(FAMILIES, "os^vD<>P", strict=True):
        members = [r for r in rows if r["family"] == family]
        if members:
            saved = [100 * r["calls_saved"] for r in members]
            ax.scatter(saved, [r["accuracy"] for r in members], label=family, marker=marker, s=36, alpha=0.85)
            ax_fd.scatter(saved, [r["frechet"] for r in members], marker=marker, s=30, alpha=0.85)
    front = pareto_front(rows)
    ax.plot([100 * r["calls_saved"] for r in front], [r["accuracy"] for r in front], color="0.3", lw=1,
            zorder=0, label="Pareto front")
    ax.axhline(ref["accuracy"] - tolerance, color="0.5", ls="--", lw=1, label=f"full CFG − {tolerance:.0%}")
    groups: dict[tuple, list[str]] = {}
    for r in picks(rows, tolerance):
        groups.setdefault((r["calls_saved"], r["accuracy"]), []).append(r["label"])
    for i, ((saved, accuracy), labels) in enumerate(groups.items()):
        ax.annotate(", ".join(labels), (100 * saved, accuracy), textcoords="offset points", xytext=(8, -14 - 12 * i),
                    fontsize=8, arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6})
    ax.set_xlabel("model calls saved vs full CFG (%)")
    ax.set_ylabel("class accuracy (judge; higher is better)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax_fd.set_xlabel("model calls saved vs full CFG (%)")
    ax_fd.set_ylabel("Fréchet distance to real digits (lower is better)")
    ax_fd.grid(alpha=0.3)
    return save_figure(fig, path)


def save_sample_grid(samples: Mapping[str, tuple], path: Path, per_class: int = 3) -> Path:
    """One row per setting: the first ``per_class`` samples of each class, side by side, with its caption.

    ``samples`` maps a caption to (images (n, 8, 8), labels (n,)).
    """
    import numpy as np

    plt = pyplot()

    strips = []
    for images, labels in samples.values():
        picked = [images[np.flatnonzero(labels == c)[:per_class]] for c in range(10)]
        if any(len(p) < per_class for p in picked):
            raise ValueError(f"need {per_class} samples of every class for the grid")
        tiles = np.concatenate([np.pad(t, 1, constant_values=0) for p in picked for t in p], axis=1)
        strips.append(tiles)
    fig, axes = plt.subplots(len(strips), 1, figsize=(12, 1.1 * len(strips)), dpi=100, squeeze=False)
    for ax, caption, strip in zip(axes[:, 0], samples, strips, strict=True):
        ax.imshow(strip, cmap="gray_r", vmin=0, vmax=16, interpolation="nearest")
        ax.set_title(caption, fontsize=9, loc="left")
        ax.axis("off")
    return save_figure(fig, path)
