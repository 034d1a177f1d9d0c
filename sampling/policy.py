"""Truncation policies: at which steps classifier-free guidance runs only one branch, and what such a step returns.

A step is truncated when any enabled rule says so. The static rules depend only on the step
index and the schedule; the adaptive rules latch, and the reuse refresh fires, at run time (see
``run.py``). Every field is a node input a user can set (``nodes/policy_inputs.py`` declares them).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Sequence

from .schedule import step_count

KEEP_COND = "cond"
KEEP_UNCOND = "uncond"
KEEP_REUSE = "reuse"
KEEP_REUSE_EXTRAPOLATED = "reuse_extrapolated"
KEEP_CHOICES = (KEEP_COND, KEEP_UNCOND, KEEP_REUSE, KEEP_REUSE_EXTRAPOLATED)
REUSING = (KEEP_REUSE, KEEP_REUSE_EXTRAPOLATED)

# With a step cache on the model (core EasyCache or LazyCache): full-CFG calls always reach the network
# ("coordinate"), or the cache decides alone ("independent").
CACHE_COORDINATE = "coordinate"
CACHE_INDEPENDENT = "independent"
STEP_CACHE_CHOICES = (CACHE_COORDINATE, CACHE_INDEPENDENT)


def _finite(name: str, value: float) -> None:
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{name} is {value}; give a finite number")


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
    cfg_low_noise: the guidance scale of calls routed to the low-noise expert of a two-expert model
        (Wan 2.2 t2v: 4.0 high, 3.0 low); 0 is the sampler's own scale. Nothing on other models.
    step_cache: with a step cache on the model, whether every full-CFG call reaches the network
        ("coordinate": the cache serves the other calls) or the cache decides alone ("independent").
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
    cfg_low_noise: float = 0.0
    step_cache: str = CACHE_COORDINATE

    def __post_init__(self):
        _whole("cfg_truncate_steps", self.cfg_truncate_steps)
        _whole("cfg_every", self.cfg_every)
        if self.cfg_truncate_steps < 0:
            raise ValueError(f"cfg_truncate_steps must be 0 (off) or more, got {self.cfg_truncate_steps}")
        if self.cfg_every < 0:
            raise ValueError(f"cfg_every must be 0 (off) or a number of steps k (full CFG every k-th step), "
                             f"got {self.cfg_every}")
        for name in ("cfg_trunc_ratio", "sigma_low", "sigma_high", "adaptive_threshold", "adaptive_decay",
                     "reuse_refresh", "cfg_low_noise"):
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
        if self.step_cache not in STEP_CACHE_CHOICES:
            raise ValueError(f"step_cache must be one of {', '.join(STEP_CACHE_CHOICES)}, got {self.step_cache!r}")
        if self.cfg_low_noise < 0.0:
            raise ValueError(f"cfg_low_noise must be 0 (same as cfg) or more, got {self.cfg_low_noise}")

    @classmethod
    def from_inputs(cls, inputs: dict) -> "TruncationPolicy":
        """The policy from node inputs by name; an unknown name or a value of the wrong kind is refused by name."""
        known = {f.name for f in fields(cls)}
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
    def enabled(self) -> bool:
        return (self.cfg_truncate_steps > 0 or self.cfg_trunc_ratio < 1.0 or self.cfg_every > 1 or self.windowed
                or self.adaptive)

    def inside_window(self, sigma: float) -> bool:
        # Strict at the low end, as Lumina's official `t < cfg_trunc` with t = 1 - sigma.
        return sigma > self.sigma_low and (self.sigma_high == 0.0 or sigma <= self.sigma_high)

    def truncates_before_guiding(self, schedule: Sequence[float]) -> bool:
        """Whether the static rules truncate the first step yet guide a later one (a sigma_high window does)."""
        n = step_count(schedule)
        return n > 0 and bool(self.static_reasons(0, schedule)) and any(
            not self.static_reasons(i, schedule) for i in range(1, n))

    def resuming_rules(self, two_experts: bool = False) -> str:
        """The rules that can run full CFG after truncated steps in a run, so that the branch they left out runs
        again after a gap ("" if none): every k-th step, a window with an upper end, the refresh, reuse across a
        Wan expert switch."""
        rules = [name for name, on in (("cfg_every", self.cfg_every > 1), ("sigma_high", self.sigma_high > 0.0),
                                       ("reuse_refresh", self.reuse_refresh > 0.0),
                                       ("reuse across the expert switch", self.reuses and two_experts)) if on]
        return ", ".join(rules)

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
