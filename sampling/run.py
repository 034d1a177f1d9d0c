"""One sampling run: decides each model call and keeps its ledger.

A run is created when sampling starts and dropped when it ends, so the adaptive latch and the
ledger never leak from one run into the next (nor between two samplers sharing one model).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from .experts import expert_for_sigma
from .guidance import agreement, relative_difference
from .ledger import Ledger
from .policy import TruncationPolicy
from .schedule import schedule_values, step_count, step_of_sigma


MIXED_EXPERTS = "high+low"


@dataclass(frozen=True)
class StepDecision:
    step: int
    full: bool
    keep: Optional[str]  # the branch a truncated step evaluates; None on full steps
    reasons: tuple[str, ...]
    expert: Optional[str] = None  # on a two-expert model: the expert this call is routed to


class TruncationRun:
    def __init__(self, policy: TruncationPolicy, sigmas, boundary: Optional[float] = None):
        """``boundary``: the expert boundary (sigma) of a two-expert model, None for one model."""
        self.policy = policy
        self.boundary = boundary
        self.schedule = schedule_values(sigmas)
        self.ledger = Ledger.for_schedule(self.schedule)
        self._diagnostics: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
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
        if reasons:
            return StepDecision(step, False, self.policy.keep, reasons, expert)
        return StepDecision(step, True, None, (), expert)

    def record(self, decision: StepDecision, branches: int, x: Optional[torch.Tensor] = None,
               cond_x0: Optional[torch.Tensor] = None, uncond_x0: Optional[torch.Tensor] = None) -> None:
        """Account one model call; on a full call with both predictions, measure their agreement.

        ``cond_x0``/``uncond_x0`` are ComfyUI's x0 predictions; measures are taken on ``x - x0``,
        the model-output space (Adaptive Guidance measures on noise predictions, not on x0).
        """
        rec = self.ledger.steps[decision.step]
        rec.calls += 1
        rec.branches += branches
        rec.full = decision.full
        rec.kept = decision.keep
        rec.reasons = decision.reasons
        if decision.expert is not None:
            # A multi-stage step can straddle the boundary: its calls then name both experts.
            rec.expert = decision.expert if rec.expert in (None, decision.expert) else MIXED_EXPERTS
        if not decision.full or x is None or cond_x0 is None or uncond_x0 is None:
            return
        with torch.no_grad():  # some samplers (uni_pc) run with grad enabled; measures must hold no graph
            self._measure(decision, x - cond_x0, x - uncond_x0)

    def _measure(self, decision: StepDecision, cond: torch.Tensor, uncond: torch.Tensor) -> None:
        if self.policy.adaptive and self.ledger.adaptive_latched_at is None:
            agree = agreement(cond, uncond)
            self._diagnostics.setdefault(decision.step, (relative_difference(cond, uncond), agree))
            if bool((agree >= self.policy.adaptive_threshold).all()):
                self.ledger.adaptive_latched_at = decision.step
        elif decision.step not in self._diagnostics:
            self._diagnostics[decision.step] = (relative_difference(cond, uncond), agreement(cond, uncond))

    def finish(self) -> Ledger:
        """The ledger with its measures read back as floats (one device sync, at the end)."""
        for step, (rel, agree) in self._diagnostics.items():
            rec = self.ledger.steps[step]
            rec.relative_difference = float(rel.mean())
            rec.agreement = float(agree.min())
        self._diagnostics.clear()
        return self.ledger
