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
from dataclasses import dataclass, field
from typing import Optional

import comfy.model_management
import comfy.patcher_extension
import comfy.samplers

from ..sampling.keep import KeepMode
from ..sampling.plan import BOTH, NEGATIVE, POSITIVE, CallPlan
from ..sampling.policy import TruncationPolicy
from ..sampling.rules import CACHE_COORDINATE, CACHE_INDEPENDENT
from ..sampling.run import TruncationRun
from .models.expert_routing import ROUTING_KEY, experts_of
from .multi_gpu import cfg_split_note
from .step_caches import StepCache, forward_cache_warnings, notices, step_cache_of
from .ui_events import RunReporter
from .wrapper_order import order_wrappers

# The wrapper types the pack installs; ComfyUI nests them in this order, outermost first.
OUTER_SAMPLE = comfy.patcher_extension.WrappersMP.OUTER_SAMPLE
PREDICT_NOISE = comfy.patcher_extension.WrappersMP.PREDICT_NOISE
DIFFUSION_MODEL = comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL
PATCH_KEY = "truncated_cfg"  # the wrappers' key and the controller's attachment on the model patcher
SCALE_KEY = "truncated_cfg_scale"  # the innermost PREDICT_NOISE wrapper's key (outside the expert routing's)
RUN_KEY = "truncated_cfg_run"  # the run in the sampling run's transformer_options
LOG_PREFIX = "[Truncated CFG]"
HISTORY_LENGTH = 16
# ComfyUI's cond_or_uncond marks each chunk of a network call: 0 the positive prompt, 1 the negative.
BRANCH_OF_CHUNK = {0: POSITIVE, 1: NEGATIVE}

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
    plan: Optional[CallPlan] = None  # the plan of the sampler call under way
    planned_cfg: float = 0.0  # the guider's scale when it was planned
    skips_negative_at_1: bool = True  # ComfyUI runs one branch at scale 1 for the call under way
    evaluating: bool = False  # the pack's calc-cond-batch function is under way
    reached: set = field(default_factory=set)  # branches of that evaluation that reached the network
    extra: int = 0  # network forwards of the call under way outside that evaluation (other nodes')
    network_seen: bool = False  # the network wrapper fired in this run: its count can be trusted

    def ran_and_cached(self, asked: tuple) -> tuple[tuple, tuple]:
        """(branches the network ran, branches cached: answered by something between the pack's wrappers) of
        ``asked``.

        Until the network wrapper has fired once, nothing is taken as answered: a model whose forward
        does not pass through ComfyUI's DIFFUSION_MODEL wrappers never shows it (and no step cache
        answers a run's first call).
        """
        if not self.network_seen:
            return asked, ()
        return (tuple(b for b in asked if b in self.reached), tuple(b for b in asked if b not in self.reached))


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
        self._check_caches(cache, transformer_options, run, two_experts=routing is not None)
        split = cfg_split_note(guider.model_patcher)
        if split is not None:
            log.info("%s %s", LOG_PREFIX, split)
        for note in run.ledger.notes:
            log.warning("%s %s", LOG_PREFIX, note)
        reporter = None if self.node_id is None else RunReporter(self.node_id, run)
        if reporter is not None:
            if reporter.nobody_listens:
                log.info("%s the page that queued this prompt (client %s) is not connected to this server, so no "
                         "step strip shows this run (a ComfyUI-Distributed worker runs its master page's prompts); "
                         "the counts are in the line this log prints after it", LOG_PREFIX, reporter.client_id)
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
        log.info("%s %s; sampling %.2f s", LOG_PREFIX, ledger.summary(), seconds)
        if getattr(guider, "negative_patcher", None) is not None:  # the guider's model_negative (guider.py)
            log.info("%s the negative model ran %d model calls (core's DualModelGuider: %d), the model %d",
                     LOG_PREFIX, ledger.negative_calls, ledger.negative_calls_core,
                     ledger.model_calls - ledger.negative_calls)
        if reporter is not None:
            reporter.finish(ledger, seconds)
        return output

    def _check_caches(self, cache: Optional[StepCache], transformer_options: dict, run: TruncationRun,
                      two_experts: bool) -> None:
        """Refuse what a step cache on the model cannot serve; warn where a forward cache re-serves old branches."""
        for notice in notices(transformer_options):
            log.warning("%s %s", LOG_PREFIX, notice)
        if (cache is not None and cache.answers_unseen_branches and self.policy.step_cache == CACHE_INDEPENDENT
                and self.policy.truncates_before_guiding(run.schedule)):
            raise ValueError(
                f"{cache.name} on this ComfyUI cannot skip a full-CFG step whose negative branch never ran, and "
                f"these rules truncate the first steps (sigma_high = {self.policy.sigma_high}) before guiding any: "
                f"set step_cache to {CACHE_COORDINATE}, set sigma_high to 0, or update ComfyUI")
        truncates = self.policy.adaptive or any(self.policy.static_reasons(i, run.schedule)
                                                for i in range(len(run.ledger.steps)))
        for warning in forward_cache_warnings(transformer_options, self.policy.resuming_rules(two_experts), truncates):
            log.warning("%s %s", LOG_PREFIX, warning)

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
            self._steer(cache, active.run, active.plan, guider, sigma)
        previous = model_options.get("sampler_calc_cond_batch_function")
        call_cached = True

        def calc_cond_batch(args):
            nonlocal call_cached
            call_cached = False
            plan = active.plan
            conds = args["conds"] if plan.full else [guider.conds.get(b) if plan.runs(b) else None for b in BOTH]
            if not plan.full and not any(c is not None for c in conds):
                raise ValueError(f"keep = {plan.keep.name} needs a {plan.branches[0]} conditioning; connect one or use "
                                 "keep = cond")
            asked = tuple(b for b, c in zip(BOTH, conds, strict=True) if c is not None)
            active.reached.clear()
            active.evaluating = True

            def evaluate_one_model(branch_conds):
                return (previous({**args, "conds": branch_conds}) if previous is not None else
                        comfy.samplers.calc_cond_batch(args["model"], branch_conds, args["input"], args["sigma"],
                                                       args["model_options"]))

            # A guider with its negative branch on a second model (guider.py) evaluates each branch on its own.
            two_models = getattr(guider, "evaluate", None)
            try:
                outputs = (two_models(evaluate_one_model, conds, args["input"], args["sigma"], args["model_options"])
                           if two_models is not None else evaluate_one_model(conds))
            finally:
                active.evaluating = False
            ran, cached = active.ran_and_cached(asked)
            return active.run.complete(plan, args["input"], args["sigma"], outputs, ran, cached)

        try:
            output = executor(x, timestep, {**model_options, "sampler_calc_cond_batch_function": calc_cond_batch},
                              seed)
        finally:
            if cache is not None:
                cache.release()
        output = active.run.guided(active.plan, x, timestep, output, call_cached=call_cached)
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
    def _steer(cache: StepCache, run: TruncationRun, plan: CallPlan, guider, sigma: float) -> None:
        """Coordinating: the cache watches the branch every call of the run evaluates (EasyCache would watch the
        negative one, which truncated calls never run, and answer none of them), and computes the calls whose
        outputs the run needs."""
        watched = [c["uuid"] for c in guider.conds.get(run.keep.branch) or () if "uuid" in c]
        if watched:
            cache.watch(watched[0])
        # A cache that answers branches it never ran (EasyCache before ComfyUI 0.10.0) fails doing so.
        unseen = cache.answers_unseen_branches and not set(plan.branches) <= run.branches_ran
        if run.must_reach_network(plan) or unseen:
            cache.compute(sigma)

    @staticmethod
    def _at_network(executor, *args, **kwargs):
        options = kwargs.get("transformer_options")
        if options is None:
            options = next((a for a in reversed(args) if isinstance(a, dict)), {})
        active: Optional[ActiveRun] = options.get(RUN_KEY)
        if active is not None:
            active.network_seen = True
            chunks = options.get("cond_or_uncond", ())
            if active.evaluating:
                active.reached.update(BRANCH_OF_CHUNK[c] for c in chunks if c in BRANCH_OF_CHUNK)
            else:
                active.extra += len(chunks)
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
