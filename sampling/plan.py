"""What one sampler call does: the plan a run makes for it, which the ComfyUI glue only applies.

The sampler gets two slots from the model (ComfyUI's calc_cond_batch outputs 0 and 1: the positive
and the negative x0 prediction) and mixes them at a guidance scale. A plan says which branches
the network evaluates, at which scale the sampler mixes, and what fills the two slots: on a full-CFG
call each branch its own slot, at the guidance scale (as ComfyUI's own call: at scale 1 ComfyUI drops
the negative branch); on a truncated call whatever its keep mode (``keep.py``) fills them with.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .keep import KeepMode

POSITIVE = "positive"
NEGATIVE = "negative"
BOTH = (POSITIVE, NEGATIVE)  # in slot order

# What a call is, as the ledger and the step strip name it: full CFG, a call the rules truncate that runs full
# CFG anyway, or a truncated call, named by its keep mode's kind (keep.py).
FULL = "full"
REFRESHED = "refresh"


@dataclass(frozen=True)
class CallPlan:
    step: int
    full: bool
    keep: Optional[KeepMode]  # on truncated calls, the keep mode that fills the slots; None on full ones
    branches: tuple[str, ...]  # what the network is asked for (on a full call ComfyUI drops NEGATIVE at scale 1)
    scale: float  # the guidance scale the sampler mixes the two slots at
    reasons: tuple[str, ...] = ()  # the rules that truncate the step (also on a refreshed one)
    expert: Optional[str] = None  # on a two-expert model: the expert this call is routed to
    reused_from: Optional[int] = None  # on a reuse call: the full step whose guidance it reuses
    refreshed: Optional[str] = None  # a step the rules truncate that runs full CFG anyway, and why
    note: Optional[str] = None  # why a reuse call keeps cond instead

    def runs(self, branch: str) -> bool:
        return branch in self.branches

    @property
    def kind(self) -> str:
        """The call's name in the ledger and the strip: full, refresh, or its keep mode's kind."""
        if self.full:
            return REFRESHED if self.refreshed else FULL
        return self.keep.kind
