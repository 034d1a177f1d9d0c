"""The step caches users put on the same model, one adapter each, as the pack meets them on a run.

Each adapter (``adapter.py``) is the only place that knows its cache's state: core's EasyCache and LazyCache
(``easycache.py``, ``lazycache.py``; both keep one holder under ``transformer_options["easycache"]``, told apart by
its class). A holder of a class no adapter knows under a key an adapter uses, a cache twice, two caches sharing
one holder, and the packs that replace the network's forward (``forward_caches.py``) are what the pack cannot
steer: ``notices`` names them, once per run.

Adding a cache: one module here with its ``ADAPTER`` (every module that has one is an adapter), and its tests;
a cache that lives in another pack registers its adapter with ``register``.
"""
from __future__ import annotations

import importlib
import pkgutil
from typing import Optional

from .adapter import StepCache, StepCacheAdapter, unknown_holder_notice, wrappers_with_key
from .forward_caches import forward_cache_warnings, forward_caches_of

ADAPTERS: list[StepCacheAdapter] = [
    module.ADAPTER for module in (importlib.import_module(f"{__name__}.{info.name}") for info in
                                  sorted(pkgutil.iter_modules(__path__), key=lambda info: info.name))
    if hasattr(module, "ADAPTER")]


def register(adapter: StepCacheAdapter) -> StepCacheAdapter:
    """Make the pack coordinate with another step cache and count it (an adapter of the same name replaces it)."""
    if not isinstance(adapter, StepCacheAdapter):
        raise TypeError(f"register takes a StepCacheAdapter, not a {type(adapter).__name__}")
    ADAPTERS[:] = [a for a in ADAPTERS if a.name != adapter.name] + [adapter]
    return adapter


def step_cache_of(transformer_options: dict) -> Optional[StepCache]:
    """The step cache the run's options carry, if an adapter knows its holder."""
    for adapter in ADAPTERS:
        holder = adapter.holder_of(transformer_options)
        if holder is not None:
            return StepCache(adapter, holder)
    return None


def notices(transformer_options: dict) -> list[str]:
    """What the pack cannot steer on this model, by name (empty when it can steer everything there)."""
    found = []
    for key in dict.fromkeys(adapter.holder_key for adapter in ADAPTERS):
        holder = transformer_options.get(key)
        if holder is not None and not any(a.holder_of(transformer_options) is holder for a in ADAPTERS):
            found.append(unknown_holder_notice(holder))
    present = [adapter for adapter in ADAPTERS if wrappers_with_key(transformer_options, adapter.decides_in)]
    for adapter in present:
        found += adapter.notices(transformer_options)
    for key in dict.fromkeys(adapter.holder_key for adapter in present):
        sharing = [adapter for adapter in present if adapter.holder_key == key]
        if len(sharing) > 1:
            found.append(f"{' and '.join(a.name for a in sharing)} are both on this model: they share one state in "
                         "ComfyUI, which the later node's replaces; keep one of them")
    return found


__all__ = ["ADAPTERS", "StepCache", "StepCacheAdapter", "forward_cache_warnings", "forward_caches_of", "notices",
           "register", "step_cache_of"]
