"""Wan A14B Loader and Wan A14B Experts: Wan 2.2's two 14B experts as one MODEL, one sampler pass."""
from __future__ import annotations

import folder_paths
from comfy_api.latest import io

from ...sampling.families import TASKS, wan_a14b_task
from .expert_routing import check_pair, check_wan_a14b, combine_experts
from .files import (WEIGHT_DTYPES, detect_diffusion_model, load_text_encoder, load_unet, load_vae, resolve,
                    with_flow_shift)
TASK_TOOLTIP = ("t2v: text to video (T2V-A14B experts, 16 input channels). i2v: image to video (I2V-A14B "
                "experts, 36 input channels; condition with WanImageToVideo).")
BOUNDARY_TOOLTIP = ("Sigma at which the low-noise expert takes over: calls at sigma >= boundary run the "
                    "high-noise expert, as Wan's official code routes them. 0 = the task's (t2v 0.875, i2v 0.900).")


class WanA14BExperts(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TruncatedCFGWanA14BExperts",
            display_name="Wan A14B Experts",
            category="advanced/model",
            description=("Wan 2.2 A14B's high-noise and low-noise experts as one MODEL, routed call by call by "
                         "sigma, for one sampler pass. For experts from any loader (GGUF, LoRA-patched)."),
            inputs=[
                io.Model.Input("high_noise_model", tooltip="The high-noise expert (runs the early, noisy steps)."),
                io.Model.Input("low_noise_model", tooltip="The low-noise expert (runs the late, detail steps)."),
                io.Combo.Input("task", options=list(TASKS), default="t2v", tooltip=TASK_TOOLTIP),
                io.Float.Input("boundary", default=0.0, min=0.0, max=0.999, step=0.001, tooltip=BOUNDARY_TOOLTIP),
            ],
            outputs=[io.Model.Output(display_name="model")],
        )

    @classmethod
    def execute(cls, high_noise_model, low_noise_model, task: str, boundary: float) -> io.NodeOutput:
        return io.NodeOutput(combine_experts(high_noise_model, low_noise_model, task, boundary))


class WanA14BLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        unets = folder_paths.get_filename_list("diffusion_models")
        return io.Schema(
            node_id="TruncatedCFGWanA14BLoader",
            display_name="Wan A14B Loader",
            category="advanced/loaders",
            description=("Loads Wan 2.2 A14B (both experts, UMT5-XXL text encoder, Wan 2.1 VAE) as one MODEL with "
                         "the official shift and expert boundary, for one sampler pass over all steps."),
            inputs=[
                io.Combo.Input("high_noise_unet", options=unets,
                               tooltip="models/diffusion_models: the high-noise expert, e.g. "
                                       "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors."),
                io.Combo.Input("low_noise_unet", options=unets,
                               tooltip="models/diffusion_models: the low-noise expert of the same release."),
                io.Combo.Input("clip_name", options=folder_paths.get_filename_list("text_encoders"),
                               tooltip="models/text_encoders: UMT5-XXL, e.g. umt5_xxl_fp8_e4m3fn_scaled.safetensors."),
                io.Combo.Input("vae_name", options=folder_paths.get_filename_list("vae"),
                               tooltip="models/vae: the Wan 2.1 VAE that A14B uses (wan_2.1_vae.safetensors)."),
                io.Combo.Input("task", options=list(TASKS), default="t2v", tooltip=TASK_TOOLTIP),
                io.Float.Input("shift", default=0.0, min=0.0, max=100.0, step=0.01,
                               tooltip="Flow time shift. 0 = Wan 2.2's official for the task (t2v 12.0, i2v 5.0); "
                                       "ComfyUI's templates use 8.0."),
                io.Float.Input("boundary", default=0.0, min=0.0, max=0.999, step=0.001, tooltip=BOUNDARY_TOOLTIP),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip="As UNETLoader: fp8 halves the experts' memory "
                                       "(about 14 GB each instead of 28)."),
            ],
            outputs=[io.Model.Output(display_name="MODEL"), io.Clip.Output(display_name="CLIP"),
                     io.Vae.Output(display_name="VAE")],
        )

    @classmethod
    def execute(cls, high_noise_unet: str, low_noise_unet: str, clip_name: str, vae_name: str, task: str,
                shift: float, boundary: float, weight_dtype: str) -> io.NodeOutput:
        family = wan_a14b_task(task).family
        high_path = resolve("diffusion_models", high_noise_unet, "high_noise_unet")
        low_path = resolve("diffusion_models", low_noise_unet, "low_noise_unet")
        # Both headers are checked before any weights are read.
        check_pair(check_wan_a14b(detect_diffusion_model(high_path, "high_noise_unet"), "high_noise_unet", task),
                   check_wan_a14b(detect_diffusion_model(low_path, "low_noise_unet"), "low_noise_unet", task))
        model = combine_experts(load_unet(high_path, weight_dtype, "high_noise_unet"),
                                load_unet(low_path, weight_dtype, "low_noise_unet"), task, boundary)
        model = with_flow_shift(model, shift if shift > 0 else family.shift, family.multiplier)
        clip = load_text_encoder(clip_name, family.text_encoder, "clip_name")
        vae = load_vae(vae_name, "vae_name")
        return io.NodeOutput(model, clip, vae)
