"""One sampling run: plans each sampler call, completes it from what the network predicted, keeps its ledger.

A run is created when sampling starts and dropped when it ends, so the adaptive latch, the reused
guidance and the ledger never leak from one run into the next (nor between two samplers sharing
one model), whether the run finishes, is interrupted or fails.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Collection, Optional, Sequence

import torch

from .experts import LOW_NOISE, expert_for_sigma
from .guidance import agreement, difference_norm, relative_change
from .held import HeldOutputs, guided_at
from .keep import KeepMode, Truncation
from .ledger import Ledger
from .plan import BOTH, NEGATIVE, CallPlan, core_calls
from .policy import TruncationPolicy
from .rules import cfg_schedule_scales, scheduled_scale
from .schedule import schedule_values, step_count, step_of_sigma

MIXED_EXPERTS = "high+low"


def held_key(plan: CallPlan) -> str:
    """What a whole cached call is answered from: a call that keeps one branch at scale 1 is that branch's own
    output; a guided one (full CFG, reuse) the guided outputs of calls at the same scale, never of another."""
    return plan.branches[0] if not plan.full and not plan.keep.guided else guided_at(plan.scale)


class TruncationRun:
    def __init__(self, policy: TruncationPolicy, sigmas, boundary: Optional[float] = None, coordinating: bool = False,
                 keep: Optional[KeepMode] = None):
        """``boundary``: the expert boundary (sigma) of a two-expert model, None for one model.
        ``coordinating``: a step cache is on the model and the pack coordinates with it (``held.py``).
        ``keep``: the keep mode, if not the policy's own (the quality harness compares modes the node does not
        offer)."""
        self.policy = policy
        self.boundary = boundary
        self.keep = keep or policy.keep_mode
        self.schedule = schedule_values(sigmas)
        self.ledger = Ledger.for_schedule(self.schedule)
        self.memory = self.keep.new_memory(track_drift=policy.reuse_refresh > 0)
        self.latched_at: Optional[int] = None  # the step at which an adaptive rule latched
        self.held = HeldOutputs() if coordinating else None
        self._network_expert: Optional[tuple] = None  # (expert,) of the latest call the network ran
        self.branches_ran: set[str] = set()  # the branches the network has run in this run
        self._peak: Optional[torch.Tensor] = None  # per sample, the largest guidance difference so far
        self._diagnostics: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._finite: dict[int, list[torch.Tensor]] = {}  # per step, whether each call's output was finite
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
        if self.latched_at is not None and step > self.latched_at:
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
        self._account(plan, ran, cached)
        if ran:
            self._network_expert = (plan.expert,)
            self.branches_ran.update(ran)
        if self.held is not None:
            outputs = self._hold(plan, x, sigma, list(outputs), ran, cached)
        with torch.no_grad():  # some samplers (uni_pc) run with grad enabled; what is kept must hold no graph
            if plan.full:
                if set(ran) == set(BOTH):
                    self._learn(plan, x, sigma, outputs[0], outputs[1])
                return list(outputs)
            return plan.keep.slots(plan, x, sigma, outputs, self.memory)

    def _hold(self, plan: CallPlan, x, sigma, outputs: list, ran, cached) -> list:
        """Coordinating: keep what the network ran, and hand a cached branch its held output instead."""
        for slot, branch in enumerate(BOTH):
            if branch in ran:
                self.held.keep(branch, x, sigma, outputs[slot], plan.expert)
            elif branch in cached:
                held = self.held.estimate(branch, x, sigma, outputs[slot], plan.expert)
                outputs[slot] = outputs[slot] if held is None else held
        return outputs

    @property
    def coordinating(self) -> bool:
        """Whether the run coordinates with a step cache on the model (``held.py``)."""
        return self.held is not None

    @property
    def learns_from_full_calls(self) -> bool:
        """Whether a full-CFG call teaches the run something: guidance to reuse, or an adaptive rule's measure."""
        return self.keep.learns_guidance or self.policy.adaptive

    def must_reach_network(self, plan: CallPlan) -> bool:
        """Coordinating: a call whose outputs the run needs from the network, so that no cache may answer it: a
        full-CFG call it learns from, and the first call on an expert (nothing held from it yet). Any other
        call the cache decides on as it would without the pack."""
        if not self.coordinating:
            return False
        return (plan.full and self.learns_from_full_calls) or self._network_expert != (plan.expert,)

    def guided(self, plan: CallPlan, x: torch.Tensor, sigma: torch.Tensor, guided_x0: torch.Tensor,
               call_cached: bool) -> torch.Tensor:
        """The guided x0 prediction the sampler gets for the call. ``call_cached``: a step cache between the pack
        and the guider answered the whole call with ``guided_x0``, and nothing reached the network; coordinating,
        such a call gets the latest held output of its own kind instead (``held.py``)."""
        key = held_key(plan)
        if not call_cached:
            if self.held is not None and key == guided_at(plan.scale):
                self.held.keep(key, x, sigma, guided_x0, plan.expert)
            return self._checked(plan, guided_x0)
        self._account(plan, (), plan.branches)
        held = None if self.held is None else self.held.estimate(key, x, sigma, guided_x0, plan.expert)
        return self._checked(plan, guided_x0 if held is None else held)

    def extra_model_calls(self, plan: CallPlan, count: int) -> None:
        """Forwards another node ran in the sampler call beyond the plan's (SkipLayerGuidanceDiT's): core runs
        them too."""
        rec = self.ledger.steps[plan.step]
        rec.model_calls += count
        rec.model_calls_core += count

    def _checked(self, plan: CallPlan, output: torch.Tensor) -> torch.Tensor:
        """Notes whether the output is finite, without waiting for the device (read back at the end)."""
        with torch.no_grad():
            self._finite.setdefault(plan.step, []).append(torch.isfinite(output).all())
        return output

    def _account(self, plan: CallPlan, ran: Collection[str], cached: Collection[str]) -> None:
        rec = self.ledger.steps[plan.step]
        rec.sampler_calls += 1
        rec.model_calls += len(ran)
        rec.negative_calls += NEGATIVE in ran
        rec.model_calls_cached += len(cached)
        rec.model_calls_core += plan.core_calls
        rec.full = plan.full
        rec.planned = plan.kind
        rec.kept = None if plan.keep is None else plan.keep.name
        rec.reasons = plan.reasons
        rec.reused_from = plan.reused_from
        rec.refreshed = plan.refreshed
        rec.note = plan.note
        if plan.full and cached and self.memory is not None and self.memory.latest is not None:
            rec.note = (f"{' and '.join(sorted(cached))} cached by a step cache: guidance of step "
                        f"{self.memory.latest.step} kept")
        if plan.expert is not None:
            # A multi-stage step can straddle the boundary: its calls then name both experts.
            rec.expert = plan.expert if rec.expert in (None, plan.expert) else MIXED_EXPERTS

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
        if plan.step not in self._diagnostics:  # the step's first call is the one the ledger shows
            self._diagnostics[plan.step] = (relative_change(uncond, cond), agree)
        if self.policy.adaptive and self.latched_at is None and self._latches(cond, uncond, agree):
            self.latched_at = self.ledger.adaptive_latched_at = plan.step

    def _latches(self, cond, uncond, agree) -> bool:
        latch = False
        if self.policy.adaptive_threshold > 0.0:
            latch = bool((agree >= self.policy.adaptive_threshold).all())
        if self.policy.adaptive_decay > 0.0:
            # Compared across steps on the predicted picture (x - x0), where guidance's effect fades as
            # sampling ends; a flow model's velocity difference itself barely shrinks.
            difference = difference_norm(cond, uncond)
            self._peak = difference if self._peak is None else torch.maximum(self._peak, difference)
            latch = latch or bool((difference <= self.policy.adaptive_decay * self._peak).all())
        return latch

    def finish(self) -> Ledger:
        """The ledger with its measures read back as floats (one device sync, at the end)."""
        for step, (rel, agree) in self._diagnostics.items():
            rec = self.ledger.steps[step]
            rec.relative_difference = float(rel.mean())
            rec.agreement = float(agree.min())
        self._diagnostics.clear()
        self.ledger.not_finite_from = next((step for step, flags in sorted(self._finite.items())
                                            if not all(bool(f) for f in flags)), None)
        self._finite.clear()
        return self.ledger
