"""Lumina2 Loader: Lumina-Image-2.0 (and Neta Lumina) diffusion model, Gemma 2 text encoder and Flux VAE."""
from __future__ import annotations

import folder_paths
from comfy_api.latest import io

from ...sampling.families import LUMINA2
from .files import (WEIGHT_DTYPES, architecture_name, detect_diffusion_model, load_text_encoder, load_unet, load_vae,
                    resolve, with_flow_shift)


def unet_choices() -> list[str]:
    """Files of models/diffusion_models, then all-in-one checkpoints of models/checkpoints."""
    unets = folder_paths.get_filename_list("diffusion_models")
    return unets + [c for c in folder_paths.get_filename_list("checkpoints") if c not in unets]


class Lumina2Loader(io.ComfyNode):
    @classmethod
    def define_schema(cls) -> io.Schema:
        return io.Schema(
            node_id="TruncatedCFGLumina2Loader",
            display_name="Lumina2 Loader",
            category="advanced/loaders",
            description=("Loads Lumina-Image-2.0 or Neta Lumina in one node: the NextDiT diffusion model with its "
                         "time shift, the Gemma 2 text encoder and the Flux VAE."),
            inputs=[
                io.Combo.Input("unet_name", options=unet_choices(),
                               tooltip="models/diffusion_models (e.g. lumina_2_model_bf16.safetensors), or the "
                                       "all-in-one lumina_2.safetensors from models/checkpoints."),
                io.Combo.Input("clip_name", options=folder_paths.get_filename_list("text_encoders"),
                               tooltip="models/text_encoders: Gemma 2 2B (gemma_2_2b_fp16.safetensors)."),
                io.Combo.Input("vae_name", options=folder_paths.get_filename_list("vae"),
                               tooltip="models/vae: the Flux VAE (ae.safetensors)."),
                io.Float.Input("shift", default=LUMINA2.shift, min=0.01, max=100.0, step=0.01,
                               tooltip="Flow time shift; Lumina 2's official value is 6.0 (as ModelSamplingAuraFlow)."),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip="As UNETLoader: fp8 stores the weights in 8 bits."),
            ],
            outputs=[io.Model.Output(display_name="MODEL"), io.Clip.Output(display_name="CLIP"),
                     io.Vae.Output(display_name="VAE")],
        )

    @classmethod
    def execute(cls, unet_name: str, clip_name: str, vae_name: str, shift: float, weight_dtype: str) -> io.NodeOutput:
        path = resolve("diffusion_models", unet_name, "unet_name", also=("checkpoints",))
        config = detect_diffusion_model(path, "unet_name")
        if type(config).__name__ not in LUMINA2.configs:
            raise ValueError(f"unet_name is a {architecture_name(config)} model, expected Lumina 2 "
                             "(Lumina-Image-2.0 or Neta Lumina)")
        model = with_flow_shift(load_unet(path, weight_dtype, "unet_name"), shift, LUMINA2.multiplier)
        clip = load_text_encoder(clip_name, LUMINA2.text_encoder, "clip_name")
        vae = load_vae(vae_name, "vae_name")
        return io.NodeOutput(model, clip, vae)
