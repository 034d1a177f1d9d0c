"""Coordinating with a step cache on the model: which calls must reach the network, and what a cached call or
branch gets instead of the cache's own answer (``cache_answers.py``)."""
from __future__ import annotations

from typing import Collection, Optional

import torch

from .cache_answers import CacheAnswers, guided_at
from .plan import BOTH, CallPlan


def answer_key(plan: CallPlan) -> str:
    """What a whole cached call is answered from: a call that keeps one branch at scale 1 is that branch's own
    output; a guided one (full CFG, reuse) the guided outputs of calls at the same scale, never of another."""
    return plan.branches[0] if not plan.full and not plan.keep.guided else guided_at(plan.scale)


class CacheCoordination:
    """One run's coordination with its step cache: the network's outputs kept per branch and per guided scale, the
    branches and the expert the network has run."""

    def __init__(self):
        self.answers = CacheAnswers()
        self.branches_ran: set[str] = set()
        self._network_expert: Optional[tuple] = None  # (expert,) of the latest call the network ran

    def ran(self, plan: CallPlan, branches: Collection[str]) -> None:
        if branches:
            self._network_expert = (plan.expert,)
            self.branches_ran.update(branches)

    def must_reach_network(self, plan: CallPlan, learns_from_full_calls: bool) -> bool:
        """A call whose outputs the run needs from the network, so that no cache may answer it: a full-CFG call it
        learns from, and the first call on an expert (no answer from it yet). Any other call the cache decides on
        as it would without the pack."""
        return (plan.full and learns_from_full_calls) or self._network_expert != (plan.expert,)

    def fill(self, plan: CallPlan, x, sigma, outputs: list, ran: Collection[str], cached: Collection[str]) -> list:
        """Keep what the network ran, and hand a cached branch its cache answer instead of the cache's."""
        for slot, branch in enumerate(BOTH):
            if branch in ran:
                self.answers.keep(branch, x, sigma, outputs[slot], plan.expert)
            elif branch in cached:
                answer = self.answers.estimate(branch, x, sigma, outputs[slot], plan.expert)
                outputs[slot] = outputs[slot] if answer is None else answer
        return outputs

    def guided(self, plan: CallPlan, x, sigma, guided_x0: torch.Tensor, call_cached: bool) -> torch.Tensor:
        """The guided output the sampler gets: kept when the network made it; a whole cached call's answer
        otherwise (the latest of its own kind)."""
        key = answer_key(plan)
        if not call_cached:
            if key == guided_at(plan.scale):
                self.answers.keep(key, x, sigma, guided_x0, plan.expert)
            return guided_x0
        answer = self.answers.estimate(key, x, sigma, guided_x0, plan.expert)
        return guided_x0 if answer is None else answer
