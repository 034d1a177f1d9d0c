"""One sampling run: plans each sampler call and completes it from what the network predicted.

A run is created when sampling starts and dropped when it ends, so the adaptive latch, the reused
guidance and the ledger never leak from one run into the next (nor between two samplers sharing
one model), whether the run finishes, is interrupted or fails. Its parts, one job each: the ledger counts
(``ledger.py``), the keep mode's memory holds the guidance to reuse (``reuse.py``), the adaptive latch decides
when the adaptive rules truncate (``adaptive.py``), the step measures note what the ledger shows beside counts
(``step_measures.py``), and the coordination with a step cache decides which calls must reach the network and
what a cached one gets (``coordination.py``).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Collection, Optional, Sequence

import torch

from .adaptive import AdaptiveLatch
from .coordination import CacheCoordination
from .experts import LOW_NOISE, expert_for_sigma
from .guidance import agreement, relative_change
from .keep import KeepMode, Truncation
from .ledger import Ledger
from .plan import BOTH, CallPlan, core_calls
from .policy import TruncationPolicy
from .rules import cfg_schedule_scales, scheduled_scale
from .schedule import schedule_values, step_count, step_of_sigma
from .step_measures import StepMeasures


class TruncationRun:
    def __init__(self, policy: TruncationPolicy, sigmas, boundary: Optional[float] = None, coordinating: bool = False,
                 keep: Optional[KeepMode] = None):
        """``boundary``: the expert boundary (sigma) of a two-expert model, None for one model.
        ``coordinating``: a step cache is on the model and the pack coordinates with it (``coordination.py``).
        ``keep``: the keep mode, if not the policy's own (the quality harness compares modes the node does not
        offer)."""
        self.policy = policy
        self.boundary = boundary
        self.keep = keep or policy.keep_mode
        self.schedule = schedule_values(sigmas)
        self.ledger = Ledger.for_schedule(self.schedule)
        self.memory = self.keep.new_memory(track_drift=policy.reuse_refresh > 0)
        self.latch = AdaptiveLatch(policy)
        self.measures = StepMeasures()
        self.coordination = CacheCoordination() if coordinating else None
        n = step_count(self.schedule)
        if n > 0 and policy.cfg_truncate_steps > n:
            self.ledger.notes.append(
                f"cfg_truncate_steps = {policy.cfg_truncate_steps} is more than the {n} steps of this "
                f"schedule: every step is truncated")
        scales = len(cfg_schedule_scales(policy.cfg_schedule))
        if scales and n > 0 and scales != n:
            self.ledger.notes.append(
                f"cfg_schedule has {scales} scales for the {n} steps of this schedule: "
                + ("the last holds to the end" if scales < n else f"the last {scales - n} are not used"))

    def plan(self, sigma: float, cfg: float, skips_negative_at_1: bool = True) -> CallPlan:
        """The plan for a sampler call at ``sigma``; ``cfg`` is the sampler's guidance scale;
        ``skips_negative_at_1``: ComfyUI runs the positive branch alone at scale 1 for this call (unless
        ``disable_cfg1_optimization`` is set)."""
        sigma = float(sigma)
        step = step_of_sigma(self.schedule, sigma)
        expert = None if self.boundary is None else expert_for_sigma(sigma, self.boundary)
        sampler_scale = self.policy.cfg_low_noise if expert == LOW_NOISE and self.policy.cfg_low_noise > 0.0 else cfg
        scheduled = scheduled_scale(self.policy.cfg_schedule, step)  # a cfg_schedule sets the scale the step mixes at
        scale = sampler_scale if scheduled is None else scheduled
        reasons = self.policy.static_reasons(step, self.schedule)
        if self.latch.truncates(step):
            reasons += ("adaptive",)
        if not reasons:
            calls = core_calls(scale, skips_negative_at_1)  # core at the scale the step asks for
            return CallPlan(step, True, None, BOTH[:calls], scale, (), expert, core_calls=calls)
        # A truncated call counts against what core runs at the sampler's scale.
        return self.keep.plan(Truncation(step, reasons, expert, scale, core_calls(sampler_scale, skips_negative_at_1)),
                              self.memory, self.policy.reuse_refresh)

    @staticmethod
    def at_cfg(plan: CallPlan, cfg: float, skips_negative_at_1: bool = True) -> CallPlan:
        """The plan at the guidance scale another node set for this call (core's CFGOverride sets the guider's
        cfg in its sigma range): a guided call mixes at that scale, and what core would run follows it."""
        calls = core_calls(cfg, skips_negative_at_1)
        if plan.full:
            return replace(plan, scale=cfg, core_calls=calls, branches=BOTH[:calls])
        return replace(plan, scale=cfg if plan.keep.guided else plan.scale, core_calls=calls)

    def complete(self, plan: CallPlan, x: torch.Tensor, sigma: torch.Tensor, outputs: Sequence[torch.Tensor],
                 ran: Collection[str], cached: Collection[str] = ()) -> list:
        """Account the call, learn from what the network predicted, and return the sampler's slots.

        ``outputs``: ComfyUI's calc_cond_batch outputs, x0 predictions (slot 0 positive, slot 1
        negative, any further ones handed on untouched). ``ran``: the branches the network evaluated;
        ``cached``: those a step cache answered instead. Nothing is learnt from a cached branch.
        """
        self._record(plan, ran, cached)
        if self.coordination is not None:
            self.coordination.ran(plan, ran)
            outputs = self.coordination.fill(plan, x, sigma, list(outputs), ran, cached)
        with torch.no_grad():  # some samplers (uni_pc) run with grad enabled; what is kept must hold no graph
            if plan.full:
                if set(ran) == set(BOTH):
                    self._learn(plan, x, sigma, outputs[0], outputs[1])
                return list(outputs)
            return plan.keep.slots(plan, x, sigma, outputs, self.memory)

    @property
    def coordinating(self) -> bool:
        """Whether the run coordinates with a step cache on the model (``coordination.py``)."""
        return self.coordination is not None

    @property
    def branches_ran(self) -> set[str]:
        """Coordinating: the branches the network has run in this run."""
        return set() if self.coordination is None else self.coordination.branches_ran

    @property
    def learns_from_full_calls(self) -> bool:
        """Whether a full-CFG call teaches the run something: guidance to reuse, or an adaptive rule's measure."""
        return self.keep.learns_guidance or self.policy.adaptive

    def must_reach_network(self, plan: CallPlan) -> bool:
        """Coordinating: whether no cache may answer the call (``coordination.py``)."""
        return self.coordination is not None and self.coordination.must_reach_network(plan,
                                                                                        self.learns_from_full_calls)

    def guided(self, plan: CallPlan, x: torch.Tensor, sigma: torch.Tensor, guided_x0: torch.Tensor,
               call_cached: bool) -> torch.Tensor:
        """The guided x0 prediction the sampler gets for the call. ``call_cached``: a step cache between the pack
        and the guider answered the whole call with ``guided_x0``, and nothing reached the network; coordinating,
        such a call gets the latest cache answer of its own kind instead (``coordination.py``)."""
        if call_cached:
            self._record(plan, (), plan.branches)
        if self.coordination is not None:
            guided_x0 = self.coordination.guided(plan, x, sigma, guided_x0, call_cached)
        return self.measures.output(plan.step, guided_x0)

    def extra_model_calls(self, plan: CallPlan, count: int) -> None:
        """Forwards another node ran in the sampler call beyond the plan's (SkipLayerGuidanceDiT's)."""
        self.ledger.record_extra(plan.step, count)

    def _record(self, plan: CallPlan, ran: Collection[str], cached: Collection[str]) -> None:
        latest = None if self.memory is None else self.memory.latest
        self.ledger.record(plan, ran, cached, None if latest is None else latest.step)

    def _learn(self, plan: CallPlan, x, sigma, cond_x0, uncond_x0) -> None:
        """From a full call the network ran: the guidance to reuse, and the measures of the adaptive rules.

        The measures are taken on ``x - x0``, the model output times sigma: the cosine and the
        relative difference as Adaptive Guidance takes them on noise predictions (the factor
        cancels), the decay on the difference of the denoised predictions themselves.
        """
        if self.memory is not None:
            self.memory.remember(plan.step, x, sigma, cond_x0, uncond_x0, plan.expert)
        cond, uncond = x - cond_x0, x - uncond_x0
        agree = agreement(cond, uncond)
        self.measures.guidance(plan.step, relative_change(uncond, cond), agree)
        if self.latch.observe(plan.step, cond, uncond, agree):
            self.ledger.adaptive_latched_at = plan.step

    def finish(self) -> Ledger:
        """The ledger with its measures read back as floats (one device sync, at the end)."""
        self.measures.write(self.ledger)
        return self.ledger
