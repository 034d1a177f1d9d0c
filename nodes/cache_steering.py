"""What the pack does with a step cache on the model (``step_caches/``): refuses what the cache cannot serve and
warns where a forward cache re-serves old branches, at the start of a run; coordinating, steers each call."""
from __future__ import annotations

import logging
from typing import Optional

from ..sampling.plan import CallPlan
from ..sampling.policy import TruncationPolicy
from ..sampling.rules import CACHE_COORDINATE, CACHE_INDEPENDENT
from ..sampling.run import TruncationRun
from .run_log import LOG_PREFIX
from .step_caches import StepCache, forward_cache_warnings, notices

log = logging.getLogger(__name__)


def check_step_caches(policy: TruncationPolicy, cache: Optional[StepCache], transformer_options: dict,
                      run: TruncationRun, two_experts: bool) -> None:
    for notice in notices(transformer_options):
        log.warning("%s %s", LOG_PREFIX, notice)
    if (cache is not None and cache.answers_unseen_branches and policy.step_cache == CACHE_INDEPENDENT
            and policy.truncates_before_guiding(run.schedule)):
        raise ValueError(
            f"{cache.name} on this ComfyUI cannot skip a full-CFG step whose negative branch never ran, and "
            f"these rules truncate the first steps (sigma_high = {policy.sigma_high}) before guiding any: "
            f"set step_cache to {CACHE_COORDINATE}, set sigma_high to 0, or update ComfyUI")
    truncates = policy.adaptive or any(policy.static_reasons(i, run.schedule) for i in range(len(run.ledger.steps)))
    for warning in forward_cache_warnings(transformer_options, policy.resuming_rules(two_experts), truncates):
        log.warning("%s %s", LOG_PREFIX, warning)


def steer(cache: StepCache, run: TruncationRun, plan: CallPlan, guider, sigma: float) -> None:
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
