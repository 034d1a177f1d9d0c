"""Each Wan A14B expert's own chain: what the nodes before the Experts node put on that expert's model, applied to
the calls routed to it the way ComfyUI would apply them if that model sampled alone.

A model patcher carries two kinds of things. Weight and object patches (LoRA, a shift) live with the patcher and
apply whenever it is loaded; each expert keeps its own. Model options and wrappers (attention overrides, a
``model_function_wrapper``, pre-/post-CFG hooks, step caches, torch.compile's wrapper) apply to the calls of
whoever samples: the Experts node moves those of each expert into its ``ExpertChain``, leaving the combined model
with none but the run-wide ones (sampler-level, below), and every call then goes through the chain of the expert
it is routed to, merged with what the nodes after the Experts node put on the combined model (those apply to
both experts). A chain's OUTER_SAMPLE wrappers (a step cache's set-up and clean-up) run around the whole pass.

What cannot act per expert within one sampler pass: the wrappers around the sampler itself and its set-up
(SAMPLER_SAMPLE, PREPARE_SAMPLING) and the model options that only the sampler reads (``denoise_mask_function``).
The high-noise expert's stay on the combined model and act on the pass; the low-noise expert's are named once per
run (``not_honoured``).
"""
from __future__ import annotations

from typing import Optional

import comfy.model_patcher
import comfy.patcher_extension
import comfy.samplers

WrappersMP = comfy.patcher_extension.WrappersMP
# The wrappers of one expert's calls, and of its sampling run around them.
CALL_WRAPPERS = (WrappersMP.PREDICT_NOISE, WrappersMP.CALC_COND_BATCH, WrappersMP.APPLY_MODEL,
                 WrappersMP.DIFFUSION_MODEL)
CHAIN_WRAPPERS = (WrappersMP.OUTER_SAMPLE,) + CALL_WRAPPERS
# The model options read per model call (everything else is the sampler's).
CALL_OPTIONS = ("transformer_options", "sampler_cfg_function", "sampler_pre_cfg_function", "sampler_post_cfg_function",
                "model_function_wrapper", "disable_cfg1_optimization")
RUN_WIDE = ("wrappers", "callbacks")  # the keys of transformer_options that ComfyUI fills from the patcher


class ExpertChain:
    """One expert: its patcher, and the call-level model options and wrappers the Experts node took off it."""

    def __init__(self, name: str, patcher):
        self.name = name
        self.patcher = patcher
        options = comfy.model_patcher.create_model_options_clone(patcher.model_options)
        self.options = {key: options[key] for key in CALL_OPTIONS if key in options}
        transformer = self.options.setdefault("transformer_options", {})
        for key in RUN_WIDE:
            transformer.pop(key, None)
        self.wrappers = {kind: {key: list(found) for key, found in patcher.wrappers.get(kind, {}).items()}
                         for kind in CHAIN_WRAPPERS if patcher.wrappers.get(kind)}
        self.guider: Optional[comfy.samplers.CFGGuider] = None  # during a run: where its own wrappers keep state

    def not_honoured(self) -> list[str]:
        """What of this expert's model acts on a whole sampler run and is not in its chain, by name."""
        leftover = [f"{kind} wrapper {key!r}" for kind, by_key in self.patcher.wrappers.items()
                    if kind not in CHAIN_WRAPPERS for key in by_key]
        return leftover + [f"model option {key!r}" for key in self.patcher.model_options if key not in CALL_OPTIONS]

    def start(self, guider) -> comfy.samplers.CFGGuider:
        """The run's stand-in guider for this chain: the run's model patcher (what samples), this chain's options
        with its wrappers, as ComfyUI prepares a guider's options for a run."""
        own = comfy.samplers.CFGGuider(guider.model_patcher)
        own.model_options = comfy.model_patcher.create_model_options_clone(self.options)
        own.model_options["transformer_options"]["wrappers"] = {
            kind: {key: list(found) for key, found in by_key.items()} for kind, by_key in self.wrappers.items()}
        own.conds, own.cfg = guider.conds, guider.cfg
        self.guider = own
        return own

    def stop(self) -> None:
        self.guider = None

    def call_options(self, shared: dict) -> dict:
        """The options of one call routed to this expert: its own (as its run's wrappers left them), then the
        run's (``shared``: what the nodes after the Experts node put on the combined model, and the run's own
        entries), as ComfyUI orders what was added later: lists appended, single slots overridden."""
        return added_later(self.guider.model_options, shared)

    def predict_noise(self, guider, inner_model, x, timestep, model_options: dict, seed):
        """One call through this expert: its own PREDICT_NOISE wrappers around ComfyUI's sampling function on
        ``inner_model``, with the run's conditioning and scale."""
        own = self.guider
        own.inner_model, own.conds, own.cfg = inner_model, guider.conds, guider.cfg
        wrappers = comfy.patcher_extension.get_all_wrappers(WrappersMP.PREDICT_NOISE, own.model_options,
                                                            is_model_options=True)
        return comfy.patcher_extension.WrapperExecutor.new_class_executor(own.predict_noise, own, wrappers).execute(
            x, timestep, model_options, seed)


def added_later(earlier: dict, later: dict) -> dict:
    """Options as if ``later``'s had been added after ``earlier``'s to one model: nested dicts merged with the
    earlier keys first (wrappers nest in key order), lists concatenated, single values taken from ``later`` where
    it has one. A new structure: neither input changes. (ComfyUI's merge_nested_dicts orders nested keys the other
    way round on 0.3.64.)"""
    merged = {}
    for key in list(earlier) + [k for k in later if k not in earlier]:
        if key in earlier and key in later:
            first, then = earlier[key], later[key]
            if isinstance(first, dict) and isinstance(then, dict):
                merged[key] = added_later(first, then)
            elif isinstance(first, list) and isinstance(then, list):
                merged[key] = first + then
            else:
                merged[key] = copied(then)
        else:
            merged[key] = copied(earlier[key] if key in earlier else later[key])
    return merged


def copied(value):
    if isinstance(value, dict):
        return comfy.patcher_extension.copy_nested_dicts(value)
    return value.copy() if isinstance(value, list) else value
