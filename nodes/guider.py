"""Truncated CFG Guider: a GUIDER for SamplerCustomAdvanced."""
from __future__ import annotations

import comfy.samplers
from comfy_api.latest import io

from ..sampling.policy import TruncationPolicy
from .policy_inputs import GUIDANCE_SCALE_MAX, policy_inputs, validated_scales
from .truncation import TruncationController, node_id_of, patch_model


class TruncatedGuider(comfy.samplers.CFGGuider):
    """ComfyUI's CFGGuider on a model carrying the truncation wrappers; ``controller`` holds the ledgers."""

    def __init__(self, model_patcher, controller: TruncationController):
        super().__init__(model_patcher)
        self.controller = controller


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
                io.Conditioning.Input("negative", tooltip="The prompt to steer away from (the unconditional branch)."),
                io.Float.Input("cfg", default=4.0, min=0.0, max=GUIDANCE_SCALE_MAX, step=0.1, round=0.01,
                               tooltip=("Guidance scale on full-CFG steps "
                                        "(Lumina 2: 4.0; Wan 2.2 T2V high-noise expert: 4.0).")),
                *policy_inputs(),
            ],
            outputs=[io.Guider.Output()],
            hidden=[io.Hidden.unique_id],
            not_idempotent=True,  # its output reports to this node's id (see node_id_of)
        )

    @classmethod
    def validate_inputs(cls, cfg=None, cfg_low_noise=None, cfg_schedule=None):
        return validated_scales(cfg=cfg, cfg_low_noise=cfg_low_noise, cfg_schedule=cfg_schedule)

    @classmethod
    def execute(cls, model, positive, negative, cfg: float, **policy) -> io.NodeOutput:
        """``policy``: the inputs of policy_inputs(), by name."""
        scales = validated_scales(cfg=cfg)
        if scales is not True:
            raise ValueError(scales)
        patched, controller = patch_model(model, TruncationPolicy.from_inputs(policy), node_id_of(cls))
        guider = TruncatedGuider(patched, controller)
        guider.set_conds(positive, negative)
        guider.set_cfg(cfg)
        return io.NodeOutput(guider)
