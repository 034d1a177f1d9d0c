"""Truncation policies: at which steps classifier-free guidance runs only one branch, and what such a step returns.

A step is truncated when any enabled rule says so. The static rules depend only on the step
index and the schedule; the adaptive rules latch, and the reuse refresh fires, at run time (see
``run.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

from .reuse import ESTIMATE_EXTRAPOLATE, ESTIMATE_SIGMA, ESTIMATES
from .schedule import step_count

KEEP_COND = "cond"
KEEP_UNCOND = "uncond"
KEEP_REUSE = "reuse"
KEEP_REUSE_EXTRAPOLATED = "reuse_extrapolated"
KEEP_CHOICES = (KEEP_COND, KEEP_UNCOND, KEEP_REUSE, KEEP_REUSE_EXTRAPOLATED)
REUSING = (KEEP_REUSE, KEEP_REUSE_EXTRAPOLATED)

# What a reuse step does when the latest full-CFG step ran on the other Wan expert: run full CFG
# (the shipped behaviour), or keep the positive prediction until the next full step.
SWITCH_REFRESH = "full CFG"
SWITCH_COND = "cond"
EXPERT_SWITCH_CHOICES = (SWITCH_REFRESH, SWITCH_COND)
HARNESS_ONLY = ("reuse_estimate", "expert_switch")  # policy fields that are not node inputs


def _finite(name: str, value: float) -> None:
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"{name} is NaN; give a number")


def _whole(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number of steps, got {value!r}")


@dataclass(frozen=True)
class TruncationPolicy:
    """Inputs keep the names users see on the nodes.

    cfg_truncate_steps: the last n steps are truncated (Wan 2.2 write-up's flag); 0 is off.
    cfg_trunc_ratio: step i of N is truncated iff (i + 1) / N > r (diffusers' Lumina2Pipeline);
        1.0 is off, 0.0 truncates every step.
    cfg_every: full CFG on steps i with i mod k = 0, every other step truncated; 0 or 1 is off.
    sigma_low, sigma_high: full CFG only while sigma_low < sigma_i <= sigma_high, where sigma_i
        is the step's starting sigma; sigma_low = 0 and sigma_high = 0 (no upper bound) are off.
        Lumina's official cfg_trunc = c is sigma_low = 1 - c.
    adaptive_threshold: Adaptive Guidance's rule: once cond and uncond agree this well (cosine
        similarity, every sample of the batch), every later step is truncated; 0 is off.
    adaptive_decay: once the guidance difference |cond - uncond| of the denoised predictions of every
        sample has fallen to this fraction of its own peak in the run, every later step is
        truncated; 0 is off.
    keep: what a truncated step returns: the conditional prediction ("cond"), the unconditional one
        ("uncond"), or the conditional one guided by the difference of the latest full step ("reuse")
        or extrapolated from the latest two ("reuse_extrapolated"); see reuse.py.
    reuse_refresh: with keep = reuse, a step the rules truncate runs full CFG instead once the
        positive prediction has moved this much (relative L2 of the model output) since the latest
        full step; 0 is off.
    reuse_estimate, expert_switch: how keep = "reuse" carries the difference, and what reuse does
        after a Wan expert switch. Not node inputs: the quality harness compares the alternatives.
    """

    cfg_truncate_steps: int = 0
    cfg_trunc_ratio: float = 1.0
    cfg_every: int = 0
    sigma_low: float = 0.0
    sigma_high: float = 0.0
    adaptive_threshold: float = 0.0
    adaptive_decay: float = 0.0
    keep: str = KEEP_COND
    reuse_refresh: float = 0.0
    reuse_estimate: str = ESTIMATE_SIGMA
    expert_switch: str = SWITCH_REFRESH

    def __post_init__(self):
        _whole("cfg_truncate_steps", self.cfg_truncate_steps)
        _whole("cfg_every", self.cfg_every)
        if self.cfg_truncate_steps < 0:
            raise ValueError(f"cfg_truncate_steps must be 0 (off) or more, got {self.cfg_truncate_steps}")
        if self.cfg_every < 0:
            raise ValueError(f"cfg_every must be 0 (off) or a number of steps k (full CFG every k-th step), "
                             f"got {self.cfg_every}")
        for name in ("cfg_trunc_ratio", "sigma_low", "sigma_high", "adaptive_threshold", "adaptive_decay",
                     "reuse_refresh"):
            _finite(name, getattr(self, name))
        if not 0.0 <= self.cfg_trunc_ratio <= 1.0:
            raise ValueError(
                f"cfg_trunc_ratio must be in [0, 1] (1.0 = off, as in diffusers), got {self.cfg_trunc_ratio}")
        if self.sigma_low < 0.0:
            raise ValueError(f"sigma_low must be 0 (off) or more, got {self.sigma_low}")
        if self.sigma_high < 0.0:
            raise ValueError(f"sigma_high must be 0 (no upper bound) or more, got {self.sigma_high}")
        if self.sigma_high > 0.0 and self.sigma_low >= self.sigma_high:
            raise ValueError(
                f"sigma window is inverted or empty: sigma_low {self.sigma_low} must be below sigma_high "
                f"{self.sigma_high} (set sigma_high to 0 for no upper bound)")
        if not 0.0 <= self.adaptive_threshold <= 1.0:
            raise ValueError(f"adaptive_threshold must be in [0, 1] (0 = off, 0.99 is a sensible start), "
                             f"got {self.adaptive_threshold}")
        if not 0.0 <= self.adaptive_decay < 1.0:
            raise ValueError(f"adaptive_decay must be in [0, 1) as a fraction of the guidance difference's peak "
                             f"(0 = off), got {self.adaptive_decay}")
        if self.keep not in KEEP_CHOICES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")
        if self.reuse_refresh < 0.0:
            raise ValueError(f"reuse_refresh must be 0 (off) or a positive relative change, got {self.reuse_refresh}")
        if self.reuse_refresh > 0.0 and self.keep not in REUSING:
            raise ValueError(f"reuse_refresh refreshes reused guidance: it needs keep = reuse, got keep = {self.keep} "
                             "(set reuse_refresh to 0, or keep to reuse)")
        if self.keep == KEEP_REUSE_EXTRAPOLATED and self.reuse_estimate != ESTIMATE_SIGMA:
            raise ValueError(f"keep = {KEEP_REUSE_EXTRAPOLATED} sets its own estimate; "
                             "reuse_estimate is for keep = reuse")
        if self.reuse_estimate not in ESTIMATES:
            raise ValueError(f"reuse_estimate must be one of {', '.join(ESTIMATES)}, got {self.reuse_estimate!r}")
        if self.expert_switch not in EXPERT_SWITCH_CHOICES:
            raise ValueError(f"expert_switch must be one of {', '.join(EXPERT_SWITCH_CHOICES)}, "
                             f"got {self.expert_switch!r}")

    @classmethod
    def from_inputs(cls, inputs: dict) -> "TruncationPolicy":
        """The policy from node inputs by name; an unknown name or a value of the wrong kind is refused by name."""
        known = {f.name for f in fields(cls)} - set(HARNESS_ONLY)
        unknown = sorted(set(inputs) - known)
        if unknown:
            raise ValueError(f"unknown truncation input(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        floats = {f.name for f in fields(cls) if f.type == "float"}
        values = {}
        for name, value in inputs.items():
            if name in floats:
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise ValueError(f"{name} must be a number, got {value!r}") from None
            values[name] = value
        return cls(**values)

    @property
    def adaptive(self) -> bool:
        return self.adaptive_threshold > 0.0 or self.adaptive_decay > 0.0

    @property
    def windowed(self) -> bool:
        return self.sigma_low > 0.0 or self.sigma_high > 0.0

    @property
    def reuses(self) -> bool:
        return self.keep in REUSING

    @property
    def estimate(self) -> str:
        """How reuse steps carry the guidance (reuse.py's estimates)."""
        return ESTIMATE_EXTRAPOLATE if self.keep == KEEP_REUSE_EXTRAPOLATED else self.reuse_estimate

    @property
    def enabled(self) -> bool:
        return (self.cfg_truncate_steps > 0 or self.cfg_trunc_ratio < 1.0 or self.cfg_every > 1 or self.windowed
                or self.adaptive)

    def inside_window(self, sigma: float) -> bool:
        # Strict at the low end, as Lumina's official `t < cfg_trunc` with t = 1 - sigma.
        return sigma > self.sigma_low and (self.sigma_high == 0.0 or sigma <= self.sigma_high)

    def static_reasons(self, step: int, schedule: Sequence[float]) -> tuple[str, ...]:
        """Names of the static rules that truncate ``step`` (empty: full CFG)."""
        n = step_count(schedule)
        reasons = []
        if self.cfg_truncate_steps > 0 and step >= n - self.cfg_truncate_steps:
            reasons.append("cfg_truncate_steps")
        # The same Python float expression as diffusers, so the same steps on every N.
        if (step + 1) / n > self.cfg_trunc_ratio:
            reasons.append("cfg_trunc_ratio")
        if self.cfg_every > 1 and step % self.cfg_every != 0:
            reasons.append("cfg_every")
        if self.windowed and not self.inside_window(schedule[step]):
            reasons.append("sigma window")
        return tuple(reasons)
