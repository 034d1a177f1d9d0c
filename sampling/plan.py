"""What one sampler call does: the plan a run makes for it, which the ComfyUI glue only applies.

The sampler gets two slots from the model (ComfyUI's calc_cond_batch outputs 0 and 1: the positive
and the negative x0 prediction) and mixes them at a guidance scale. A plan says which branches
the network evaluates, at which scale the sampler mixes, and what fills the two slots:

- full CFG: both branches, each in its own slot, at the guidance scale (as ComfyUI's own call:
  at scale 1 ComfyUI drops the negative branch);
- keep "cond" / "uncond": one branch, in both slots, at scale 1 (exactly ComfyUI's cfg = 1 step,
  with the kept prediction where ComfyUI would put zeros, so hooks see a consistent pair);
- keep "reuse": the positive branch and, in the negative slot, the positive minus the reused
  guidance, at the guidance scale (so the result is cond + (s - 1) * reused difference).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from .policy import KEEP_UNCOND

POSITIVE = "positive"
NEGATIVE = "negative"
BOTH = (POSITIVE, NEGATIVE)  # in slot order


def kept_branch(keep: str) -> str:
    """The branch a truncated call runs: the negative one for keep = uncond, else the positive one."""
    return NEGATIVE if keep == KEEP_UNCOND else POSITIVE


@dataclass(frozen=True)
class CallPlan:
    step: int
    full: bool
    keep: Optional[str]  # on truncated calls, what fills the slots: "cond", "uncond" or "reuse"; None on full
    branches: tuple[str, ...]  # what the network is asked for (on a full call ComfyUI drops NEGATIVE at scale 1)
    scale: float  # the guidance scale the sampler mixes the two slots at
    reasons: tuple[str, ...] = ()  # the rules that truncate the step (also on a refreshed one)
    expert: Optional[str] = None  # on a two-expert model: the expert this call is routed to
    reused_from: Optional[int] = None  # on a reuse call: the full step whose guidance it reuses
    refreshed: Optional[str] = None  # a step the rules truncate that runs full CFG anyway, and why
    note: Optional[str] = None  # why a reuse call keeps cond instead

    def runs(self, branch: str) -> bool:
        return branch in self.branches
