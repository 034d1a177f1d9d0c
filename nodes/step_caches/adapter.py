"""What the pack needs to know of a step cache, and the run-time handle it steers the cache through.

Core's caches skip a call while their accumulated estimate of the output's change,
``cumulative_change_rate``, stays below their ``reuse_threshold``, and restart the estimate at every call
they compute; they decide only while the call's sigma lies in their window (``end_t < sigma <= start_t``,
from the node's start and end percent). The pack makes a cache compute a call by starting that call with
the estimate past the threshold, inside the window only (outside it the cache computes every call anyway),
and puts the estimate back after the call if the cache did not use it, so that the mark never outlives the
call it was for.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

import comfy.patcher_extension

HOLDER_KEY = "easycache"  # where core EasyCache and LazyCache keep their holder in transformer_options
# The holder fields every core cache has and the pack reads or writes.
COMMON_FIELDS = ("cumulative_change_rate", "start_t", "end_t")


@dataclass(frozen=True)
class StepCacheAdapter:
    name: str  # the node's name, as users know it
    node: str  # "module:Class" of the node that puts it on a model (the tools build it from this)
    holder_class: str  # the class of the state it keeps in transformer_options
    decides_in: tuple[str, str]  # (wrapper type, key) of the wrapper that decides: where it answers calls
    answers: str  # what a cached call looks like to the pack: "whole sampler calls" or "network calls"
    holder_key: str = HOLDER_KEY  # where it keeps it (core's two caches share one key)
    fields: tuple[str, ...] = COMMON_FIELDS  # every core field the pack reads or writes (pinned by a host test)
    watches_branch: bool = False  # it estimates change on one branch, chosen by its uuid (first_cond_uuid)
    # Whether this version of it answers a skipped call's branch it never ran (and fails doing so).
    answers_unseen_branches: Callable[[object], bool] = lambda holder: False


def wrappers_with_key(transformer_options: dict, where: tuple[str, str]) -> list:
    kind, key = where
    return comfy.patcher_extension.get_wrappers_with_key(kind, key, transformer_options)


class StepCache:
    """One run's cache: its adapter and the holder it runs with."""

    def __init__(self, adapter: StepCacheAdapter, holder):
        self.adapter = adapter
        self.holder = holder
        self._saved: Optional[float] = None  # the estimate before the pack marked the call under way

    @property
    def name(self) -> str:
        return self.adapter.name

    @property
    def answers_unseen_branches(self) -> bool:
        return self.adapter.answers_unseen_branches(self.holder)

    def watch(self, uuid) -> None:
        """A cache that watches one branch decides on the branch of this cond uuid, unless it has already picked
        one this run."""
        if self.adapter.watches_branch and self.holder.initial_step:
            self.holder.first_cond_uuid = uuid
            self.holder.initial_step = False

    def in_window(self, sigma: float) -> bool:
        return self.holder.end_t < sigma <= self.holder.start_t

    def compute(self, sigma: float) -> None:
        """Make the cache compute the call at ``sigma`` by its own rule; undone by ``release``."""
        if self._saved is None and self.in_window(sigma):
            self._saved = self.holder.cumulative_change_rate
            self.holder.cumulative_change_rate = math.inf

    def release(self) -> None:
        """After the call: the estimate as it was, if the cache did not restart it (it computed before it could
        decide, or the call did not carry the branch it watches)."""
        if self._saved is not None and self.holder.cumulative_change_rate == math.inf:
            self.holder.cumulative_change_rate = self._saved
        self._saved = None
