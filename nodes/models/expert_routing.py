"""Routes the calls of Wan 2.2 A14B's two experts, combined as one MODEL, to an expert by their sigma.

The combined model is a clone of the high-noise expert whose call-level options went into the experts' own
chains (``expert_chain.py``), with two wrappers: OUTER_SAMPLE runs each chain's own sampling-run wrappers around
the pass, and the innermost PREDICT_NOISE wrapper sends each sampler call through the chain of its expert:
calls at sigma >= boundary to the high-noise one, the others to the low-noise one, each with its own patches,
wrappers, hooks and step caches, and with what the nodes after the Experts node added. The routing is kept on
the model patcher under a named attachment, where the truncation controller finds the boundary. ComfyUI's
sampler loads the high-noise expert as usual; the low-noise one is asked of ComfyUI's model management when the
first call reaches it, which may offload the high-noise one. Both are never forced onto the device together.
One sampler pass, so a multistep solver keeps its history across the switch.
"""
from __future__ import annotations

import functools
import logging
from typing import Optional

import comfy.model_management
import comfy.patcher_extension

from ...sampling.experts import HIGH_NOISE, LOW_NOISE, expert_for_sigma, resolve_boundary
from ...sampling.families import TASKS, wan_a14b_task
from ..wrapper_order import order_wrappers
from .expert_chain import CALL_OPTIONS, CHAIN_WRAPPERS, WrappersMP, ExpertChain
from .files import architecture_name

ROUTING_KEY = "truncated_cfg_experts"  # the wrapper's key and the attachment's

log = logging.getLogger(__name__)


def check_wan_a14b(model_config, input_name: str, task: str) -> dict:
    """The expert's shape (dim, layers, input channels), or ValueError saying what the model is."""
    if type(model_config).__name__ not in wan_a14b_task(task).family.configs:
        raise ValueError(f"{input_name} is a {architecture_name(model_config)} model, expected Wan 2.1/2.2 14B "
                         f"(a Wan 2.2 A14B {task} expert)")
    unet = model_config.unet_config
    shape = {"dim": unet.get("dim"), "num_layers": unet.get("num_layers"), "in_dim": unet.get("in_dim")}
    wanted = wan_a14b_task(task).in_channels
    if shape["in_dim"] != wanted:
        other = next((t for t in TASKS if wan_a14b_task(t).in_channels == shape["in_dim"]), None)
        what = f"a {other} expert" if other else f"a model with {shape['in_dim']} input channels"
        raise ValueError(f"{input_name} is {what} ({shape['in_dim']} input channels); task {task} needs the "
                         f"{task.upper()}-A14B experts ({wanted} input channels)")
    return shape


def check_pair(high: dict, low: dict) -> None:
    mismatched = [f"{k} {high[k]} vs {low[k]}" for k in high if high[k] != low[k]]
    if mismatched:
        raise ValueError("high_noise and low_noise experts do not match (" + ", ".join(mismatched) +
                         "); use the two experts of one Wan 2.2 A14B release")


class ExpertRouting:
    """Routes each sampler call to its expert's chain."""

    def __init__(self, high_noise, low_noise, boundary: float):
        self.chains = {HIGH_NOISE: ExpertChain(HIGH_NOISE, high_noise), LOW_NOISE: ExpertChain(LOW_NOISE, low_noise)}
        self.low_noise = low_noise
        self.boundary = boundary
        self._low_noise_running = False  # its patcher prepared for this run's calls, as a sampler prepares its own

    def expert_of(self, sigma: float) -> str:
        return expert_for_sigma(sigma, self.boundary)

    def outer_sample(self, executor, *args, **kwargs):
        """Each chain's own OUTER_SAMPLE wrappers (its step cache's set-up) around the pass, high-noise outermost."""
        guider = executor.class_obj
        order_wrappers(guider.model_options.setdefault("transformer_options", {}).setdefault("wrappers", {}),
                       WrappersMP.PREDICT_NOISE, last=(ROUTING_KEY,))
        ignored = self.chains[LOW_NOISE].not_honoured()
        if ignored:
            log.warning("[Truncated CFG] Wan A14B Experts: the low-noise model's %s act on a whole sampler run, and "
                        "one pass runs on the high-noise model's: they do nothing here; put them after the Experts "
                        "node to act on both experts", ", ".join(ignored))
        chains = list(self.chains.values())
        for chain in chains:
            chain.start(guider)

        def inside(remaining, *args, **kwargs):
            if not remaining:
                return executor(*args, **kwargs)
            own = remaining[0].guider
            wrappers = comfy.patcher_extension.get_all_wrappers(WrappersMP.OUTER_SAMPLE, own.model_options,
                                                                is_model_options=True)
            return comfy.patcher_extension.WrapperExecutor.new_class_executor(
                functools.partial(inside, remaining[1:]), own, wrappers).execute(*args, **kwargs)

        try:
            return inside(chains, *args, **kwargs)
        finally:
            for chain in chains:
                chain.stop()
            if self._low_noise_running:
                self.low_noise.cleanup()
                self._low_noise_running = False

    def predict_noise(self, executor, x, timestep, model_options, seed=None):
        guider = executor.class_obj
        expert = self.expert_of(float(timestep.flatten()[0]))
        chain = self.chains[expert]
        if chain.guider is None:
            raise RuntimeError("Wan A14B Experts: a call outside a sampler run; sample the combined model with a "
                               "ComfyUI sampler node")
        if expert == HIGH_NOISE:
            inner = guider.inner_model
        else:
            self._load_low_noise()
            inner = self.low_noise.model
        return chain.predict_noise(guider, inner, x, timestep, chain.call_options(model_options), seed)

    def _load_low_noise(self) -> None:
        if not any(m is self.low_noise for m in comfy.model_management.loaded_models()):
            # ComfyUI frees what it needs for this, which may offload the high-noise expert.
            comfy.model_management.load_models_gpu([self.low_noise])
        if not self._low_noise_running:
            self.low_noise.pre_run()
            self._low_noise_running = True


def experts_of(model_patcher) -> Optional[ExpertRouting]:
    """The routing of a two-expert model; None for any other model."""
    return model_patcher.get_attachment(ROUTING_KEY)


def combine_experts(high_noise, low_noise, task: str, boundary: float = 0.0):
    """One MODEL from the two experts (ModelPatchers), validated; boundary 0 = the task's official one."""
    boundary = resolve_boundary(task, boundary)
    shape = check_wan_a14b(high_noise.model.model_config, "high_noise_model", task)
    check_pair(shape, check_wan_a14b(low_noise.model.model_config, "low_noise_model", task))
    routing = ExpertRouting(high_noise, low_noise, boundary)
    combined = high_noise.clone()
    for key in CALL_OPTIONS:
        combined.model_options.pop(key, None)
    combined.model_options["transformer_options"] = {}
    for kind in CHAIN_WRAPPERS:
        combined.wrappers.pop(kind, None)
    combined.add_wrapper_with_key(WrappersMP.OUTER_SAMPLE, ROUTING_KEY, routing.outer_sample)
    combined.add_wrapper_with_key(WrappersMP.PREDICT_NOISE, ROUTING_KEY, routing.predict_noise)
    combined.set_attachments(ROUTING_KEY, routing)
    log.info("[Truncated CFG] Wan A14B %s experts combined: sigma >= %.3f high-noise, below low-noise",
             task, boundary)
    return combined
