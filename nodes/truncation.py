"""Plugs a truncation policy into ComfyUI's sampling path.

Two wrappers on the model patcher do all of it, so the same code serves the GUIDER node and the
MODEL patch (KSampler, KSamplerAdvanced, SamplerCustom and SamplerCustomAdvanced all build a
``CFGGuider``):

- OUTER_SAMPLE opens a ``TruncationRun`` for the schedule of this sampler node, puts it into the
  run's transformer_options, and files the finished ledger.
- PREDICT_NOISE decides the call's step and hands ``sampling_function`` a calc-cond-batch
  function that evaluates only the branch the decision needs. A truncated step that keeps one
  prediction then runs at cfg 1, as ComfyUI's own cfg = 1 step, except that every hook sees the
  kept prediction in both slots instead of ComfyUI's zero placeholder. A reuse step runs at the
  normal scale on the pair (cond, cond minus the reused difference).

The wrappers always call on down the chain, so other PREDICT_NOISE wrappers (LazyCache) keep
working, and a call they short-circuit is never counted as run.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Optional

import comfy.model_management
import comfy.patcher_extension
import comfy.samplers

from ..sampling.experts import LOW_NOISE
from ..sampling.policy import KEEP_COND, KEEP_REUSE, KEEP_UNCOND, TruncationPolicy
from ..sampling.run import StepDecision, TruncationRun
from .experts import experts_of
from .ui_events import RunReporter

WRAPPER_KEY = "truncated_cfg"
RUN_KEY = "truncated_cfg_run"
LOG_PREFIX = "[Truncated CFG]"
HISTORY_LENGTH = 16

log = logging.getLogger(__name__)


def supports(guider) -> bool:
    """Only guiders that predict noise exactly as CFGGuider does (positive/negative, one scale)."""
    return (isinstance(guider, comfy.samplers.CFGGuider)
            and type(guider).predict_noise is comfy.samplers.CFGGuider.predict_noise)


@dataclass
class ActiveRun:
    """What one sampling run carries in its transformer_options."""
    run: TruncationRun
    reporter: Optional[RunReporter]


@contextlib.contextmanager
def guidance_scale(guider, scale: float):
    """CFGGuider.predict_noise reads its scale from ``guider.cfg``; the chain below us must see ours."""
    original = guider.cfg
    guider.cfg = scale
    try:
        yield
    finally:
        guider.cfg = original


class TruncationController:
    """The policy a patched model or guider carries, and the ledgers of its finished runs.

    ``cfg_low_noise`` > 0 is the guidance scale of calls routed to the low-noise expert of a
    two-expert model (Wan 2.2 t2v: 4.0 high, 3.0 low); it does nothing on other models.
    """

    def __init__(self, policy: TruncationPolicy, cfg_low_noise: float = 0.0, node_id: Optional[str] = None):
        """``node_id``: the graph node to report live progress to (None: no reports)."""
        if not cfg_low_noise >= 0.0:
            raise ValueError(f"cfg_low_noise must be 0 (same as cfg) or more, got {cfg_low_noise}")
        self.policy = policy
        self.cfg_low_noise = cfg_low_noise
        self.node_id = node_id
        self.history: collections.deque = collections.deque(maxlen=HISTORY_LENGTH)

    @property
    def last_ledger(self):
        return self.history[-1] if self.history else None

    def install(self, model_patcher) -> None:
        """Attach to ``model_patcher`` (a clone), replacing an earlier Truncated CFG patch on it."""
        types = (comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, comfy.patcher_extension.WrappersMP.PREDICT_NOISE)
        if any(model_patcher.get_wrappers(t, WRAPPER_KEY) for t in types):
            log.warning("%s the model already carries a Truncated CFG policy; the new one replaces it", LOG_PREFIX)
        for t in types:
            model_patcher.remove_wrappers_with_key(t, WRAPPER_KEY)
        model_patcher.add_wrapper_with_key(types[0], WRAPPER_KEY, self._outer_sample)
        model_patcher.add_wrapper_with_key(types[1], WRAPPER_KEY, self._predict_noise)

    def _outer_sample(self, executor, noise, latent_image, sampler, sigmas, *args, **kwargs):
        guider = executor.class_obj
        if not supports(guider):
            log.warning("%s %s computes guidance its own way; truncation is off for this run",
                        LOG_PREFIX, type(guider).__name__)
            return executor(noise, latent_image, sampler, sigmas, *args, **kwargs)
        routing = experts_of(guider.model_patcher)
        run = TruncationRun(self.policy, sigmas, boundary=None if routing is None else routing.boundary)
        for note in run.ledger.notes:
            log.warning("%s %s", LOG_PREFIX, note)
        reporter = None if self.node_id is None else RunReporter(self.node_id, run)
        if reporter is not None:
            reporter.start()
        transformer_options = guider.model_options.setdefault("transformer_options", {})
        transformer_options[RUN_KEY] = ActiveRun(run, reporter)
        started = time.perf_counter()
        try:
            output = executor(noise, latent_image, sampler, sigmas, *args, **kwargs)
        except BaseException as exc:  # 0.33's interrupt is a BaseException; re-raised unchanged
            if reporter is not None:
                interrupted = isinstance(exc, comfy.model_management.InterruptProcessingException)
                reporter.stopped(run.finish(), time.perf_counter() - started,
                                 "interrupted" if interrupted else "failed", f"{type(exc).__name__}: {exc}")
            raise
        finally:
            transformer_options.pop(RUN_KEY, None)
        seconds = time.perf_counter() - started
        ledger = run.finish()
        self.history.append(ledger)
        log.info("%s %s; sampling %.2f s", LOG_PREFIX, ledger.summary(), seconds)
        if reporter is not None:
            reporter.finish(ledger, seconds)
        return output

    def _predict_noise(self, executor, x, timestep, model_options, seed=None):
        guider = executor.class_obj
        active: Optional[ActiveRun] = model_options.get("transformer_options", {}).get(RUN_KEY)
        if active is None or not supports(guider):
            return executor(x, timestep, model_options, seed)
        run = active.run
        decision = run.decide(float(timestep.flatten()[0]))
        low_noise_scale = decision.expert == LOW_NOISE and self.cfg_low_noise > 0.0
        scale = (self.cfg_low_noise if low_noise_scale else guider.cfg) if decision.guided else 1.0
        if active.reporter is not None:
            active.reporter.call(decision, branches_asked(decision, scale, model_options))
        options = model_options.copy()
        options["sampler_calc_cond_batch_function"] = self._calc_cond_batch(
            run, decision, guider, model_options.get("sampler_calc_cond_batch_function"))
        if scale == guider.cfg:
            return executor(x, timestep, options, seed)
        # A step keeping one prediction is ComfyUI's cfg = 1 step, so hooks (CFG Renorm among them) see
        # cond_scale 1; a call on the low-noise expert is guided at cfg_low_noise.
        with guidance_scale(guider, scale):
            return executor(x, timestep, options, seed)

    @staticmethod
    def _calc_cond_batch(run: TruncationRun, decision: StepDecision, guider, previous):
        def calc(args):
            conds = args["conds"]
            if not decision.full:
                if decision.keep == KEEP_UNCOND:
                    negative = guider.conds.get("negative")
                    if negative is None:
                        raise ValueError("keep = uncond needs a negative conditioning; connect one or use keep = cond")
                    conds = [None, negative]
                else:
                    conds = [guider.conds.get("positive"), None]
            if previous is not None:
                out = previous({**args, "conds": conds})
            else:
                out = comfy.samplers.calc_cond_batch(args["model"], conds, args["input"], args["sigma"],
                                                     args["model_options"])
            branches = sum(c is not None for c in conds)
            x, sigma = args["input"], args["sigma"]
            if decision.full:
                both = conds[0] is not None and conds[1] is not None
                run.record(decision, branches, x, sigma, out[0], out[1] if both else None)
                return out
            if decision.keep == KEEP_REUSE:
                run.record(decision, branches, x, sigma, out[0])
                # The sampler applies its scale to this pair: cond + (s - 1) * reused difference.
                return [out[0], run.estimate_uncond(decision, sigma, out[0])] + list(out[2:])
            run.record(decision, branches)
            kept = out[0] if decision.keep == KEEP_COND else out[1]
            # Hooks see one consistent pair; a clone so that no hook can alias the two slots.
            return [kept, kept.clone()] + list(out[2:])
        return calc


def branches_asked(decision: StepDecision, scale: float, model_options: dict) -> int:
    """What the call will evaluate: ComfyUI itself skips the negative branch of a full call at cfg 1."""
    if decision.full and math.isclose(scale, 1.0) and not model_options.get("disable_cfg1_optimization", False):
        return 1
    return decision.branches


def controller_of(model_patcher) -> Optional[TruncationController]:
    """The controller a model patched by this pack carries, for ledgers and tests; None if unpatched."""
    wrappers = model_patcher.get_wrappers(comfy.patcher_extension.WrappersMP.OUTER_SAMPLE, WRAPPER_KEY)
    return wrappers[0].__self__ if wrappers else None
