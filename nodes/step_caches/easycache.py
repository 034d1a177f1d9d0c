"""Core EasyCache (``comfy_extras/nodes_easycache.py``): decides in a DIFFUSION_MODEL wrapper, inside the pack's
plan, so a cached branch is one that never reaches the network. It estimates change on one branch, the first of
its first active call (the negative one when that call is full CFG), which the pack can set (``first_cond_uuid``).

Before ComfyUI 0.10.0 its holder has no ``can_apply_cache_diff``: it then answers a skipped call's every branch
from its cache, whether or not that branch ever ran (a KeyError when one did not); before 0.3.65 it also adds
every branch's cache to the whole batch, so it fails at batch > 1 with or without the pack.
"""
from __future__ import annotations

import comfy.patcher_extension

from .adapter import CoreCacheAdapter

CHECKS_ITS_CACHE = "can_apply_cache_diff"  # the holder's method since ComfyUI 0.10.0
SAMPLES_BATCHES_FROM = (0, 3, 65)  # the ComfyUI release whose EasyCache adds each branch's cache to its own rows


class EasyCacheAdapter(CoreCacheAdapter):
    fields = CoreCacheAdapter.fields + ("initial_step", "first_cond_uuid")

    def watch(self, holder, uuid) -> None:
        """Unless it has already picked its branch this run."""
        if holder.initial_step:
            holder.first_cond_uuid = uuid
            holder.initial_step = False

    def answers_unseen_branches(self, holder) -> bool:
        return not hasattr(holder, CHECKS_ITS_CACHE)


ADAPTER = EasyCacheAdapter(name="EasyCache", node="comfy_extras.nodes_easycache:EasyCacheNode",
                           holder_class="EasyCacheHolder",
                           decides_in=(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "easycache"))
