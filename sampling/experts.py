"""Wan 2.2 A14B's two experts: which one a model call belongs to (the tasks' presets: ``families.py``).

Wan's official rule routes by the call's sigma: sigma >= boundary runs the high-noise expert,
everything below the low-noise one. ComfyUI's templates split by step index instead, one step off
for t2v; routing by sigma holds for every sampler and schedule.
"""
from __future__ import annotations

from typing import Sequence

from .families import wan_a14b_task

HIGH_NOISE = "high"
LOW_NOISE = "low"


def resolve_boundary(task: str, boundary: float) -> float:
    """The boundary to route by: the task's official one when ``boundary`` is 0."""
    if not 0.0 <= boundary < 1.0:  # also refuses NaN
        raise ValueError(f"boundary must be in [0, 1) as a sigma (0 = the task's: t2v 0.875, i2v 0.900), "
                         f"got {boundary}")
    return boundary if boundary > 0.0 else wan_a14b_task(task).boundary


def expert_for_sigma(sigma: float, boundary: float) -> str:
    return HIGH_NOISE if sigma >= boundary else LOW_NOISE


def first_low_noise_step(schedule: Sequence[float], boundary: float) -> int:
    """The first step whose starting sigma is below the boundary (len(schedule) - 1 if none is).

    This is where ComfyUI's native two-KSamplerAdvanced graph must split to follow the official
    rule: end_at_step of the high-noise sampler and start_at_step of the low-noise one.
    """
    steps = max(len(schedule) - 1, 0)
    return next((i for i in range(steps) if schedule[i] < boundary), steps)
