"""The model families the pack loads or names, one row each: how ComfyUI detects them and their official settings.

Pure data: the loaders (``nodes/models/``) detect a file's family and take its shift, sampling multiplier and
text encoder from here, and the docs and tooltips give its official steps and cfg from here. Each model's
official guidance recipe, in the pack's terms, is in ``recipes.py``.

Adding a family: its row here and, if the pack loads it, its detection in the loader that does, with tests.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str  # as users know it
    configs: tuple[str, ...]  # ComfyUI's model-config classes that detect it
    shift: float  # the official time shift
    multiplier: float  # ComfyUI's flow sampling multiplier: 1 (AuraFlow-style) or 1000 (SD3-style)
    text_encoder: str  # ComfyUI's CLIPType for its text encoder
    steps: int
    cfg: float


@dataclass(frozen=True)
class WanA14BTask:
    """One task of Wan 2.2 A14B: two experts routed by sigma (``experts.py``)."""
    family: Family
    boundary: float  # sigma
    cfg_low_noise: float  # the low-noise expert's guidance scale (family.cfg is the high-noise one's)
    in_channels: int  # of the diffusion model's patch embedding


# Lumina-Image-2.0's README: cfg 4, 50 steps, cfg_trunc_ratio 0.25 (diffusers' Lumina2Pipeline), renorm 1.0;
# ComfyUI detects Neta Lumina and NetaYume Lumina with the same config (core's NetaYume template: shift 4, 30
# res_multistep steps, cfg 4).
LUMINA2 = Family("Lumina 2", ("Lumina2",), shift=6.0, multiplier=1.0, text_encoder="LUMINA2", steps=50, cfg=4.0)
# Z-Image (base): ComfyUI 0.33 detects it as ZImage, a Lumina 2 subclass (width 3840), with the Qwen3 4B text
# encoder under CLIP type lumina2 and shift 3. Its official loop (diffusers' ZImagePipeline) guides at g = 3 to 5
# (ComfyUI cfg g + 1) over 28 to 50 steps, normalisation and truncation off unless asked (``recipes.py``);
# core's template: cfg 4, 25 res_multistep steps.
Z_IMAGE = Family("Z-Image", ("ZImage",), shift=3.0, multiplier=1.0, text_encoder="LUMINA2", steps=28, cfg=4.0)
# What the Lumina2 Loader loads: ComfyUI's config classes, each with its family.
LUMINA2_LOADS = (LUMINA2, Z_IMAGE)
# Wan 2.2's official generate.py configs (wan/configs: boundary, sample_shift, sample_steps, sample_guide_scale);
# i2v concatenates 20 image-latent channels. ComfyUI detects both A14B tasks as the 14B Wan config.
WAN_A14B = {
    "t2v": WanA14BTask(Family("Wan 2.2 T2V-A14B", ("WAN21_T2V",), shift=12.0, multiplier=1000.0, text_encoder="WAN",
                              steps=40, cfg=4.0), boundary=0.875, cfg_low_noise=3.0, in_channels=16),
    "i2v": WanA14BTask(Family("Wan 2.2 I2V-A14B", ("WAN21_T2V",), shift=5.0, multiplier=1000.0, text_encoder="WAN",
                              steps=40, cfg=3.5), boundary=0.900, cfg_low_noise=3.5, in_channels=36),
}
TASKS = tuple(WAN_A14B)


def wan_a14b_task(task: str) -> WanA14BTask:
    if task not in WAN_A14B:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return WAN_A14B[task]
