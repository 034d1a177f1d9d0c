"""The guidance a run learns from its full-CFG calls, for the keep modes that reuse it (``keep.py``).

A reuse step runs the positive branch only and estimates the negative prediction from the
difference between the branches at the run's latest full-CFG step(s): the unconditional half of
FasterCache (Lv et al., ICLR 2025). The sampler then gets the pair (cond, estimated uncond) and
applies its normal scale, so the result is ``cond + (s - 1) * delta`` with ``delta = cond -
uncond`` as estimated.

Inputs and outputs are ComfyUI's x0 predictions (denoised). The difference is carried per sample
in model-output space, ``D = (cond_x0 - uncond_x0) / sigma`` (the noise or velocity difference,
sign aside), because that is what a network predicts; in x0 terms ``delta_now = delta_then *
sigma_now / sigma_then``. The two estimates users can pick:

- ``held_difference`` (keep = reuse): D of the latest full step, unchanged.
- ``extrapolated_difference`` (keep = reuse_extrapolated): D extrapolated linearly in sigma from the
  latest two full steps, at most as far beyond the latest as the two lie apart, held after that.

An estimate is any function ``(memory, sigma) -> x0 difference``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch

from .guidance import extrapolate_in_sigma, model_output, per_sample, relative_change


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

    def __init__(self, estimate: "Estimate", track_drift: bool = False):
        """``track_drift``: measure how far the positive prediction moves on reuse calls (the refresh rule)."""
        self.estimate = estimate
        self.track_drift = track_drift
        self.history: list[FullStep] = []  # the latest two full calls, oldest first
        self.drift: Optional[torch.Tensor] = None  # largest relative change of cond since the latest full call

    @property
    def latest(self) -> Optional[FullStep]:
        return self.history[-1] if self.history else None

    def remember(self, step: int, x: torch.Tensor, sigma: torch.Tensor, cond_x0: torch.Tensor,
                 uncond_x0: torch.Tensor, expert: Optional[str] = None) -> None:
        """Keep the difference of a full call; a call on another expert starts the history over."""
        with torch.no_grad():
            s = per_sample(sigma, cond_x0)
            entry = FullStep(step, s, (cond_x0.float() - uncond_x0.float()) / s, model_output(x, cond_x0, s), expert)
        if self.history and self.history[-1].expert != expert:
            self.history = []
        if self.history and self.history[-1].step == step:
            self.history[-1] = entry  # a multi-call step keeps its latest call
        else:
            self.history = (self.history + [entry])[-2:]
        self.drift = None

    def usable_for(self, expert: Optional[str]) -> bool:
        """A difference exists and was taken on this expert (a Wan expert's difference never guides the other)."""
        return self.latest is not None and self.latest.expert == expert

    def moved_beyond(self, threshold: float) -> bool:
        """The refresh rule: the positive prediction moved more than ``threshold`` since the latest full call."""
        return threshold > 0.0 and self.drift is not None and float(self.drift) > threshold

    def observe(self, step: int, x: torch.Tensor, sigma: torch.Tensor, cond_x0: torch.Tensor) -> None:
        """After a reuse call: how far the positive output has moved since the latest full call."""
        if self.latest is None or not self.track_drift:
            return
        with torch.no_grad():
            output = model_output(x, cond_x0, per_sample(sigma, cond_x0))
            moved = relative_change(output, self.latest.cond_output).max()
        self.drift = moved if self.drift is None else torch.maximum(self.drift, moved)

    def difference(self, sigma: torch.Tensor) -> torch.Tensor:
        """The estimated x0 difference ``cond - uncond`` at ``sigma`` (per sample). Changes nothing."""
        if self.latest is None:
            raise RuntimeError("no full-CFG step to reuse yet; such a step must keep cond")
        return self.estimate(self, sigma)

    def estimate_uncond(self, sigma: torch.Tensor, cond_x0: torch.Tensor) -> torch.Tensor:
        """The negative x0 prediction a reuse call hands the sampler: ``cond - delta``."""
        with torch.no_grad():
            return (cond_x0.float() - self.difference(sigma)).to(cond_x0.dtype)


Estimate = Callable[[GuidanceMemory, torch.Tensor], torch.Tensor]


def held_difference(memory: GuidanceMemory, sigma: torch.Tensor) -> torch.Tensor:
    """keep = reuse: the latest full step's model-output difference, unchanged (in x0: scaled by sigma)."""
    latest = memory.latest
    return latest.delta * per_sample(sigma, latest.delta)


def extrapolated_difference(memory: GuidanceMemory, sigma: torch.Tensor) -> torch.Tensor:
    """keep = reuse_extrapolated: the difference extrapolated linearly in sigma from the latest two full steps."""
    if len(memory.history) < 2:
        return held_difference(memory, sigma)
    older, latest = memory.history
    s = per_sample(sigma, latest.delta)
    return extrapolate_in_sigma(older.delta, older.sigma, latest.delta, latest.sigma, s) * s
