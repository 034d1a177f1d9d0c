"""What the sampler gets for a cached call or branch (one a step cache answered), when the pack coordinates with it.

The cache decides which calls it answers (its own rule on how much the input changed); the pack then
gives such a call the network's latest outputs for that branch, or for the guided result, carried
in model-output space (noise or velocity, ``(x - x0) / sigma``) as reuse_extrapolated carries the
guidance: extrapolated linearly in sigma from the latest two, at most one span ahead, then held.
Core LazyCache's own answer holds ``x0 - x`` instead, which over-steps by ``sigma_then / sigma_now``
at every step it answers; EasyCache's holds the network's ``output - input``. On the quality harness
(docs/quality.md) the pack's answer keeps the picture close to full CFG's where the caches' own
drift several times further.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .guidance import extrapolate_in_sigma, model_output, per_sample


def guided_at(scale: float) -> str:
    """The key of the guided results at one guidance scale (for whole cached calls), beside the two branches':
    results at different scales are different quantities, never carried into one another."""
    return f"guided at {scale:g}"


@dataclass
class NetworkOutput:
    output: torch.Tensor  # (x - x0) / sigma, float32
    sigma: torch.Tensor  # (B, 1, ..., 1)
    expert: Optional[str]


class CacheAnswers:
    """The network's latest two model outputs per branch, and of the guided result per guidance scale."""

    def __init__(self):
        self._history: dict[str, list[NetworkOutput]] = {}

    def keep(self, key: str, x: torch.Tensor, sigma: torch.Tensor, x0: torch.Tensor, expert: Optional[str]) -> None:
        with torch.no_grad():
            s = per_sample(sigma, x0)
            entry = NetworkOutput(model_output(x, x0, s), s, expert)
        history = [h for h in self._history.get(key, []) if h.expert == expert]  # never across an expert switch
        self._history[key] = (history + [entry])[-2:]

    def estimate(self, key: str, x: torch.Tensor, sigma: torch.Tensor, like: torch.Tensor,
              expert: Optional[str]) -> Optional[torch.Tensor]:
        """The x0 prediction at ``sigma`` from the kept outputs; None when there is none from this expert."""
        history = [h for h in self._history.get(key, []) if h.expert == expert]
        if not history:
            return None
        with torch.no_grad():
            s = per_sample(sigma, like)
            latest = history[-1]
            output = latest.output if len(history) < 2 else extrapolate_in_sigma(
                history[0].output, history[0].sigma, latest.output, latest.sigma, s)
            return (x.float() - output * s).to(like.dtype)
