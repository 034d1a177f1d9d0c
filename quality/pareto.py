"""Which settings are worth it: Pareto fronts of calls saved against accuracy or drift, and the best within a budget."""
from __future__ import annotations

from typing import Mapping, Sequence

# (measure, +1 if higher is better, -1 if lower is better)
BY_ACCURACY = (("model_calls_saved", 1), ("accuracy", 1))
BY_DRIFT = (("model_calls_saved", 1), ("drift", -1))


def dominates(a: Mapping, b: Mapping, measures=BY_ACCURACY) -> bool:
    """a is at least as good as b on every measure and better on one."""
    at_least = all(sign * a[key] >= sign * b[key] for key, sign in measures)
    return at_least and any(sign * a[key] > sign * b[key] for key, sign in measures)


def pareto_front(rows: Sequence[Mapping], measures=BY_ACCURACY) -> list[Mapping]:
    """The rows no other row dominates, by calls saved (ascending)."""
    front = [r for r in rows if not any(dominates(o, r, measures) for o in rows)]
    return sorted(front, key=lambda r: (r["model_calls_saved"], -measures[1][1] * r[measures[1][0]]))


def most_saved(rows: Sequence[Mapping]) -> list[Mapping]:
    """The rows saving the most calls, the most accurate first, then the least drift."""
    if not rows:
        return []
    most = max(r["model_calls_saved"] for r in rows)
    return sorted((r for r in rows if r["model_calls_saved"] == most),
                  key=lambda r: (-r["accuracy"], r.get("drift", 0.0)))


def best_within(rows: Sequence[Mapping], reference_accuracy: float, tolerance: float = 0.01) -> list[Mapping]:
    """The rows saving the most calls among those at most ``tolerance`` below the reference accuracy.

    The tolerance is absolute (0.01 = one percentage point). Ties on calls saved all come back,
    the most accurate first.
    """
    return most_saved([r for r in rows if r["accuracy"] >= reference_accuracy - tolerance - 1e-12])


def best_at_full_cfg_quality(rows: Sequence[Mapping], reference_accuracy: float, accuracy_tolerance: float,
                             max_drift: float) -> list[Mapping]:
    """The rows saving the most calls whose digits stay within ``max_drift`` of full CFG's, accuracy held."""
    return most_saved([r for r in rows if r["accuracy"] >= reference_accuracy - accuracy_tolerance - 1e-12
                       and r["drift"] <= max_drift + 1e-12])
