"""One sampler call's branches, evaluated as its plan says: ComfyUI's calc_cond_batch (or the function another
node installed before the pack's) on the branches the plan runs, the negative one on a second model where the
guider has one (guider.py), and what reached the network told apart from what something between answered."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import comfy.samplers

from ..sampling.plan import BOTH, NEGATIVE, POSITIVE, CallPlan
from ..sampling.run import TruncationRun
from .ui_events import RunReporter

# ComfyUI's cond_or_uncond marks each chunk of a network call: 0 the positive prompt, 1 the negative.
BRANCH_OF_CHUNK = {0: POSITIVE, 1: NEGATIVE}


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

    def at_network(self, chunks) -> None:
        """A forward reached the network with these cond_or_uncond chunks."""
        self.network_seen = True
        if self.evaluating:
            self.reached.update(BRANCH_OF_CHUNK[c] for c in chunks if c in BRANCH_OF_CHUNK)
        else:
            self.extra += len(chunks)


class BranchEvaluation:
    """The calc-cond-batch function of one sampler call (ComfyUI's ``sampler_calc_cond_batch_function``)."""

    def __init__(self, active: ActiveRun, guider, previous):
        """``previous``: the function another node installed, if any (the pack's calls it)."""
        self.active, self.guider, self.previous = active, guider, previous
        self.called = False  # whether the sampler call reached the guider (a cache before it answers it whole)

    def __call__(self, args) -> list:
        self.called = True
        active, plan = self.active, self.active.plan
        conds = args["conds"] if plan.full else [self.guider.conds.get(b) if plan.runs(b) else None for b in BOTH]
        if not plan.full and not any(c is not None for c in conds):
            raise ValueError(f"keep = {plan.keep.name} needs a {plan.branches[0]} conditioning; connect one or use "
                             "keep = cond")
        asked = tuple(b for b, c in zip(BOTH, conds, strict=True) if c is not None)
        active.reached.clear()
        active.evaluating = True
        # A guider with its negative branch on a second model (guider.py) evaluates each branch on its own.
        two_models = getattr(self.guider, "evaluate", None)
        try:
            outputs = (two_models(self.one_model(args), conds, args["input"], args["sigma"], args["model_options"])
                       if two_models is not None else self.one_model(args)(conds))
        finally:
            active.evaluating = False
        ran, cached = active.ran_and_cached(asked)
        return active.run.complete(plan, args["input"], args["sigma"], outputs, ran, cached)

    def one_model(self, args):
        def evaluate(branch_conds):
            if self.previous is not None:
                return self.previous({**args, "conds": branch_conds})
            return comfy.samplers.calc_cond_batch(args["model"], branch_conds, args["input"], args["sigma"],
                                                  args["model_options"])
        return evaluate
