"""Routes the calls of Wan 2.2 A14B's two experts, combined as one MODEL, to an expert by their sigma.

The combined model is a clone of the high-noise expert with a DIFFUSION_MODEL wrapper: calls at
sigma >= boundary run the high-noise network, the others the low-noise one. The routing is kept on
the model patcher under a named attachment, where the truncation controller finds the boundary. ComfyUI's sampler
loads the high-noise expert as usual; the low-noise one is asked of ComfyUI's model management
when the first call reaches it, which may offload the high-noise one. Both are never forced onto
the device together. One sampler pass, so a multistep solver keeps its history across the switch.
"""
from __future__ import annotations

import logging
from typing import Optional

import comfy.model_management
import comfy.patcher_extension

from ...sampling.experts import HIGH_NOISE, expert_for_sigma, resolve_boundary
from ...sampling.families import TASKS, wan_a14b_task
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
    """Routes diffusion-model calls between the two experts."""

    def __init__(self, low_noise, boundary: float):
        self.low_noise = low_noise
        self.boundary = boundary

    def expert_of(self, sigma: float) -> str:
        return expert_for_sigma(sigma, self.boundary)

    def route(self, executor, x, timestep, context, clip_fea=None, time_dim_concat=None, transformer_options=None,
              **kwargs):
        transformer_options = {} if transformer_options is None else transformer_options
        sigmas = transformer_options.get("sigmas")
        if sigmas is None:
            raise RuntimeError("Wan A14B Experts: the call carries no sigma (transformer_options['sigmas']); "
                               "it must come from a ComfyUI sampler")
        if self.expert_of(float(sigmas.flatten()[0])) == HIGH_NOISE:
            return executor(x, timestep, context, clip_fea, time_dim_concat, transformer_options, **kwargs)
        self._load_low_noise()
        return self.low_noise.model.diffusion_model(x, timestep, context, clip_fea=clip_fea,
                                                    time_dim_concat=time_dim_concat,
                                                    transformer_options=inner_to_routing(transformer_options),
                                                    **kwargs)

    def _load_low_noise(self) -> None:
        if any(m is self.low_noise for m in comfy.model_management.loaded_models()):
            return
        # ComfyUI frees what it needs for this, which may offload the high-noise expert.
        comfy.model_management.load_models_gpu([self.low_noise])


def inner_to_routing(transformer_options: dict) -> dict:
    """The options for the low-noise network: only the DIFFUSION_MODEL wrappers nested inside this routing.

    ComfyUI nests wrappers in the order of their keys, so those before the routing's key have already
    run for this call (a step cache among them must not see it twice) and the routing itself would
    call itself.
    """
    options = dict(transformer_options)
    wrappers = dict(options.get("wrappers", {}))
    kinds = wrappers.get(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, {})
    keys = list(kinds)
    inner = keys[keys.index(ROUTING_KEY) + 1:] if ROUTING_KEY in kinds else keys
    wrappers[comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL] = {key: kinds[key] for key in inner}
    options["wrappers"] = wrappers
    return options


def experts_of(model_patcher) -> Optional[ExpertRouting]:
    """The routing of a two-expert model; None for any other model."""
    return model_patcher.get_attachment(ROUTING_KEY)


def combine_experts(high_noise, low_noise, task: str, boundary: float = 0.0):
    """One MODEL from the two experts (ModelPatchers), validated; boundary 0 = the task's official one."""
    boundary = resolve_boundary(task, boundary)
    shape = check_wan_a14b(high_noise.model.model_config, "high_noise_model", task)
    check_pair(shape, check_wan_a14b(low_noise.model.model_config, "low_noise_model", task))
    combined = high_noise.clone()
    combined.remove_wrappers_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, ROUTING_KEY)
    routing = ExpertRouting(low_noise, boundary)
    combined.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, ROUTING_KEY, routing.route)
    combined.set_attachments(ROUTING_KEY, routing)
    log.info("[Truncated CFG] Wan A14B %s experts combined: sigma >= %.3f high-noise, below low-noise",
             task, boundary)
    return combined
