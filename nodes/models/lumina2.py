"""Lumina2 Loader: the Lumina 2 family as ComfyUI detects it (Lumina-Image-2.0, Neta / NetaYume Lumina, Z-Image):
diffusion model with its family's shift, its text encoder and the Flux VAE."""
from __future__ import annotations

import folder_paths
from comfy_api.latest import io

from ...sampling.families import LUMINA2, LUMINA2_LOADS, Z_IMAGE
from .files import (WEIGHT_DTYPES, architecture_name, detect_diffusion_model, load_text_encoder, load_unet, load_vae,
                    read_header, resolve, with_flow_shift)

Z_IMAGE_WIDTH = 3840  # ComfyUI tells Z-Image from Lumina 2 by this width alone


def nextdit_width(header: dict) -> int:
    """The NextDiT's width, from the file's caption embedder (dim x text width) in its header."""
    return next(t.shape[0] for k, t in header.items() if k.endswith("cap_embedder.1.weight"))


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
            description=("Loads a Lumina 2 family model in one node (Lumina-Image-2.0, Neta Lumina, NetaYume Lumina, "
                         "Z-Image): the NextDiT diffusion model with its family's time shift, its text encoder "
                         "(Gemma 2 2B; Qwen3 4B for Z-Image) and the Flux VAE."),
            inputs=[
                io.Combo.Input("unet_name", options=unet_choices(),
                               tooltip="models/diffusion_models (e.g. lumina_2_model_bf16.safetensors, "
                                       "z_image_bf16.safetensors), or an all-in-one checkpoint from "
                                       "models/checkpoints (lumina_2.safetensors, NetaYume Lumina's)."),
                io.Combo.Input("clip_name", options=folder_paths.get_filename_list("text_encoders"),
                               tooltip="models/text_encoders: Gemma 2 2B for Lumina 2 and NetaYume "
                                       "(gemma_2_2b_fp16.safetensors), Qwen3 4B for Z-Image "
                                       "(qwen_3_4b.safetensors)."),
                io.Combo.Input("vae_name", options=folder_paths.get_filename_list("vae"),
                               tooltip="models/vae: the Flux VAE (ae.safetensors)."),
                io.Float.Input("shift", default=0.0, min=0.0, max=100.0, step=0.01,
                               tooltip=(f"Flow time shift, as ModelSamplingAuraFlow. 0 = the family's own: "
                                        f"{LUMINA2.name} {LUMINA2.shift:g}, {Z_IMAGE.name} {Z_IMAGE.shift:g}. "
                                        "NetaYume Lumina's template uses 4.")),
                io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default="default",
                               tooltip="As UNETLoader: fp8 stores the weights in 8 bits."),
            ],
            outputs=[io.Model.Output(display_name="MODEL"), io.Clip.Output(display_name="CLIP"),
                     io.Vae.Output(display_name="VAE")],
        )

    @classmethod
    def execute(cls, unet_name: str, clip_name: str, vae_name: str, shift: float, weight_dtype: str) -> io.NodeOutput:
        path = resolve("diffusion_models", unet_name, "unet_name", also=("checkpoints",))
        header = read_header(path, "unet_name")  # once: it tells the family and, on 0.3.64, Z-Image's width
        config = detect_diffusion_model(path, "unet_name", header)
        family = next((f for f in LUMINA2_LOADS if type(config).__name__ in f.configs), None)
        if family is None:
            raise ValueError(f"unet_name is a {architecture_name(config)} model, expected the Lumina 2 family "
                             f"(Lumina-Image-2.0, Neta / NetaYume Lumina, {Z_IMAGE.name}); load other models with "
                             "ComfyUI's own loaders")
        if family is LUMINA2 and nextdit_width(header) == Z_IMAGE_WIDTH:
            # ComfyUI 0.3.64 reads every Lumina 2 file at Lumina 2's width; the weights would not fit.
            raise ValueError(f"unet_name is a {Z_IMAGE.name} model ({Z_IMAGE_WIDTH} wide), which this ComfyUI does "
                             f"not know: update ComfyUI (core added {Z_IMAGE.name} in November 2025)")
        model = with_flow_shift(load_unet(path, weight_dtype, "unet_name"), shift or family.shift, family.multiplier)
        clip = load_text_encoder(clip_name, family.text_encoder, "clip_name")
        vae = load_vae(vae_name, "vae_name")
        return io.NodeOutput(model, clip, vae)
