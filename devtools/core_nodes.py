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
    """The model through ComfyUI's own EasyCache or LazyCache node (their defaults: start 0.15, end 0.95)."""
    from comfy_extras.nodes_easycache import EasyCacheNode, LazyCacheNode

    nodes = {"EasyCache": EasyCacheNode, "LazyCache": LazyCacheNode}
    if node not in nodes:
        raise ValueError(f"no core step cache {node!r}; known: {', '.join(nodes)}")
    return nodes[node].execute(model, reuse_threshold, start_percent, end_percent, False).result[0]
