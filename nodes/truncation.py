"""Plugs a truncation policy into ComfyUI's sampling path.

Wrappers on the model patcher, so the same code serves the GUIDER node and the MODEL patch (KSampler,
KSamplerAdvanced, SamplerCustom and SamplerCustomAdvanced all build a ``CFGGuider``):

- OUTER_SAMPLE opens a ``TruncationRun`` for the schedule of this sampler node, puts it into the
  run's transformer_options, and files the finished ledger.
- PREDICT_NOISE, outermost for the run, asks the run for the call's plan (``sampling/plan.py``) and
  installs a calc-cond-batch function that evaluates the plan's branches and hands the sampler the two
  slots the run fills. So a call that a step cache further in answers (core LazyCache) is still planned,
  and counted as cached.
- PREDICT_NOISE, innermost (``SCALE_KEY``), sets the plan's guidance scale where the guider reads it,
  after any other node between has set its own (core's CFGOverride): the plan then follows that one.
- DIFFUSION_MODEL, innermost, notes the branches that reach the network, so a branch a step cache
  further out answers (core EasyCache) is counted as cached, not as run, and counts the forwards other
  nodes add to the call (SkipLayerGuidanceDiT's).

With a step cache on the model (``step_caches/``) and ``step_cache = coordinate``, a full-CFG call
asks the cache to compute it, so guidance is only ever learnt from, and applied with, predictions the
network made at that step; the cache answers the calls in between (they are cached).
"""
from __future__ import annotations

import collections
import contextlib
import logging
import math
import time
from typing import Optional

import comfy.model_management
import comfy.patcher_extension
import comfy.samplers

from ..sampling.keep import KeepMode
from ..sampling.policy import TruncationPolicy
from ..sampling.rules import CACHE_COORDINATE
from ..sampling.run import TruncationRun
from .branch_evaluation import ActiveRun, BranchEvaluation
from .cache_steering import check_step_caches, steer
from .models.expert_routing import ROUTING_KEY, experts_of
from .run_log import LOG_PREFIX, log_finish, log_start, log_unreported
from .step_caches import step_cache_of
from .ui_events import RunReporter
from .wrapper_order import order_wrappers

# The wrapper types the pack installs; ComfyUI nests them in this order, outermost first.
OUTER_SAMPLE = comfy.patcher_extension.WrappersMP.OUTER_SAMPLE
PREDICT_NOISE = comfy.patcher_extension.WrappersMP.PREDICT_NOISE
DIFFUSION_MODEL = comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL
PATCH_KEY = "truncated_cfg"  # the wrappers' key and the controller's attachment on the model patcher
SCALE_KEY = "truncated_cfg_scale"  # the innermost PREDICT_NOISE wrapper's key (outside the expert routing's)
RUN_KEY = "truncated_cfg_run"  # the run in the sampling run's transformer_options
HISTORY_LENGTH = 16

log = logging.getLogger(__name__)


def supports(guider) -> bool:
    """Only guiders that predict noise exactly as CFGGuider does (positive/negative, one scale)."""
    return (isinstance(guider, comfy.samplers.CFGGuider)
            and type(guider).predict_noise is comfy.samplers.CFGGuider.predict_noise)


@contextlib.contextmanager
def guidance_scale(guider, scale: float):
    """CFGGuider.predict_noise reads its scale from ``guider.cfg`` (core's CFGOverride sets it the same way)."""
    original = guider.cfg
    guider.cfg = scale
    try:
        yield
    finally:
        guider.cfg = original


class TruncationController:
    """The policy a patched model or guider carries, and the ledgers of its finished runs."""

    def __init__(self, policy: TruncationPolicy, node_id: Optional[str] = None, keep: Optional[KeepMode] = None):
        """``node_id``: the graph node to report live progress to (None: no reports). ``keep``: a keep mode
        other than the policy's (see TruncationRun)."""
        self.policy = policy
        self.node_id = node_id
        self.keep = keep
        self.history: collections.deque = collections.deque(maxlen=HISTORY_LENGTH)

    @property
    def last_ledger(self):
        return self.history[-1] if self.history else None

    def install(self, model_patcher) -> None:
        """Attach to ``model_patcher`` (a clone), replacing an earlier Truncated CFG patch on it."""
        wrappers = {(OUTER_SAMPLE, PATCH_KEY): self._outer_sample, (PREDICT_NOISE, PATCH_KEY): self._predict_noise,
                    (PREDICT_NOISE, SCALE_KEY): self._at_guider, (DIFFUSION_MODEL, PATCH_KEY): self._at_network}
        if model_patcher.get_attachment(PATCH_KEY) is not None:
            log.warning("%s the model already carries a Truncated CFG policy; the new one replaces it", LOG_PREFIX)
        for (kind, key), wrapper in wrappers.items():
            model_patcher.remove_wrappers_with_key(kind, key)
            model_patcher.add_wrapper_with_key(kind, key, wrapper)
        model_patcher.set_attachments(PATCH_KEY, self)

    def _outer_sample(self, executor, noise, latent_image, sampler, sigmas, *args, **kwargs):
        guider = executor.class_obj
        if not supports(guider):
            log.warning("%s %s computes guidance its own way; truncation is off for this run",
                        LOG_PREFIX, type(guider).__name__)
            return executor(noise, latent_image, sampler, sigmas, *args, **kwargs)
        if not math.isfinite(guider.cfg):
            raise ValueError(f"cfg is {guider.cfg}: give the sampler a finite guidance scale (4.0, say)")
        routing = experts_of(guider.model_patcher)
        transformer_options = guider.model_options.setdefault("transformer_options", {})
        cache = step_cache_of(transformer_options)
        run = TruncationRun(self.policy, sigmas, boundary=None if routing is None else routing.boundary,
                            coordinating=cache is not None and self.policy.step_cache == CACHE_COORDINATE,
                            keep=self.keep)
        check_step_caches(self.policy, cache, transformer_options, run, two_experts=routing is not None)
        log_start(run, guider)
        reporter = None if self.node_id is None else RunReporter(
            self.node_id, run, negative_model=getattr(guider, "negative_patcher", None) is not None)
        if reporter is not None:
            if reporter.nobody_listens:
                log_unreported(reporter.client_id)
            reporter.start()
        wrappers = transformer_options.get("wrappers", {})
        order_wrappers(wrappers, PREDICT_NOISE, first=(PATCH_KEY,), last=(SCALE_KEY, ROUTING_KEY))
        order_wrappers(wrappers, DIFFUSION_MODEL, last=(PATCH_KEY,))
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
        log_finish(ledger, seconds, guider)
        if reporter is not None:
            reporter.finish(ledger, seconds)
        return output

    def _predict_noise(self, executor, x, timestep, model_options, seed=None):
        guider = executor.class_obj
        active: Optional[ActiveRun] = model_options.get("transformer_options", {}).get(RUN_KEY)
        if active is None or not supports(guider):
            return executor(x, timestep, model_options, seed)
        sigma = float(timestep.flatten()[0])
        active.skips_negative_at_1 = not model_options.get("disable_cfg1_optimization", False)
        active.plan = active.run.plan(sigma, guider.cfg, active.skips_negative_at_1)
        active.planned_cfg, active.extra = guider.cfg, 0
        cache = step_cache_of(model_options.get("transformer_options", {})) if active.run.coordinating else None
        if cache is not None:
            steer(cache, active.run, active.plan, guider, sigma)
        evaluation = BranchEvaluation(active, guider, model_options.get("sampler_calc_cond_batch_function"))
        try:
            output = executor(x, timestep, {**model_options, "sampler_calc_cond_batch_function": evaluation}, seed)
        finally:
            if cache is not None:
                cache.release()
        output = active.run.guided(active.plan, x, timestep, output, call_cached=not evaluation.called)
        if active.extra:
            active.run.extra_model_calls(active.plan, active.extra)
        if active.reporter is not None:
            active.reporter.after_call(active.plan.step)
        return output

    @staticmethod
    def _at_guider(executor, x, timestep, model_options, seed=None):
        """Innermost: the plan at the scale in effect here (another node may have set one), set for the guider."""
        guider = executor.class_obj
        active: Optional[ActiveRun] = model_options.get("transformer_options", {}).get(RUN_KEY)
        if active is None or active.plan is None or not supports(guider):
            return executor(x, timestep, model_options, seed)
        if guider.cfg != active.planned_cfg:
            active.plan = active.run.at_cfg(active.plan, guider.cfg, active.skips_negative_at_1)
        with guidance_scale(guider, active.plan.scale):
            return executor(x, timestep, model_options, seed)

    @staticmethod
    def _at_network(executor, *args, **kwargs):
        options = kwargs.get("transformer_options")
        if options is None:
            options = next((a for a in reversed(args) if isinstance(a, dict)), {})
        active: Optional[ActiveRun] = options.get(RUN_KEY)
        if active is not None:
            active.at_network(options.get("cond_or_uncond", ()))
        return executor(*args, **kwargs)


def node_id_of(node_class) -> Optional[str]:
    """The graph node being executed (V3 hidden UNIQUE_ID); None when execute is called directly.

    The output then reports live progress to this id, so the nodes' schemas set ``not_idempotent``: ComfyUI
    must not reuse that output for another node id with the same inputs (the node moved into a subgraph).
    Core does so for a V1 node with a hidden UNIQUE_ID input, but does not recognise a V3 node's.
    """
    return node_class.hidden.unique_id if node_class.hidden is not None else None


def patch_model(model, policy: TruncationPolicy, node_id: Optional[str] = None, keep: Optional[KeepMode] = None):
    """(a clone of ``model`` carrying the policy, its controller)."""
    controller = TruncationController(policy, node_id, keep)
    patched = model.clone()
    controller.install(patched)
    return patched, controller
