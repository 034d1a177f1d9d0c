"""A user's models/ tree with the file names the example workflows use, built small.

Diffusion models and VAEs are real ComfyUI architectures with random weights (the Lumina 2, Z-Image, Qwen-Image and
Ideogram 4 models one layer deep at full width; the Wan experts 512 wide, 2 layers; the Wan 2.2 5B, Flux.2 Klein and
HunyuanVideo 1.5 models 256 wide; each only where the host knows it); text encoders are stand-in files (see
stand_in_text_encoder.py). Built once per folder; a finished tree of the same kind is reused.
"""
from __future__ import annotations

from pathlib import Path

import torch

LUMINA_UNET = "lumina_2_model_bf16.safetensors"
GEMMA = "gemma_2_2b_fp16.safetensors"
Z_IMAGE_UNET = "z_image_bf16.safetensors"  # core's Z-Image template's file names
QWEN3_4B = "qwen_3_4b.safetensors"
QWEN_IMAGE_UNET = "qwen_image_2512_fp8_e4m3fn.safetensors"  # core's Qwen-Image 2512 template's file names
QWEN_VL_7B = "qwen_2.5_vl_7b_fp8_scaled.safetensors"
QWEN_IMAGE_VAE = "qwen_image_vae.safetensors"
WAN22_5B_UNET = "wan2.2_ti2v_5B_fp16.safetensors"  # core's Wan 2.2 5B template's file names
WAN22_VAE = "wan2.2_vae.safetensors"
FLUX_VAE = "ae.safetensors"
# Core's NetaYume Lumina template's one file (models/checkpoints): diffusion model, Gemma 2 2B and the Flux VAE.
NETAYUME_CHECKPOINT = "NetaYumev35_pretrained_all_in_one.safetensors"
# Core's Ideogram 4 blueprint's file names: its model, its unconditional model, Qwen3-VL 8B, the Flux.2 VAE.
IDEOGRAM4_UNET = "ideogram4_fp8_scaled.safetensors"
IDEOGRAM4_UNCONDITIONAL = "ideogram4_unconditional_fp8_scaled.safetensors"
QWEN3VL_8B = "qwen3vl_8b_fp8_scaled.safetensors"
IDEOGRAM4_TEXT_DIM = 53248  # 13 of Qwen3-VL 8B's layers, 4096 each, side by side
FLUX2_VAE = "flux2-vae.safetensors"
FLUX2_KLEIN_UNET = "flux-2-klein-base-4b.safetensors"  # core's Flux.2 Klein template's (base, 4B)
QWEN_IMAGE_EDIT_UNET = "qwen_image_edit_2511_fp8mixed.safetensors"  # core's Qwen-Image-Edit 2511 template's
# Core's HunyuanVideo 1.5 (720p text to video) template's: its model, its second text encoder (byT5), its VAE.
HUNYUAN_VIDEO_15_UNET = "hunyuanvideo1.5_720p_t2v_fp16.safetensors"
BYT5_GLYPH = "byt5_small_glyphxl_fp16.safetensors"
HUNYUAN_VIDEO_15_VAE = "hunyuanvideo15_vae_fp16.safetensors"
WAN_EXPERTS = {
    ("t2v", "high"): "wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors",
    ("t2v", "low"): "wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors",
    ("i2v", "high"): "wan2.2_i2v_high_noise_14B_fp8_scaled.safetensors",
    ("i2v", "low"): "wan2.2_i2v_low_noise_14B_fp8_scaled.safetensors",
}
UMT5 = "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
WAN_VAE = "wan_2.1_vae.safetensors"
START_IMAGE = "example.png"
DONE = ".built"
# What the marker holds: change it whenever build() writes other models, so older trees are rebuilt.
KIND = "wan experts 512 x 2, qwen-image, wan 2.2 5b, netayume\n"


def kind() -> str:
    """What the marker holds on this host: a tree built for 0.3.64 lacks what 0.33 runs."""
    return (KIND + "".join(f"{name}\n" for name in ("ZImage", "Ideogram4", "Flux2", "HunyuanVideo15") if knows(name))
            + ("qwen-image-edit 2511\n" if knows_qwen_image_edit_2511() else ""))


def knows(supported_model: str) -> bool:
    """Whether the host detects that model (core's class in comfy.supported_models; Z-Image and Ideogram 4 came
    after 0.3.64)."""
    import comfy.supported_models

    return hasattr(comfy.supported_models, supported_model)


def knows_qwen_image_edit_2511() -> bool:
    """Whether the host runs Qwen-Image-Edit 2511's reference method (index_timestep_zero; core added it after
    0.3.64)."""
    import inspect

    import comfy.ldm.qwen_image.model

    return "index_timestep_zero" in inspect.getsource(comfy.ldm.qwen_image.model)


def build(models: Path, input_dir: Path | None = None) -> Path:
    """Fill ``models`` (and ``input_dir`` with the i2v start image); returns ``models``."""
    from devtools import checkpoints
    from devtools.stand_in_text_encoder import MARKER

    models = Path(models)
    if (models / DONE).exists() and (models / DONE).read_text() == kind():
        return models
    unets, te, vae = models / "diffusion_models", models / "text_encoders", models / "vae"
    checkpoints.save_lumina2(unets / LUMINA_UNET, layers=1)
    # The all-in-one layout CheckpointLoaderSimple reads: its own NextDiT (another seed), the real Flux VAE, and
    # the stand-in marker where Gemma's weights would be.
    checkpoints.save_state_dict(models / "checkpoints" / NETAYUME_CHECKPOINT, {
        **{f"model.diffusion_model.{k}": v for k, v in checkpoints.lumina2_state_dict(layers=1, seed=1).items()},
        **{f"vae.{k}": v for k, v in checkpoints.flux_vae_state_dict(seed=1).items()}, MARKER: torch.zeros(1)})
    for seed, ((task, _), name) in enumerate(WAN_EXPERTS.items(), start=20):
        # Wide enough that a skipped branch saves model time, not only overhead (the main job times it).
        checkpoints.save_wan(unets / name, dim=512, layers=2, seed=seed, in_dim=36 if task == "i2v" else 16)
    checkpoints.save_qwen_image(unets / QWEN_IMAGE_UNET, layers=1)
    if knows_qwen_image_edit_2511():
        checkpoints.save_qwen_image(unets / QWEN_IMAGE_EDIT_UNET, edit_2511=True, layers=1, seed=60)
    checkpoints.save_wan(unets / WAN22_5B_UNET, dim=256, layers=2, seed=30, in_dim=48, out_dim=48)
    for name in (GEMMA, UMT5, QWEN_VL_7B):
        checkpoints.save_state_dict(te / name, {MARKER: torch.zeros(1)})
    if knows("ZImage"):
        checkpoints.save_z_image(unets / Z_IMAGE_UNET, layers=1)
    if knows("ZImage") or knows("Flux2"):  # Qwen3 4B: Z-Image's text encoder, and Flux.2 Klein's
        checkpoints.save_state_dict(te / QWEN3_4B, {MARKER: torch.tensor([float(checkpoints.Z_IMAGE_TEXT_DIM)])})
    if knows("Flux2"):
        # Detection reads Flux.2's width from the weights: the 256-wide model of the architecture tests loads as is.
        from devtools.architectures import BY_NAME, state_dict

        checkpoints.save_state_dict(unets / FLUX2_KLEIN_UNET, state_dict(BY_NAME["Flux.2 Klein (base)"], seed=50))
    if knows("HunyuanVideo15"):
        # Detection reads its width from the weights too; its VAE's it fixes (1.26B parameters).
        from devtools.architectures import BY_NAME, state_dict

        checkpoints.save_state_dict(unets / HUNYUAN_VIDEO_15_UNET, state_dict(BY_NAME["HunyuanVideo 1.5"], seed=70))
        checkpoints.save_state_dict(te / BYT5_GLYPH, {MARKER: torch.zeros(1)})
        checkpoints.save_state_dict(vae / HUNYUAN_VIDEO_15_VAE, checkpoints.hunyuan_video_15_vae_state_dict())
    if knows("Ideogram4") or knows("Flux2"):
        checkpoints.save_state_dict(vae / FLUX2_VAE, checkpoints.flux2_vae_state_dict())
    if knows("Ideogram4"):
        checkpoints.save_ideogram4(unets / IDEOGRAM4_UNET, layers=1, seed=40)
        checkpoints.save_ideogram4(unets / IDEOGRAM4_UNCONDITIONAL, layers=1, seed=41)
        checkpoints.save_state_dict(te / QWEN3VL_8B, {MARKER: torch.tensor([float(IDEOGRAM4_TEXT_DIM)])})
    checkpoints.save_state_dict(vae / FLUX_VAE, checkpoints.flux_vae_state_dict())
    checkpoints.save_state_dict(vae / WAN_VAE, checkpoints.wan21_vae_state_dict())
    # Qwen-Image's VAE has Wan 2.1's layout (ComfyUI loads both as one architecture).
    checkpoints.save_state_dict(vae / QWEN_IMAGE_VAE, checkpoints.wan21_vae_state_dict(seed=1))
    checkpoints.save_state_dict(vae / WAN22_VAE, checkpoints.wan22_vae_state_dict())
    if input_dir is not None:
        write_start_image(Path(input_dir) / START_IMAGE)
    (models / DONE).write_text(kind())
    return models


def write_start_image(path: Path) -> None:
    """A small gradient picture for image-to-video."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.radial_gradient("L").convert("RGB").resize((64, 64)).save(path)
