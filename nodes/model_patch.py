"""Truncated CFG (model patch): the guider's policy for KSampler, KSamplerAdvanced and SamplerCustom."""
from __future__ import annotations

from comfy_api.latest import io

from ..sampling.policy import TruncationPolicy
from .policy_inputs import policy_inputs, validated_scales
from .truncation import node_id_of, patch_model


class TruncatedCFGModelPatch(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TruncatedCFGModelPatch",
            display_name="Truncated CFG (model patch)",
            category="advanced/guidance",
            description=("Patches the model so that any sampler node runs only one CFG branch on the "
                         "steps you choose; the sampler's own cfg applies on the other steps."),
            inputs=[
                io.Model.Input("model", tooltip="The diffusion model to patch (it is cloned, never changed)."),
                *policy_inputs(),
            ],
            outputs=[io.Model.Output(display_name="patched_model")],
            hidden=[io.Hidden.unique_id],
            not_idempotent=True,  # its output reports to this node's id (see node_id_of)
        )

    @classmethod
    def validate_inputs(cls, cfg_low_noise=None, cfg_schedule=None):
        return validated_scales(cfg_low_noise=cfg_low_noise, cfg_schedule=cfg_schedule)

    @classmethod
    def execute(cls, model, **policy) -> io.NodeOutput:
        """``policy``: the inputs of policy_inputs(), by name."""
        patched, _ = patch_model(model, TruncationPolicy.from_inputs(policy), node_id_of(cls))
        return io.NodeOutput(patched)
