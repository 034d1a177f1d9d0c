"""Truncated CFG Guider: a GUIDER for SamplerCustomAdvanced, optionally with its negative branch on a second model."""
from __future__ import annotations

import math

import comfy.sampler_helpers
import comfy.samplers
import torch
from comfy_api.latest import io

from ..sampling.policy import TruncationPolicy
from .policy_inputs import GUIDANCE_SCALE_MAX, policy_inputs, validated_scales
from .truncation import TruncationController, node_id_of, patch_model


# What core's DualModelGuider gives a negative branch left unconnected: no text, the model runs image-only.
NULL_CONDITIONING = [[None, {}]]
DEFAULT_CFG = 4.0


class TruncatedGuider(comfy.samplers.CFGGuider):
    """ComfyUI's CFGGuider on a model carrying the truncation wrappers; ``controller`` holds the ledgers."""

    def __init__(self, model_patcher, controller: TruncationController):
        super().__init__(model_patcher)
        self.controller = controller


class TruncatedDualModelGuider(TruncatedGuider):
    """The negative branch on a second model, as core 0.33's Guider_DualModel runs it (Ideogram 4's unconditional
    model): that model is loaded for the run and freed after it as core loads and frees it, its conditioning
    prepared for it, and the pack's branch evaluation (truncation.py) sends the negative branch there, so a truncated
    or reused step never calls it. ComfyUI 0.3.64 has no two-model guider; this one runs there the same way."""

    def __init__(self, model_patcher, negative_patcher, controller: TruncationController):
        super().__init__(model_patcher, controller)
        self.negative_patcher = negative_patcher
        self.negative_inner, self.negative_conds, self._negative_prepared = None, None, None

    def outer_sample(self, noise, latent_image, sampler, sigmas, *args, **kwargs):
        loaded = []
        self.negative_inner = self.negative_conds = self._negative_prepared = None
        if not math.isclose(self.cfg, 1.0):  # as core: at cfg 1 the negative model is never loaded
            conds = {"negative": [c.copy() for c in self.conds["negative"]]}
            self.negative_inner, conds, loaded = comfy.sampler_helpers.prepare_sampling(
                self.negative_patcher, noise.shape, conds, self.negative_patcher.model_options)
            self._negative_prepared = conds["negative"]
            self.negative_patcher.pre_run()
        try:
            return super().outer_sample(noise, latent_image, sampler, sigmas, *args, **kwargs)
        finally:
            if self.negative_inner is not None:
                self.negative_patcher.cleanup()
                comfy.sampler_helpers.cleanup_models({"negative": self._negative_prepared}, loaded)
                self.negative_inner = None

    def inner_sample(self, noise, latent_image, device, sampler, sigmas, denoise_mask, callback, disable_pbar, seed,
                     **kwargs):
        if self.negative_inner is not None:
            latent = latent_image
            if latent is not None and torch.count_nonzero(latent) > 0:
                latent = self.negative_inner.process_latent_in(latent)
            self.negative_conds = comfy.samplers.process_conds(
                self.negative_inner, noise, {"negative": self._negative_prepared}, device, latent, denoise_mask, seed,
                **kwargs)["negative"]
        return super().inner_sample(noise, latent_image, device, sampler, sigmas, denoise_mask, callback,
                                    disable_pbar, seed, **kwargs)

    def evaluate(self, evaluate_one_model, conds: list, x, sigma, model_options: dict) -> list:
        """[positive output, negative output] of ``conds`` ([positive or None, negative or None]): the positive on
        the model (through ``evaluate_one_model``, the pack's usual evaluation), the negative on the negative model,
        each alone at its own batch, as core evaluates them."""
        positive, negative = conds
        outputs = evaluate_one_model([positive, None]) if positive is not None else [None, None]
        if negative is not None:
            if self.negative_inner is None:
                raise ValueError("a step needs the negative branch, but the negative model is not loaded at cfg 1: "
                                 "set cfg above 1, or leave model_negative unconnected")
            # Core sends the negative model the run's options without the multi-GPU clones (it runs on one device).
            options = {k: v for k, v in model_options.items() if k != "multigpu_clones"}
            # In the negative slot, so the network sees it marked as the negative branch (cond_or_uncond 1) and the
            # pack counts it as one; the output is the same as core's [negative] alone.
            outputs[1] = comfy.samplers.calc_cond_batch(self.negative_inner, [None, self.negative_conds], x, sigma,
                                                        options)[1]
        if outputs[0] is None:
            outputs[0] = torch.zeros_like(outputs[1])
        return outputs


class TruncatedCFGGuider(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TruncatedCFGGuider",
            display_name="Truncated CFG Guider",
            category="sampling/custom_sampling/guiders",
            description=("Classifier-free guidance that runs only one branch on the steps you choose, so "
                         "a truncated step costs one model call instead of two. With every rule off it "
                         "equals ComfyUI's CFGGuider bit for bit."),
            inputs=[
                io.Model.Input("model", tooltip="The diffusion model to guide."),
                io.Conditioning.Input("positive", tooltip="The prompt to follow."),
                io.Conditioning.Input("negative", optional=True, tooltip=(
                    "The prompt to steer away from (the unconditional branch). Unconnected with model_negative: no "
                    "text, the negative model runs image-only, as core's DualModelGuider.")),
                io.Float.Input("cfg", default=DEFAULT_CFG, min=0.0, max=GUIDANCE_SCALE_MAX, step=0.1, round=0.01,
                               tooltip=("Guidance scale on full-CFG steps "
                                        "(Lumina 2: 4.0; Wan 2.2 T2V high-noise expert: 4.0).")),
                *policy_inputs(),
                io.Model.Input("model_negative", optional=True, tooltip=(
                    "A second model for the negative branch (Ideogram 4's unconditional model), as core's "
                    "DualModelGuider: loaded for the run, and called only on full-CFG steps. Unconnected: the "
                    "negative branch runs on model.")),
            ],
            outputs=[io.Guider.Output()],
            hidden=[io.Hidden.unique_id],
            not_idempotent=True,  # its output reports to this node's id (see node_id_of)
        )

    @classmethod
    def validate_inputs(cls, cfg=None, cfg_low_noise=None, cfg_schedule=None):
        return validated_scales(cfg=cfg, cfg_low_noise=cfg_low_noise, cfg_schedule=cfg_schedule)

    @classmethod
    def execute(cls, model, positive, negative=None, cfg: float = DEFAULT_CFG, model_negative=None,
                **policy) -> io.NodeOutput:
        """``policy``: the inputs of policy_inputs(), by name (ComfyUI leaves unconnected optional inputs out)."""
        scales = validated_scales(cfg=cfg)
        if scales is not True:
            raise ValueError(scales)
        if negative is None and model_negative is None:
            raise ValueError("negative is not connected: connect the negative prompt (ConditioningZeroOut of the "
                             "positive for an empty one), or connect model_negative for core's text-free negative")
        patched, controller = patch_model(model, TruncationPolicy.from_inputs(policy), node_id_of(cls))
        if model_negative is None:
            guider = TruncatedGuider(patched, controller)
        else:
            guider = TruncatedDualModelGuider(patched, model_negative, controller)
        guider.set_conds(positive, NULL_CONDITIONING if negative is None else negative)
        guider.set_cfg(cfg)
        return io.NodeOutput(guider)
