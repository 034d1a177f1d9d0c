"""Ways of carrying the guidance that the quality harness compares and the node does not offer.

Each estimate is a ``sampling.reuse.Estimate``: ``(memory, sigma) -> x0 difference cond - uncond`` at
``sigma``, plugged into a run as a keep mode of the harness's own (``harness_keep_mode``, used by
``quality/sweep.py``), as is keeping cond after a Wan expert switch. They lost to the node's own
(docs/quality.md), which is why they live here.

- ``x0``: the latest full step's x0 difference, unchanged (no sigma scaling).
- ``frequency``: FasterCache's weighting: D split into low and high spatial frequencies (centred
  FFT of each frame, low = within min(H, W) // 5 of the centre), each band multiplied by 1.1 on
  every reuse step inside its sigma range (low: 0.099 < sigma < 0.901, high: sigma < 0.301; its
  timestep ranges (99, 901) and (-1, 301) on a 0..1000 scale).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from sampling.guidance import per_sample
from sampling.keep import COND, KEEP_MODES, REFRESH_EXPERT_SWITCH, KeepMode, ReuseGuidance, Truncation
from sampling.plan import CallPlan
from sampling.reuse import GuidanceMemory

# FasterCache's defaults (diffusers FasterCacheConfig), on ComfyUI's flow sigma (timestep / 1000).
ALPHA_LOW = 1.1
ALPHA_HIGH = 1.1
LOW_RANGE = (0.099, 0.901)
HIGH_RANGE = (-0.001, 0.301)


class FrequencyMemory(GuidanceMemory):
    """Also notes the reuse steps since the latest full call, by their sigma: FasterCache's weights compound over
    them."""

    def __init__(self, estimate, track_drift: bool = False):
        super().__init__(estimate, track_drift)
        self.reuse_sigmas: dict[int, float] = {}

    def remember(self, *args, **kwargs) -> None:
        super().remember(*args, **kwargs)
        self.reuse_sigmas = {}

    def observe(self, step: int, x: torch.Tensor, sigma: torch.Tensor, cond_x0: torch.Tensor) -> None:
        if self.latest is not None:
            self.reuse_sigmas.setdefault(step, float(sigma.flatten()[0]))
        super().observe(step, x, sigma, cond_x0)


def x0_difference(memory: GuidanceMemory, sigma: torch.Tensor) -> torch.Tensor:
    latest = memory.latest
    return latest.delta * latest.sigma


def low_frequency_mask(height: int, width: int, device=None) -> torch.Tensor:
    """FasterCache's low band: the centred FFT bins within min(H, W) // 5 of the centre."""
    radius = min(height, width) // 5
    y, x = torch.meshgrid(torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij")
    return (x - width // 2) ** 2 + (y - height // 2) ** 2 <= radius ** 2


def split_frequencies(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(low, high) parts of ``t`` over its last two (spatial) dimensions, with low + high = t."""
    spectrum = torch.fft.fftshift(torch.fft.fft2(t.float()), dim=(-2, -1))
    mask = low_frequency_mask(t.shape[-2], t.shape[-1], t.device)
    low = torch.fft.ifft2(torch.fft.ifftshift(spectrum * mask, dim=(-2, -1))).real
    return low, t.float() - low


def band_weight(sigma: float, band: tuple[float, float], alpha: float) -> float:
    return alpha if band[0] < sigma < band[1] else 1.0


def frequency_weighted_difference(memory: GuidanceMemory, sigma: torch.Tensor) -> torch.Tensor:
    """The bands' weights compound once per reuse step since the latest full step, the current one included
    (FasterCache compounds them per iteration)."""
    low_weight = high_weight = 1.0
    for step_sigma in memory.reuse_sigmas.values():
        low_weight *= band_weight(step_sigma, LOW_RANGE, ALPHA_LOW)
        high_weight *= band_weight(step_sigma, HIGH_RANGE, ALPHA_HIGH)
    low, high = split_frequencies(memory.latest.delta)
    return (low_weight * low + high_weight * high) * per_sample(sigma, memory.latest.delta)


ESTIMATES = {"x0": (x0_difference, GuidanceMemory), "frequency": (frequency_weighted_difference, FrequencyMemory)}


@dataclass(frozen=True)
class HarnessReuse(ReuseGuidance):
    """A reuse mode with another estimate, or keeping cond after a Wan expert switch (until the next full step)."""
    memory_class: type = GuidanceMemory
    keep_cond_after_switch: bool = False

    def new_memory(self, track_drift: bool) -> GuidanceMemory:
        return self.memory_class(self.estimate, track_drift)

    def after_expert_switch(self, call: Truncation) -> CallPlan:
        if self.keep_cond_after_switch:
            return COND.plan(call, note=REFRESH_EXPERT_SWITCH)
        return super().after_expert_switch(call)


def harness_keep_mode(keep: str, estimate: Optional[str] = None, full_cfg_after_switch: bool = True) -> KeepMode:
    """The keep mode a setting samples with: the node's own, or a variant of one of its reuse modes."""
    mode = KEEP_MODES[keep]
    if estimate is None and full_cfg_after_switch:
        return mode
    function, memory_class = ESTIMATES[estimate] if estimate else (mode.estimate, GuidanceMemory)
    return HarnessReuse(mode.name, function, mode.description, memory_class=memory_class,
                        keep_cond_after_switch=not full_cfg_after_switch)
