"""One sampling run: decides each model call and keeps its ledger.

A run is created when sampling starts and dropped when it ends, so the adaptive latch, the reused
guidance and the ledger never leak from one run into the next (nor between two samplers sharing
one model), whether the run finishes, is interrupted or fails.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .experts import expert_for_sigma
from .guidance import agreement, difference_norm, relative_difference
from .ledger import BRANCHES_PER_FULL_CALL, Ledger
from .policy import KEEP_COND, KEEP_REUSE, SWITCH_REFRESH, TruncationPolicy
from .reuse import GuidanceMemory
from .schedule import schedule_values, step_count, step_of_sigma

MIXED_EXPERTS = "high+low"
REFRESH_EXPERT_SWITCH = "expert switch"
REFRESH_MOVED = "prediction moved"
NO_GUIDANCE_YET = "no full step yet"


@dataclass(frozen=True)
class StepDecision:
    step: int
    full: bool
    keep: Optional[str]  # what a truncated call returns ("cond", "uncond", "reuse" either way); None on full
    reasons: tuple[str, ...]  # the rules that truncate the step (also on a refreshed one)
    expert: Optional[str] = None  # on a two-expert model: the expert this call is routed to
    reused_from: Optional[int] = None  # on a reuse call: the full step whose guidance it reuses
    refreshed: Optional[str] = None  # a step the rules truncate that runs full CFG anyway, and why
    note: Optional[str] = None  # why a reuse call keeps cond instead

    @property
    def branches(self) -> int:
        """Branch evaluations this call asks for: both halves of CFG, or the one it keeps."""
        return BRANCHES_PER_FULL_CALL if self.full else 1

    @property
    def guided(self) -> bool:
        """Whether the sampler applies the guidance scale (full and reuse calls) or runs at cfg 1."""
        return self.full or self.keep == KEEP_REUSE


class TruncationRun:
    def __init__(self, policy: TruncationPolicy, sigmas, boundary: Optional[float] = None):
        """``boundary``: the expert boundary (sigma) of a two-expert model, None for one model."""
        self.policy = policy
        self.boundary = boundary
        self.schedule = schedule_values(sigmas)
        self.ledger = Ledger.for_schedule(self.schedule)
        self.memory = GuidanceMemory(policy.estimate) if policy.reuses else None
        self._diagnostics: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._peak: Optional[torch.Tensor] = None  # per sample, the largest guidance difference so far
        n = step_count(self.schedule)
        if n > 0 and policy.cfg_truncate_steps > n:
            self.ledger.notes.append(
                f"cfg_truncate_steps = {policy.cfg_truncate_steps} is more than the {n} steps of this "
                f"schedule: every step is truncated")

    def decide(self, sigma: float) -> StepDecision:
        sigma = float(sigma)
        step = step_of_sigma(self.schedule, sigma)
        expert = None if self.boundary is None else expert_for_sigma(sigma, self.boundary)
        reasons = self.policy.static_reasons(step, self.schedule)
        latched = self.ledger.adaptive_latched_at
        if latched is not None and step > latched:
            reasons += ("adaptive",)
        if not reasons:
            return StepDecision(step, True, None, (), expert)
        if self.memory is None:
            return StepDecision(step, False, self.policy.keep, reasons, expert)
        return self._reuse_decision(step, reasons, expert)

    def _reuse_decision(self, step: int, reasons: tuple[str, ...], expert: Optional[str]) -> StepDecision:
        memory = self.memory
        if memory.latest is None:
            return StepDecision(step, False, KEEP_COND, reasons, expert, note=NO_GUIDANCE_YET)
        if not memory.usable_for(expert):
            if self.policy.expert_switch == SWITCH_REFRESH:
                return StepDecision(step, True, None, reasons, expert, refreshed=REFRESH_EXPERT_SWITCH)
            return StepDecision(step, False, KEEP_COND, reasons, expert, note=REFRESH_EXPERT_SWITCH)
        if (self.policy.reuse_refresh > 0.0 and memory.drift is not None
                and float(memory.drift) > self.policy.reuse_refresh):
            return StepDecision(step, True, None, reasons, expert, refreshed=REFRESH_MOVED)
        return StepDecision(step, False, KEEP_REUSE, reasons, expert, reused_from=memory.latest.step)

    def estimate_uncond(self, decision: StepDecision, sigma: torch.Tensor, cond_x0: torch.Tensor) -> torch.Tensor:
        """On a reuse call: the negative x0 prediction estimated from the reused guidance."""
        return self.memory.estimate_uncond(decision.step, sigma, cond_x0)

    def record(self, decision: StepDecision, branches: int, x: Optional[torch.Tensor] = None,
               sigma: Optional[torch.Tensor] = None, cond_x0: Optional[torch.Tensor] = None,
               uncond_x0: Optional[torch.Tensor] = None) -> None:
        """Account one model call (``branches``: the halves it evaluated), then learn from what it predicted.

        ``cond_x0``/``uncond_x0`` are ComfyUI's x0 predictions (``uncond_x0`` only on full calls).
        The measures are taken on ``x - x0``, the model output times sigma: cosine and relative
        difference as Adaptive Guidance takes them on noise predictions (the factor cancels), the
        decay on the difference of the denoised predictions themselves.
        """
        rec = self.ledger.steps[decision.step]
        rec.calls += 1
        rec.branches += branches
        rec.full = decision.full
        rec.kept = decision.keep
        rec.reasons = decision.reasons
        rec.reused_from = decision.reused_from
        rec.refreshed = decision.refreshed
        if decision.expert is not None:
            # A multi-stage step can straddle the boundary: its calls then name both experts.
            rec.expert = decision.expert if rec.expert in (None, decision.expert) else MIXED_EXPERTS
        if x is None or sigma is None or cond_x0 is None:
            return
        with torch.no_grad():  # some samplers (uni_pc) run with grad enabled; measures must hold no graph
            if decision.full and uncond_x0 is not None:
                if self.memory is not None:
                    self.memory.remember(decision.step, x, sigma, cond_x0, uncond_x0, decision.expert)
                self._measure(decision, x, cond_x0, uncond_x0)
            elif decision.keep == KEEP_REUSE and self.policy.reuse_refresh > 0.0:  # reuse of either estimate
                self.memory.observe(x, sigma, cond_x0)

    def _measure(self, decision: StepDecision, x, cond_x0, uncond_x0) -> None:
        cond, uncond = x - cond_x0, x - uncond_x0  # ratios within one call: the factor sigma cancels
        agree = agreement(cond, uncond)
        if decision.step not in self._diagnostics:  # the step's first call is the one the ledger shows
            self._diagnostics[decision.step] = (relative_difference(cond, uncond), agree)
        if not self.policy.adaptive or self.ledger.adaptive_latched_at is not None:
            return
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
            self.ledger.adaptive_latched_at = decision.step

    def finish(self) -> Ledger:
        """The ledger with its measures read back as floats (one device sync, at the end)."""
        for step, (rel, agree) in self._diagnostics.items():
            rec = self.ledger.steps[step]
            rec.relative_difference = float(rel.mean())
            rec.agreement = float(agree.min())
        self._diagnostics.clear()
        return self.ledger
