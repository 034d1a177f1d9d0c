"""Truncation policies: at which steps classifier-free guidance runs only one branch.

A step is truncated when any enabled rule says so. The static rules depend only on the step
index and the schedule; the adaptive rule latches at run time (see ``run.py``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from .schedule import step_count

KEEP_COND = "cond"
KEEP_UNCOND = "uncond"
KEEP_CHOICES = (KEEP_COND, KEEP_UNCOND)


def _finite(name: str, value: float) -> None:
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"{name} is NaN; give a number")


@dataclass(frozen=True)
class TruncationPolicy:
    """Inputs keep the names users see on the nodes.

    cfg_truncate_steps: the last n steps are truncated (Wan 2.2 write-up's flag); 0 is off.
    cfg_trunc_ratio: step i of N is truncated iff (i + 1) / N > r (diffusers' Lumina2Pipeline);
        1.0 is off, 0.0 truncates every step.
    sigma_low, sigma_high: full CFG only while sigma_low < sigma_i <= sigma_high, where sigma_i
        is the step's starting sigma; sigma_low = 0 and sigma_high = 0 (no upper bound) are off.
        Lumina's official cfg_trunc = c is sigma_low = 1 - c.
    adaptive_threshold: once cond and uncond agree this well (cosine similarity, every sample
        of the batch), every later step is truncated; 0 is off.
    keep: what a truncated step returns, the conditional ("cond") or unconditional ("uncond")
        prediction.
    """

    cfg_truncate_steps: int = 0
    cfg_trunc_ratio: float = 1.0
    sigma_low: float = 0.0
    sigma_high: float = 0.0
    adaptive_threshold: float = 0.0
    keep: str = KEEP_COND

    def __post_init__(self):
        if isinstance(self.cfg_truncate_steps, bool) or not isinstance(self.cfg_truncate_steps, int):
            raise ValueError(f"cfg_truncate_steps must be a whole number of steps, got {self.cfg_truncate_steps!r}")
        if self.cfg_truncate_steps < 0:
            raise ValueError(f"cfg_truncate_steps must be 0 (off) or more, got {self.cfg_truncate_steps}")
        for name in ("cfg_trunc_ratio", "sigma_low", "sigma_high", "adaptive_threshold"):
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
        if self.keep not in KEEP_CHOICES:
            raise ValueError(f"keep must be one of {', '.join(KEEP_CHOICES)}, got {self.keep!r}")

    @property
    def adaptive(self) -> bool:
        return self.adaptive_threshold > 0.0

    @property
    def windowed(self) -> bool:
        return self.sigma_low > 0.0 or self.sigma_high > 0.0

    @property
    def enabled(self) -> bool:
        return self.cfg_truncate_steps > 0 or self.cfg_trunc_ratio < 1.0 or self.windowed or self.adaptive

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
        if self.windowed and not self.inside_window(schedule[step]):
            reasons.append("sigma window")
        return tuple(reasons)
