"""The truncation policy of one node: its inputs (``rules.py``, one row each), checked, and the rules they set.

A step is truncated when any rule that is on says so. The static rules depend only on the step index and
the schedule; the adaptive rules latch, and the reuse refresh fires, at run time (``run.py``, ``keep.py``).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .keep import KeepMode, keep_mode
from .rules import BY_NAME, FLOAT, INPUTS, INT, STATIC_RULES
from .schedule import step_count


def _checked(name: str, value: Any) -> Any:
    row = BY_NAME[name]
    if row.type == INT and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{name} must be a whole number of steps, got {value!r}")
    if row.type == FLOAT:
        if isinstance(value, bool):
            raise ValueError(f"{name} must be a number, got {value!r}")
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"{name} must be a number, got {value!r}") from None
        if not math.isfinite(value):
            raise ValueError(f"{name} is {value}; give a finite number")
    if not row.accepts(value):
        raise ValueError(f"{name} must be {row.allowed}, got {value!r}")
    return value


class TruncationPolicy:
    """The inputs by the names users see on the nodes (attributes), every one not given at its off value."""

    __slots__ = ("_values",)

    def __init__(self, **inputs):
        unknown = sorted(set(inputs) - set(BY_NAME))
        if unknown:
            raise ValueError(f"unknown truncation input(s) {', '.join(unknown)}; known: {', '.join(sorted(BY_NAME))}")
        values = {row.name: _checked(row.name, inputs.get(row.name, row.off)) for row in INPUTS}
        for row in INPUTS:
            disagreement = row.agrees(values[row.name], values)
            if disagreement:
                raise ValueError(disagreement)
        object.__setattr__(self, "_values", values)

    @classmethod
    def from_inputs(cls, inputs: dict) -> "TruncationPolicy":
        """The policy from node inputs by name; an unknown name or a value of the wrong kind is refused by name."""
        return cls(**inputs)

    def __getattr__(self, name: str):
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        raise AttributeError("a TruncationPolicy does not change; make a new one")

    def __eq__(self, other) -> bool:
        return isinstance(other, TruncationPolicy) and self._values == other._values

    def __hash__(self) -> int:
        return hash(tuple(self._values.items()))

    def __repr__(self) -> str:
        changed = ", ".join(f"{row.name}={self._values[row.name]!r}" for row in INPUTS
                            if self._values[row.name] != row.off)
        return f"TruncationPolicy({changed})"

    @property
    def keep_mode(self) -> KeepMode:
        return keep_mode(self.keep)

    @property
    def adaptive(self) -> bool:
        return any(row.latches and self._values[row.name] != row.off for row in INPUTS)

    def truncates_before_guiding(self, schedule: Sequence[float]) -> bool:
        """Whether the static rules truncate the first step yet guide a later one (a sigma_high window does)."""
        n = step_count(schedule)
        return n > 0 and bool(self.static_reasons(0, schedule)) and any(
            not self.static_reasons(i, schedule) for i in range(1, n))

    def resuming_rules(self, two_experts: bool = False) -> str:
        """The rules that can run full CFG after truncated steps in a run, so that the branch they left out runs
        again after a gap ("" if none); a reuse mode does so across a Wan expert switch."""
        rules = [row.name for row in INPUTS if row.resumes(self._values[row.name])]
        if two_experts and self.keep_mode.learns_guidance:
            rules.append("reuse across the expert switch")
        return ", ".join(rules)

    def static_reasons(self, step: int, schedule: Sequence[float]) -> tuple[str, ...]:
        """Names of the static rules that truncate ``step`` (empty: full CFG)."""
        return tuple(row.name for row in STATIC_RULES if row.truncates(self._values[row.name], step, schedule))
