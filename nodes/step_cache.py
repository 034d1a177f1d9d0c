"""The step caches users put on the same model, as the pack meets them at the start of a run.

Core's EasyCache and LazyCache nodes keep their state in one holder under
``transformer_options["easycache"]``: EasyCache skips whole network calls (a DIFFUSION_MODEL wrapper,
inside the pack's plan), LazyCache whole sampler calls (a PREDICT_NOISE wrapper, which the pack's
own wrapper encloses). Both skip a call while their accumulated estimate of the output's change,
``cumulative_change_rate``, stays below their ``reuse_threshold``, and restart the estimate at every
call they compute. The pack coordinates with them through that field: a call whose plan must run
at the network (a full-CFG call) starts with the estimate past the threshold, so the cache computes
it and restarts its estimate as if it had decided so itself. EasyCache estimates the change on one
branch, which it picks as the first of its first active call (the negative one, if that call runs
full CFG: it would then skip only full-CFG calls); coordinating, it watches the branch that every
call of the run evaluates instead (``first_cond_uuid``).

The TeaCache and MagCache packs replace the network's forward instead and keep no holder; the pack
only recognises them, by the settings they put into transformer_options, to warn where they can
serve a full step a negative branch from several steps back.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

HOLDER_KEY = "easycache"  # core EasyCache's and LazyCache's holder in transformer_options
FORWARD_CACHES = {"TeaCache": ("rel_l1_thresh", "coefficients"), "MagCache": ("magcache_thresh", "mag_ratios")}


@dataclass
class StepCache:
    """Core EasyCache or LazyCache on the model of a run."""
    holder: object

    @property
    def name(self) -> str:
        return getattr(self.holder, "name", type(self.holder).__name__)

    @property
    def serves_branches_it_never_ran(self) -> bool:
        """EasyCache before ComfyUI 0.3.66 serves a skipped call's every branch from its cache, whether or
        not that branch ever ran (a KeyError when it did not); later ones compute such a call."""
        return self.name == "EasyCache" and not hasattr(self.holder, "can_apply_cache_diff")

    def watch(self, uuid) -> None:
        """EasyCache: decide skips on the branch of this cond uuid, unless it has already picked one this run."""
        if getattr(self.holder, "initial_step", False) and hasattr(self.holder, "first_cond_uuid"):
            self.holder.first_cond_uuid = uuid
            self.holder.initial_step = False

    def compute_next_call(self) -> None:
        """Make the cache compute the next call it sees, by its own rule: its change estimate starts past
        its threshold (it then restarts the estimate, as after any call it computes)."""
        self.holder.cumulative_change_rate = math.inf


def step_cache_of(transformer_options: dict) -> Optional[StepCache]:
    holder = transformer_options.get(HOLDER_KEY)
    return None if holder is None or not hasattr(holder, "cumulative_change_rate") else StepCache(holder)


def forward_caches_of(transformer_options: dict) -> list[str]:
    """The packs that replace the network's forward (TeaCache, MagCache) whose settings the model carries."""
    return [name for name, keys in FORWARD_CACHES.items() if all(k in transformer_options for k in keys)]
