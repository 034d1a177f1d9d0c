"""Which sampling step a model call belongs to, from its sigma alone.

Samplers never pass the step index, and multi-stage samplers (heun, dpmpp_2s_ancestral,
dpmpp_sde, ...) call the model between schedule points. Mapping sigma to a step is a pure
function of the schedule, so it holds for every sampler without tracking its state.
"""
from __future__ import annotations

import math
from typing import Sequence


def schedule_values(sigmas) -> list[float]:
    """The schedule as Python floats; accepts a 1-D tensor or any sequence of numbers."""
    if hasattr(sigmas, "detach"):
        sigmas = sigmas.detach().flatten().cpu().tolist()
    values = [float(s) for s in sigmas]
    for i, s in enumerate(values):
        if math.isnan(s):
            raise ValueError(f"sigma schedule has NaN at position {i}; the scheduler or the sigmas input is broken")
    return values


def step_count(schedule: Sequence[float]) -> int:
    """N steps for N + 1 sigma values (a lone value is a schedule of zero steps)."""
    return max(len(schedule) - 1, 0)


def step_of_sigma(schedule: Sequence[float], sigma: float) -> int:
    """Step i with ``schedule[i] >= sigma > schedule[i + 1]``.

    A corrector call exactly at ``schedule[i + 1]`` (heun, dpm_2) therefore belongs to step
    i + 1, whose sigma it evaluates. A sigma outside every interval (above the first value, at
    or below the last, or in a non-monotonic schedule) belongs to the step whose starting sigma
    is nearest, the earlier one on a tie.
    """
    n = step_count(schedule)
    if n == 0:
        raise ValueError("the sigma schedule has no steps (fewer than two sigma values)")
    if math.isnan(sigma):
        raise ValueError("the sampler called the model at sigma = NaN")
    for i in range(n):
        if schedule[i] >= sigma > schedule[i + 1]:
            return i
    return min(range(n), key=lambda i: abs(schedule[i] - sigma))
