"""The adaptive rules' latch: from the first full-CFG step whose measure passes, every later step is truncated."""
from __future__ import annotations

from typing import Optional

import torch

from .guidance import difference_norm
from .policy import TruncationPolicy


class AdaptiveLatch:
    def __init__(self, policy: TruncationPolicy):
        self.policy = policy
        self.latched_at: Optional[int] = None  # the step at which it latched
        self._peak: Optional[torch.Tensor] = None  # per sample, the largest guidance difference so far

    def truncates(self, step: int) -> bool:
        return self.latched_at is not None and step > self.latched_at

    def observe(self, step: int, cond, uncond, agree) -> bool:
        """A full call's predictions (``x - x0``, and their cosine ``agree``); whether it latched here."""
        if not self.policy.adaptive or self.latched_at is not None:
            return False
        latch = False
        if self.policy.adaptive_threshold > 0.0:
            latch = bool((agree >= self.policy.adaptive_threshold).all())
        if self.policy.adaptive_decay > 0.0:
            # Compared across steps on the predicted picture (x - x0), where guidance's effect fades as
            # sampling ends; a flow model's velocity difference itself barely shrinks.
            difference = difference_norm(cond, uncond)
            self._peak = difference if self._peak is None else torch.maximum(self._peak, difference)
            latch = latch or bool((difference <= self.policy.adaptive_decay * self._peak).all())
        if latch:
            self.latched_at = step
        return latch
