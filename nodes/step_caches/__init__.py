"""The step caches users put on the same model, one adapter each, as the pack meets them on a run.

Core's EasyCache and LazyCache nodes keep their state in one holder under ``transformer_options["easycache"]``;
the adapter is chosen by the holder's class (``easycache.py``, ``lazycache.py``). A holder of a class no adapter
knows, two caches sharing that one holder, and the packs that replace the network's forward
(``forward_caches.py``) are what the pack cannot steer: ``notices`` names them, once per run.

Adding a cache: one module here with its ``ADAPTER`` (every module that has one is an adapter), and its tests;
the host test ``test_step_cache_fields.py`` pins every core field the adapter names in ``fields``.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Optional

from .adapter import HOLDER_KEY, StepCache, StepCacheAdapter, wrappers_with_key
from .forward_caches import forward_cache_warnings, forward_caches_of

ADAPTERS: tuple[StepCacheAdapter, ...] = tuple(
    module.ADAPTER for module in (importlib.import_module(f"{__name__}.{info.name}") for info in
                                  sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name))
    if hasattr(module, "ADAPTER"))
_KNOWN = {(adapter.holder_key, adapter.holder_class) for adapter in ADAPTERS}


def step_cache_of(transformer_options: dict) -> Optional[StepCache]:
    """The step cache the run's options carry, if an adapter knows its holder."""
    for adapter in ADAPTERS:
        holder = transformer_options.get(adapter.holder_key)
        if holder is not None and type(holder).__name__ == adapter.holder_class:
            return StepCache(adapter, holder)
    return None


def notices(transformer_options: dict) -> list[str]:
    """What the pack cannot steer on this model, by name (empty when it can steer everything there)."""
    found = []
    holder = transformer_options.get(HOLDER_KEY)
    if holder is not None and (HOLDER_KEY, type(holder).__name__) not in _KNOWN:
        found.append(f"a step cache whose state is a {type(holder).__name__} is on this model: the pack does not know "
                     "it, so it neither coordinates with it nor counts what it caches apart from what reaches the "
                     "network")
    present = [adapter for adapter in ADAPTERS if wrappers_with_key(transformer_options, adapter.decides_in)]
    for adapter in present:
        if len(wrappers_with_key(transformer_options, adapter.decides_in)) > 1:
            found.append(f"{adapter.name} is on this model twice: both read one state, so a call the pack asks the "
                         f"first to compute can still be cached by the second; keep one {adapter.name} node")
    if len(present) > 1:
        found.append(f"{' and '.join(a.name for a in present)} are both on this model: they share one state in "
                     "ComfyUI, which the later node's replaces; keep one of them")
    return found


__all__ = ["ADAPTERS", "StepCache", "forward_cache_warnings", "forward_caches_of", "notices", "step_cache_of"]
