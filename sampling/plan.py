"""What one sampler call does: the plan a run makes for it, which the ComfyUI glue only applies.

The sampler gets two slots from the model (ComfyUI's calc_cond_batch outputs 0 and 1: the positive
and the negative x0 prediction) and mixes them at a guidance scale. A plan says which branches
the network evaluates, at which scale the sampler mixes, and what fills the two slots: on a full-CFG
call each branch its own slot, at the guidance scale (as ComfyUI's own call: at scale 1 ComfyUI drops
the negative branch); on a truncated call whatever its keep mode (``keep.py``) fills them with.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:
    from .keep import KeepMode

POSITIVE = "positive"
NEGATIVE = "negative"
BOTH = (POSITIVE, NEGATIVE)  # in slot order

# What a call is, as the ledger and the step strip name it: full CFG, a call the rules truncate that runs full
# CFG anyway, a full call at guidance scale 1 (where ComfyUI itself runs the positive branch only), or a
# truncated call, named by its keep mode's kind (keep.py).
FULL = "full"
REFRESHED = "refresh"
CFG_ONE = "cfg1"
CORE_CALLS_AT_CFG_1 = 1  # model calls ComfyUI's CFGGuider runs for a sampler call at scale 1 (else both branches)


def core_calls(scale: float, skips_negative_at_1: bool = True) -> int:
    """What ComfyUI's own CFGGuider runs for a sampler call at this guidance scale: one branch at scale 1 (unless
    something set ``disable_cfg1_optimization``, as CFG++ samplers do), both otherwise."""
    return CORE_CALLS_AT_CFG_1 if skips_negative_at_1 and math.isclose(scale, 1.0) else len(BOTH)


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
    core_calls: int = 2  # what ComfyUI's CFGGuider would run for this call (core_calls)

    def runs(self, branch: str) -> bool:
        return branch in self.branches

    @property
    def kind(self) -> str:
        """The call's name in the ledger and the strip: full, refresh, cfg1, or its keep mode's kind."""
        if self.full:
            if self.core_calls == CORE_CALLS_AT_CFG_1:
                return CFG_ONE
            return REFRESHED if self.refreshed else FULL
        return self.keep.kind
