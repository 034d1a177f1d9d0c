"""The keep modes: what a call the rules truncate runs and hands the sampler, one registry entry each.

A keep mode says which branch the network evaluates on such a call, at which guidance scale the
sampler mixes its two slots, what fills them, and whether the run learns guidance for it from the
full-CFG calls. The node's ``keep`` input offers the registry's names (``KEEP_MODES``, in this order);
a run looks its mode up with ``keep_mode``, which refuses an unknown name. A mode's ``kind`` names its
steps in the ledger and the step strip, which gives every kind a colour and a legend word (``COLORS``
and ``LEGEND`` in ``web/js/step_strip.js``; a unit test reads them from the file).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import torch

from .plan import BOTH, NEGATIVE, POSITIVE, CallPlan
from .reuse import Estimate, GuidanceMemory, extrapolated_difference, held_difference

NO_GUIDANCE_YET = "no full step yet"
REFRESH_EXPERT_SWITCH = "expert switch"
REFRESH_MOVED = "prediction moved"


@dataclass(frozen=True)
class Truncation:
    """A sampler call the rules truncate, before its keep mode plans it."""
    step: int
    reasons: tuple[str, ...]
    expert: Optional[str]
    scale: float  # the scale a guided call on this expert mixes at (cfg, or cfg_low_noise on the low-noise one)
    core_calls: int  # what ComfyUI's CFGGuider would run for the call (plan.core_calls)

    def full(self, refreshed: str) -> CallPlan:
        """Full CFG after all, and why."""
        return CallPlan(self.step, True, None, BOTH, self.scale, self.reasons, self.expert, refreshed=refreshed,
                        core_calls=self.core_calls)


@dataclass(frozen=True)
class KeepOne:
    """One branch, in both slots, at scale 1: exactly ComfyUI's cfg = 1 step, with the kept prediction where
    ComfyUI puts zeros, so that hooks and CFG++ samplers see a consistent pair."""
    name: str
    branch: str  # the branch the network runs
    description: str  # for the keep input's tooltip
    guided = False  # the sampler mixes its slots at scale 1
    learns_guidance = False

    @property
    def kind(self) -> str:
        return self.name

    def new_memory(self, track_drift: bool) -> Optional[GuidanceMemory]:
        return None

    def plan(self, call: Truncation, memory: Optional[GuidanceMemory] = None, refresh: float = 0.0,
             note: Optional[str] = None) -> CallPlan:
        return CallPlan(call.step, False, self, (self.branch,), 1.0, call.reasons, call.expert, note=note,
                        core_calls=call.core_calls)

    def slots(self, plan: CallPlan, x: torch.Tensor, sigma: torch.Tensor, outputs: Sequence[torch.Tensor],
              memory: Optional[GuidanceMemory]) -> list:
        kept = outputs[BOTH.index(self.branch)]
        return [kept, kept.clone()] + list(outputs[2:])  # a clone, so that no hook can alias the two slots


@dataclass(frozen=True)
class ReuseGuidance:
    """The positive branch, and in the negative slot the positive minus the guidance the run learnt from its
    latest full-CFG calls, at the guidance scale: the result is cond + (s - 1) * the estimated difference."""
    name: str
    estimate: Estimate  # the difference at the call's sigma, from the memory (reuse.py)
    description: str
    kind = "reuse"
    branch = POSITIVE
    guided = True  # the sampler mixes its slots at the guidance scale
    learns_guidance = True

    def new_memory(self, track_drift: bool) -> Optional[GuidanceMemory]:
        return GuidanceMemory(self.estimate, track_drift)

    def plan(self, call: Truncation, memory: GuidanceMemory, refresh: float = 0.0) -> CallPlan:
        if memory.latest is None:
            return COND.plan(call, note=NO_GUIDANCE_YET)
        if not memory.usable_for(call.expert):
            return self.after_expert_switch(call)
        if memory.moved_beyond(refresh):
            return call.full(REFRESH_MOVED)
        return CallPlan(call.step, False, self, (POSITIVE,), call.scale, call.reasons, call.expert,
                        reused_from=memory.latest.step, core_calls=call.core_calls)

    def after_expert_switch(self, call: Truncation) -> CallPlan:
        """One Wan expert's guidance never guides the other: the first such call on the new expert runs full CFG."""
        return call.full(REFRESH_EXPERT_SWITCH)

    def slots(self, plan: CallPlan, x: torch.Tensor, sigma: torch.Tensor, outputs: Sequence[torch.Tensor],
              memory: GuidanceMemory) -> list:
        cond = outputs[0]
        memory.observe(plan.step, x, sigma, cond)
        return [cond, memory.estimate_uncond(sigma, cond)] + list(outputs[2:])


KeepMode = KeepOne | ReuseGuidance

COND = KeepOne("cond", POSITIVE, "the positive prediction alone, exactly ComfyUI's cfg = 1 step (Lumina official, "
                                 "diffusers, guidance interval).")
UNCOND = KeepOne("uncond", NEGATIVE, "the negative prediction alone, the Wan write-up's literal behaviour.")
REUSE = ReuseGuidance(
    "reuse", held_difference,
    "the positive prediction guided by the latest full-CFG step's difference (cond - uncond held constant in the "
    "model's output space, i.e. scaled by sigma in x0: FasterCache's CFG cache); the picture stays close to full "
    "CFG's.")
REUSE_EXTRAPOLATED = ReuseGuidance(
    "reuse_extrapolated", extrapolated_difference,
    "the difference extrapolated linearly in sigma from the latest two full steps (at most as far ahead as they "
    "lie apart): closer still with cfg_every. Before the first full step both reuse modes keep cond; after a Wan "
    "expert switch the first such step runs full CFG.")
KEEP_MODES = {mode.name: mode for mode in (COND, UNCOND, REUSE, REUSE_EXTRAPOLATED)}


def keep_mode(name: str) -> KeepMode:
    if name not in KEEP_MODES:
        raise ValueError(f"keep must be one of {', '.join(KEEP_MODES)}, got {name!r}")
    return KEEP_MODES[name]


def kinds() -> set[str]:
    """The names the registry's modes give their steps."""
    return {mode.kind for mode in KEEP_MODES.values()}
