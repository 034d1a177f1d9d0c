"""ComfyUI's own nodes as the tests, benchmarks and the quality harness put them into a graph (host imported).

One helper each, so that a comparison against core is built the same way everywhere.
"""
from __future__ import annotations


def cfg_guider(model, positive, negative, cfg: float):
    """Core's CFGGuider, as the CFGGuider node builds it."""
    import comfy.samplers

    guider = comfy.samplers.CFGGuider(model)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider


def with_step_cache(model, node: str, reuse_threshold: float, start_percent: float = 0.15, end_percent: float = 0.95):
    """The model through the step-cache node the pack has an adapter for by that name (core's EasyCache and
    LazyCache: their defaults start 0.15, end 0.95)."""
    import importlib

    from truncated_cfg.nodes.step_caches import ADAPTERS

    adapters = {adapter.name: adapter for adapter in ADAPTERS}
    if node not in adapters:
        raise ValueError(f"no step cache {node!r}; known: {', '.join(adapters)}")
    module, cls = adapters[node].node.split(":")
    node_class = getattr(importlib.import_module(module), cls)
    return node_class.execute(model, reuse_threshold, start_percent, end_percent, False).result[0]
