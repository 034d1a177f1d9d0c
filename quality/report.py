"""The sweep's results as a Markdown table and a Pareto plot."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

from .noise_floor import SAME_PICTURE_DRIFT, NoiseFloor
from .pareto import BY_ACCURACY, BY_DRIFT, best_at_full_cfg_quality, best_within, most_saved, pareto_front
from .settings import FAMILIES, FULL

TOLERANCE = 0.01
# "The picture full CFG would have made" where no noise floor was measured: accuracy within 0.002 of full CFG's
# and pictures within SAME_PICTURE_DRIFT of its pixels from the same noise. The benchmark measures the floor
# (noise_floor.py) and judges by it.
SAME_PICTURE_ACCURACY = 0.002
MARKERS = "os^vD<>P*Xhp8d"


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


def markdown_table(rows: Sequence[Mapping], floor: NoiseFloor | None = None) -> str:
    """One line per row; with ``floor`` (full CFG's seed-to-seed spread) a last column says whether the row is at
    full CFG's picture (within that spread of full CFG from the same noise)."""
    ref = reference_row(rows)
    head, rule = "", ""
    if floor is not None:
        head, rule = " full CFG's picture |", ":---:|"
    lines = ["| setting | truncated steps | model calls / image | model calls saved | accuracy | Δ accuracy | drift | "
             "Fréchet | diversity |" + head, "|---|---|---:|---:|---:|---:|---:|---:|---:|" + rule]
    for r in rows:
        steps = "all (cfg 1)" if r["family"] == "no CFG (cfg 1)" else _steps(r["truncated_steps"])
        within = "" if floor is None else f" {'yes' if floor.holds(r, ref) else 'no'} |"
        lines.append(f"| {r['label']} | {steps} | {r['model_calls']:.1f} | {r['model_calls_saved']:.1%} | "
                     f"{r['accuracy']:.3f} | {r['accuracy'] - ref['accuracy']:+.3f} | {r['drift']:.4f} | "
                     f"{r['frechet']:.2f} | {r['diversity']:.3f} |" + within)
    return "\n".join(lines)


def picks(rows: Sequence[Mapping], tolerance: float = TOLERANCE) -> list[Mapping]:
    """The settings saving the most calls within ``tolerance`` accuracy of full CFG."""
    return best_within(rows, reference_row(rows)["accuracy"], tolerance)


def same_picture_picks(rows: Sequence[Mapping], floor: NoiseFloor | None = None) -> list[Mapping]:
    """The settings saving the most calls while making (nearly) the picture full CFG makes: within ``floor``
    (full CFG's own seed-to-seed spread) where one was measured."""
    ref = reference_row(rows)
    if floor is None:
        return best_at_full_cfg_quality(rows, ref["accuracy"], SAME_PICTURE_ACCURACY, SAME_PICTURE_DRIFT)
    return most_saved([r for r in rows if floor.holds(r, ref)])


def plot_pareto(rows: Sequence[Mapping], path: Path, title: str, tolerance: float = TOLERANCE,
                floor: NoiseFloor | None = None) -> Path:
    """Calls saved against accuracy (with its Pareto front and the picks), against drift from full CFG's
    pictures (log scale, with its front), and against the Fréchet distance."""
    plt = pyplot()
    ref = reference_row(rows)
    fig, (ax, ax_drift, ax_fd) = plt.subplots(1, 3, figsize=(17, 5.5), dpi=100,
                                              gridspec_kw={"width_ratios": [3, 3, 2]})
    colours = plt.get_cmap("tab20").colors  # one colour per family: the default cycle repeats after ten
    for i, family in enumerate(FAMILIES):
        style = {"marker": MARKERS[i % len(MARKERS)], "color": colours[(2 * i) % 20 + (2 * i) // 20], "alpha": 0.85}
        members = [r for r in rows if r["family"] == family]
        if members:
            saved = [100 * r["model_calls_saved"] for r in members]
            ax.scatter(saved, [r["accuracy"] for r in members], label=family, s=36, **style)
            shown = [(x, r["drift"]) for x, r in zip(saved, members, strict=True) if r["drift"] > 0]
            ax_drift.scatter([x for x, _ in shown], [d for _, d in shown], s=36, **style)
            ax_fd.scatter(saved, [r["frechet"] for r in members], s=30, **style)
    front = pareto_front(rows, BY_ACCURACY)
    ax.plot([100 * r["model_calls_saved"] for r in front], [r["accuracy"] for r in front], color="0.3", lw=1,
            zorder=0, label="Pareto front")
    ax.axhline(ref["accuracy"] - tolerance, color="0.5", ls="--", lw=1, label=f"full CFG − {tolerance:.0%}")
    groups: dict[tuple, list[str]] = {}
    for r in picks(rows, tolerance):
        groups.setdefault((r["model_calls_saved"], r["accuracy"]), []).append(r["label"])
    for i, ((saved, accuracy), labels) in enumerate(groups.items()):
        text = ", ".join(labels[:2]) + (f" (+{len(labels) - 2} more)" if len(labels) > 2 else "")
        ax.annotate(text, (100 * saved, accuracy), textcoords="offset points", xytext=(-8, -16 - 12 * i),
                    ha="right", fontsize=8, arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6})
    drift_front = [r for r in pareto_front(rows, BY_DRIFT) if r["drift"] > 0]
    ax_drift.plot([100 * r["model_calls_saved"] for r in drift_front], [r["drift"] for r in drift_front], color="0.3",
                  lw=1, zorder=0)
    ax_drift.axhline(SAME_PICTURE_DRIFT, color="0.5", ls="--", lw=1)
    ax_drift.annotate(f"drift {SAME_PICTURE_DRIFT}", (1, SAME_PICTURE_DRIFT), textcoords="offset points",
                      xytext=(0, 4), fontsize=8, color="0.4")
    for i, r in enumerate(same_picture_picks(rows, floor)):
        ax_drift.annotate(r["label"], (100 * r["model_calls_saved"], r["drift"]), textcoords="offset points",
                          xytext=(-8, -16 - 12 * i), ha="right", fontsize=8,
                          arrowprops={"arrowstyle": "-", "color": "0.5", "lw": 0.6})
    ax.set_xlabel("model calls saved vs full CFG (%)")
    ax.set_ylabel("class accuracy (judge; higher is better)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    ax_drift.set_yscale("log")
    ax_drift.set_xlabel("model calls saved vs full CFG (%)")
    ax_drift.set_ylabel("drift from full CFG's pictures, same noise (lower is better)")
    ax_drift.grid(alpha=0.3, which="both")
    ax_fd.set_xlabel("model calls saved vs full CFG (%)")
    ax_fd.set_ylabel("Fréchet distance to real pictures (lower is better)")
    ax_fd.grid(alpha=0.3)
    return save_figure(fig, path)


def same_picture_picks_by_family(rows: Sequence[Mapping], floor: NoiseFloor | None = None
                                 ) -> dict[str, list[Mapping]]:
    """Per family (full CFG aside), the settings saving the most calls at full CFG's picture."""
    ref = reference_row(rows)
    families = [f for f in dict.fromkeys(r["family"] for r in rows) if f != FULL]
    return {f: [r for r in same_picture_picks([ref] + [r for r in rows if r["family"] == f], floor) if r is not ref]
            for f in families}


def plot_cache_front(rows: Sequence[Mapping], path: Path, title: str, target_saved: float,
                     floor: NoiseFloor | None = None) -> Path:
    """Model calls saved against drift from full CFG's pictures, one colour per family with its own Pareto front,
    and the target: at least ``target_saved`` saved at a drift of at most SAME_PICTURE_DRIFT."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(9, 6), dpi=100)
    families = [f for f in dict.fromkeys(r["family"] for r in rows) if f != FULL]
    for i, family in enumerate(families):
        members = [r for r in rows if r["family"] == family and r["drift"] > 0]
        colour = f"C{i}"
        ax.scatter([100 * r["model_calls_saved"] for r in members], [r["drift"] for r in members], s=30,
                   color=colour, marker=MARKERS[i % len(MARKERS)], alpha=0.8, label=family)
        front = pareto_front(members, BY_DRIFT)
        ax.plot([100 * r["model_calls_saved"] for r in front], [r["drift"] for r in front], color=colour, lw=1.2)
    ax.axhline(SAME_PICTURE_DRIFT, color="0.5", ls="--", lw=1)
    ax.axvline(100 * target_saved, color="0.5", ls=":", lw=1)
    ax.annotate(f"target: ≥ {target_saved:.0%} saved at drift ≤ {SAME_PICTURE_DRIFT}",
                (100 * target_saved, SAME_PICTURE_DRIFT), textcoords="offset points", xytext=(4, 4), fontsize=8,
                color="0.3")
    for picked in same_picture_picks_by_family(rows, floor).values():
        for r in picked[:1]:
            ax.annotate(r["label"], (100 * r["model_calls_saved"], r["drift"]), textcoords="offset points",
                        xytext=(-6, -14), ha="right", fontsize=7, arrowprops={"arrowstyle": "-", "color": "0.5",
                                                                               "lw": 0.6})
    ax.set_yscale("log")
    ax.set_xlabel("model calls saved vs full CFG (%)")
    ax.set_ylabel("drift from full CFG's pictures, same noise (lower is better)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="upper left")
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
