"""CFG Renorm: Lumina-Image-2.0's guidance renormalisation (and diffusers' and Qwen-Image's rescales) as a post-CFG
hook on any model."""
from __future__ import annotations

import math

import torch
from comfy_api.latest import io

from ..sampling.guidance import RENORM, RENORM_MODES, renorm_mode


def renorm_post_cfg(renorm_cfg: float, mode: str):
    """A sampler_post_cfg_function applying the renorm in model-output space (x - x0).

    It acts only where guidance was applied (cond_scale != 1): truncated steps and cfg = 1 runs
    are left exactly as they are, as Lumina's official code renormalises inside its CFG branch only.
    """
    rescale = renorm_mode(mode).scale
    if not math.isfinite(renorm_cfg) or renorm_cfg < 0:
        raise ValueError(f"renorm_cfg must be 0 (off) or a positive number, got {renorm_cfg}")

    def post_cfg(args):
        denoised = args["denoised"]
        if math.isclose(args["cond_scale"], 1.0):
            return denoised
        x = args["input"]
        guided = x - denoised
        cond = x - args["cond_denoised"]
        scale = rescale(guided, cond, renorm_cfg)
        # Untouched values keep ComfyUI's bit for bit (x - (x - d) is not exactly d).
        return torch.where(scale != 1, x - guided * scale.to(guided.dtype), denoised)

    return post_cfg


class TruncatedCFGRenorm(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TruncatedCFGRenorm",
            display_name="CFG Renorm",
            category="advanced/guidance",
            description=("Lumina-Image-2.0's CFG renormalisation, in the model's output space, per image, on "
                         "full-CFG steps only. Unlike core RenormCFG it works for batches and on any model "
                         "(Lumina 2, Z-Image, Qwen-Image, Wan, ...), and pairs with Truncated CFG to skip the "
                         "negative branch."),
            inputs=[
                io.Model.Input("model", tooltip="The diffusion model to patch (it is cloned, never changed)."),
                io.Float.Input("renorm_cfg", default=1.0, min=0.0, max=100.0, step=0.01,
                               tooltip=("lumina mode: cap the guided output's norm at renorm_cfg x the positive "
                                        "output's norm, per image (never scales up). Lumina 2's default 1.0, "
                                        "Z-Image's cfg_normalization k; 0 = off. Ignored by the other modes.")),
                io.Combo.Input("mode", options=list(RENORM_MODES), default="lumina",
                               tooltip=" ".join(RENORM[name].doc for name in RENORM_MODES)),
            ],
            outputs=[io.Model.Output(display_name="patched_model")],
        )

    @classmethod
    def execute(cls, model, renorm_cfg: float, mode: str) -> io.NodeOutput:
        hook = renorm_post_cfg(float(renorm_cfg), mode)
        patched = model.clone()
        if renorm_cfg > 0 or not renorm_mode(mode).takes_renorm_cfg:
            patched.set_model_sampler_post_cfg_function(hook)
        return io.NodeOutput(patched)
