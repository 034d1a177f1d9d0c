"""Which settings are worth it: the Pareto front of calls saved against accuracy, and the best within a budget."""
from __future__ import annotations

from typing import Mapping, Sequence


def dominates(a: Mapping, b: Mapping) -> bool:
    """a saves at least as many calls and is at least as accurate as b, and is better in one."""
    return (a["calls_saved"] >= b["calls_saved"] and a["accuracy"] >= b["accuracy"]
            and (a["calls_saved"] > b["calls_saved"] or a["accuracy"] > b["accuracy"]))


def pareto_front(rows: Sequence[Mapping]) -> list[Mapping]:
    """The rows no other row dominates, by calls saved (ascending)."""
    front = [r for r in rows if not any(dominates(o, r) for o in rows)]
    return sorted(front, key=lambda r: (r["calls_saved"], -r["accuracy"]))


def best_within(rows: Sequence[Mapping], reference_accuracy: float, tolerance: float = 0.01) -> list[Mapping]:
    """The rows saving the most calls among those at most ``tolerance`` below the reference accuracy.

    The tolerance is absolute (0.01 = one percentage point). Ties on calls saved all come back,
    the most accurate first.
    """
    eligible = [r for r in rows if r["accuracy"] >= reference_accuracy - tolerance - 1e-12]
    if not eligible:
        return []
    most = max(r["calls_saved"] for r in eligible)
    return sorted((r for r in eligible if r["calls_saved"] == most), key=lambda r: -r["accuracy"])
