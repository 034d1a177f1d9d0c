"""Reusing the guidance of the latest full-CFG step on truncated steps (keep = "reuse").

A reuse step runs the positive branch only and estimates the negative prediction from the
difference between the branches at the run's latest full-CFG step(s): the unconditional half of
FasterCache (Lv et al., ICLR 2025). The sampler then gets the pair (cond, estimated uncond) and
applies its normal scale, so the result is ``cond + (s - 1) * delta`` with ``delta = cond -
uncond`` as estimated.

Inputs and outputs are ComfyUI's x0 predictions (denoised). The difference is carried per sample
in model-output space, ``D = (cond_x0 - uncond_x0) / sigma`` (the noise or velocity difference,
sign aside), because that is what a network predicts; in x0 terms ``delta_now = delta_then *
sigma_now / sigma_then``. The alternatives the quality harness compares:

- ``sigma``: D of the latest full step, unchanged (the shipped ``reuse``).
- ``x0``: the latest full step's x0 difference, unchanged (no sigma scaling).
- ``extrapolate``: D extrapolated linearly in sigma from the latest two full steps, at most as far
  beyond the latest as the two lie apart, held after that.
- ``frequency``: FasterCache's weighting: D split into low and high spatial frequencies (centred
  FFT of each frame, low = within min(H, W) // 5 of the centre), each band multiplied by 1.1 on
  every reuse step inside its sigma range (low: 0.099 < sigma < 0.901, high: sigma < 0.301; its
  timestep ranges (99, 901) and (-1, 301) on a 0..1000 scale).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

ESTIMATE_SIGMA = "sigma"
ESTIMATE_X0 = "x0"
ESTIMATE_EXTRAPOLATE = "extrapolate"
ESTIMATE_FREQUENCY = "frequency"
ESTIMATES = (ESTIMATE_SIGMA, ESTIMATE_X0, ESTIMATE_EXTRAPOLATE, ESTIMATE_FREQUENCY)

# FasterCache's defaults (diffusers FasterCacheConfig), on ComfyUI's flow sigma (timestep / 1000).
ALPHA_LOW = 1.1
ALPHA_HIGH = 1.1
LOW_RANGE = (0.099, 0.901)
HIGH_RANGE = (-0.001, 0.301)


def per_sample(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """ComfyUI's sigma (one value per sample, or a single value) shaped to broadcast against ``like``."""
    sigma = sigma.to(like.device, torch.float32).reshape(-1)
    if sigma.numel() == 1:
        sigma = sigma.expand(like.shape[0])
    return sigma.reshape([like.shape[0]] + [1] * (like.ndim - 1))


def relative_change(now: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """|now - then| / |then| per sample (B,), norms over every non-batch dimension."""
    diff = torch.linalg.vector_norm((now.float() - then.float()).reshape(now.shape[0], -1), dim=1)
    base = torch.linalg.vector_norm(then.float().reshape(then.shape[0], -1), dim=1)
    return diff / base.clamp_min(torch.finfo(torch.float32).tiny)


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


@dataclass
class FullStep:
    """The branches' difference at one full-CFG call, per sample."""
    step: int
    sigma: torch.Tensor  # (B, 1, ..., 1), float32
    delta: torch.Tensor  # D = (cond_x0 - uncond_x0) / sigma, float32
    cond_output: torch.Tensor  # the positive model output (x - cond_x0) / sigma, for the refresh rule
    expert: Optional[str]


class GuidanceMemory:
    """The guidance of one run's latest full-CFG calls; estimates the negative prediction on reuse steps."""

    def __init__(self, estimate: str = ESTIMATE_SIGMA):
        if estimate not in ESTIMATES:
            raise ValueError(f"estimate must be one of {', '.join(ESTIMATES)}, got {estimate!r}")
        self.estimate = estimate
        self.history: list[FullStep] = []  # the latest two full calls, oldest first
        self.drift: Optional[torch.Tensor] = None  # largest relative change of cond since the latest full call
        self._weights = (1.0, 1.0)  # frequency estimate: the compounded band weights
        self._weighted_steps: set[int] = set()

    @property
    def latest(self) -> Optional[FullStep]:
        return self.history[-1] if self.history else None

    def remember(self, step: int, x: torch.Tensor, sigma: torch.Tensor, cond_x0: torch.Tensor,
                 uncond_x0: torch.Tensor, expert: Optional[str] = None) -> None:
        """Keep the difference of a full call; a call on another expert starts the history over."""
        with torch.no_grad():
            s = per_sample(sigma, cond_x0)
            entry = FullStep(step, s, (cond_x0.float() - uncond_x0.float()) / s, (x.float() - cond_x0.float()) / s,
                             expert)
        if self.history and self.history[-1].expert != expert:
            self.history = []
        if self.history and self.history[-1].step == step:
            self.history[-1] = entry  # a multi-call step keeps its latest call
        else:
            self.history = (self.history + [entry])[-2:]
        self.drift = None
        self._weights = (1.0, 1.0)
        self._weighted_steps = set()

    def usable_for(self, expert: Optional[str]) -> bool:
        """A difference exists and was taken on this expert (a Wan expert's difference never guides the other)."""
        return self.latest is not None and self.latest.expert == expert

    def observe(self, x: torch.Tensor, sigma: torch.Tensor, cond_x0: torch.Tensor) -> None:
        """After a reuse call: how far the positive model output has moved since the latest full call."""
        if self.latest is None:
            return
        with torch.no_grad():
            output = (x.float() - cond_x0.float()) / per_sample(sigma, cond_x0)
            moved = relative_change(output, self.latest.cond_output).max()
        self.drift = moved if self.drift is None else torch.maximum(self.drift, moved)

    def difference(self, step: int, sigma: torch.Tensor) -> torch.Tensor:
        """The estimated x0 difference ``cond - uncond`` at ``sigma`` (per sample), by the chosen estimate."""
        latest = self.latest
        if latest is None:
            raise RuntimeError("no full-CFG step to reuse yet; such a step must keep cond")
        s = per_sample(sigma, latest.delta)
        if self.estimate == ESTIMATE_X0:
            return latest.delta * latest.sigma
        if self.estimate == ESTIMATE_EXTRAPOLATE and len(self.history) == 2:
            older = self.history[0]
            span = latest.sigma - older.sigma
            # Two full calls at one sigma (a multi-call step) give no slope: hold D instead.
            slope = torch.where(span == 0, torch.zeros_like(latest.delta),
                                (latest.delta - older.delta) / torch.where(span == 0, torch.ones_like(span), span))
            # Extrapolate at most one span beyond the latest full call, then hold: a line through two
            # close points leaves the curve fast (from steps 0 and 1 over 18 steps it wrecks the picture).
            reach = torch.maximum(s - latest.sigma, -span.abs())
            return (latest.delta + slope * reach) * s
        if self.estimate == ESTIMATE_FREQUENCY:
            return self._frequency_weighted(step, float(s.flatten()[0])) * s
        return latest.delta * s

    def _frequency_weighted(self, step: int, sigma: float) -> torch.Tensor:
        if step not in self._weighted_steps:  # compounded once per reuse step, as FasterCache does per iteration
            self._weighted_steps.add(step)
            low, high = self._weights
            self._weights = (low * band_weight(sigma, LOW_RANGE, ALPHA_LOW),
                             high * band_weight(sigma, HIGH_RANGE, ALPHA_HIGH))
        low, high = split_frequencies(self.latest.delta)
        return self._weights[0] * low + self._weights[1] * high

    def estimate_uncond(self, step: int, sigma: torch.Tensor, cond_x0: torch.Tensor) -> torch.Tensor:
        """The negative x0 prediction a reuse call hands the sampler: ``cond - delta``."""
        with torch.no_grad():
            return (cond_x0.float() - self.difference(step, sigma)).to(cond_x0.dtype)
