"""The seam between the pack and a step cache: what the pack asks of any cache, and core's two caches' answers.

A step cache skips some calls of a run and answers them from what it kept. The pack needs four things of one,
and only its adapter knows how the cache does them:

- ``holder_of``: the cache's state on this run, found in ``transformer_options`` (None: not this cache);
- ``in_window``: whether the cache decides at all at a sigma;
- ``force``/``restore``: make it compute the call under way, then undo that if the call did not use it, so that
  the mark never outlives the call it was for;
- ``watch``: for a cache that estimates change on one branch, the branch to watch (the one every call runs).

Which calls a cache answered, the run tells by itself (a branch that never reaches the network), so the run and
the ledger never read a cache's state. ``notices`` says what the pack cannot steer about this cache on a model.
"""
from __future__ import annotations

import math
from abc import ABC, abstractmethod
import comfy.patcher_extension


def wrappers_with_key(transformer_options: dict, where: tuple[str, str]) -> list:
    kind, key = where
    return comfy.patcher_extension.get_wrappers_with_key(kind, key, transformer_options)


class StepCacheAdapter(ABC):
    """One step cache, as the pack meets it. ``name``: the node's name, as users know it; ``node``: "module:Class"
    of the node that puts it on a model (the tools build it from this); ``holder_key`` and ``holder_class``: where
    and as what it keeps its state in transformer_options; ``decides_in``: (wrapper type, key) of the wrapper that
    decides, where it answers calls."""

    def __init__(self, name: str, node: str, holder_key: str, holder_class: str, decides_in: tuple[str, str]):
        self.name, self.node = name, node
        self.holder_key, self.holder_class, self.decides_in = holder_key, holder_class, decides_in

    def holder_of(self, transformer_options: dict):
        holder = transformer_options.get(self.holder_key)
        return holder if holder is not None and type(holder).__name__ == self.holder_class else None

    @abstractmethod
    def in_window(self, holder, sigma: float) -> bool:
        """Whether the cache decides at all at ``sigma`` (outside, it computes every call anyway)."""

    @abstractmethod
    def force(self, holder):
        """Make the cache compute the call under way; returns what ``restore`` needs."""

    @abstractmethod
    def restore(self, holder, saved) -> None:
        """After the call: the state as ``force`` found it, if the cache did not use the mark."""

    def watch(self, holder, uuid) -> None:  # noqa: B027 (a cache without branches has nothing to do)
        """A cache that estimates change on one branch: decide on this cond uuid's."""

    def answers_unseen_branches(self, holder) -> bool:
        """Whether this version answers a skipped call's branch it never ran (and fails doing so)."""
        return False

    def notices(self, transformer_options: dict) -> list[str]:
        """What the pack cannot steer about this cache on the model (empty: everything)."""
        if len(wrappers_with_key(transformer_options, self.decides_in)) > 1:
            return [f"{self.name} is on this model twice: both read one state, so a call the pack asks the first to "
                    f"compute can still be cached by the second; keep one {self.name} node"]
        return []


CORE_HOLDER_KEY = "easycache"  # where core EasyCache and LazyCache both keep their holder


class CoreCacheAdapter(StepCacheAdapter):
    """Core's caches skip a call while their accumulated estimate of the output's change, ``cumulative_change_rate``,
    stays below their ``reuse_threshold``, and restart the estimate at every call they compute; they decide only
    while the call's sigma lies in their window (``end_t < sigma <= start_t``, from the node's start and end
    percent). The pack makes one compute a call by starting the call with the estimate past the threshold."""

    fields = ("cumulative_change_rate", "start_t", "end_t")  # every core field read or written (a host test pins them)

    def __init__(self, name: str, node: str, holder_class: str, decides_in: tuple[str, str]):
        super().__init__(name, node, CORE_HOLDER_KEY, holder_class, decides_in)

    def in_window(self, holder, sigma: float) -> bool:
        return holder.end_t < sigma <= holder.start_t

    def force(self, holder) -> float:
        saved, holder.cumulative_change_rate = holder.cumulative_change_rate, math.inf
        return saved

    def restore(self, holder, saved: float) -> None:
        if holder.cumulative_change_rate == math.inf:  # not restarted: the cache computed before it could decide
            holder.cumulative_change_rate = saved


class StepCache:
    """One run's cache: its adapter and the holder it runs with; marks one call at a time."""

    def __init__(self, adapter: StepCacheAdapter, holder):
        self.adapter = adapter
        self.holder = holder
        self._forced = False
        self._saved = None  # what the adapter's force found, until restored

    @property
    def name(self) -> str:
        return self.adapter.name

    @property
    def answers_unseen_branches(self) -> bool:
        return self.adapter.answers_unseen_branches(self.holder)

    def watch(self, uuid) -> None:
        self.adapter.watch(self.holder, uuid)

    def compute(self, sigma: float) -> None:
        """Make the cache compute the call at ``sigma`` by its own rule (only where it decides); undone by
        ``release``."""
        if not self._forced and self.adapter.in_window(self.holder, sigma):
            self._saved, self._forced = self.adapter.force(self.holder), True

    def release(self) -> None:
        if self._forced:
            self.adapter.restore(self.holder, self._saved)
        self._forced, self._saved = False, None


def unknown_holder_notice(holder) -> str:
    return (f"a step cache whose state is a {type(holder).__name__} is on this model: the pack does not know it, so "
            "it neither coordinates with it nor counts what it caches apart from what reaches the network")
