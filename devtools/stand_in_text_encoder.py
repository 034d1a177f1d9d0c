"""A stand-in for text encoders, for the test and demo servers only (never part of the pack).

Text encoders (UMT5-XXL, 5.7B; Gemma 2 2B; Qwen3 4B; Qwen2.5-VL 7B) are fixed-size in ComfyUI and far too large to build
here. This module goes into a test or demo server's custom_nodes/. A text-encoder file that holds
the marker tensor below (or an all-in-one checkpoint that holds it in place of its text encoder) then loads
as a stand-in that turns each prompt into embeddings of the real shape, seeded by the prompt's text; every
other file loads through ComfyUI as usual.
"""
import zlib

import comfy.sd
import safetensors
import torch

MARKER = "truncated_cfg.stand_in_text_encoder"
# UMT5-XXL, Gemma 2 2B, Qwen2.5-VL 7B
WIDTHS = {comfy.sd.CLIPType.WAN: 4096, comfy.sd.CLIPType.LUMINA2: 2304, comfy.sd.CLIPType.QWEN_IMAGE: 3584}
# One file, two widths: Qwen3 4B hands Flux.2 Klein three of its layers side by side (Z-Image: one, the file's width).
TYPE_WIDTHS = {getattr(comfy.sd.CLIPType, "FLUX2", None): 3 * 2560}
# HunyuanVideo 1.5 reads Qwen2.5-VL 7B as Qwen-Image does (ComfyUI 0.33; 0.3.64 has no such type).
if hasattr(comfy.sd.CLIPType, "HUNYUAN_VIDEO_15"):
    WIDTHS[comfy.sd.CLIPType.HUNYUAN_VIDEO_15] = 3584
TOKENS = 16
NODE_CLASS_MAPPINGS = {}


class StandInCLIP:
    def __init__(self, clip_type, width: int = 0):
        """``width``: the embeddings' width where the file names one (one CLIP type serves two encoders: lumina2
        is Gemma 2 2B for Lumina 2, Qwen3 4B for Z-Image), else the type's; a type that fixes it wins (flux2)."""
        self.clip_type = clip_type
        self.width = TYPE_WIDTHS.get(clip_type) or width or WIDTHS[clip_type]

    def clone(self):
        return self

    def tokenize(self, text, **kwargs):
        return {"text": text}

    def encode_from_tokens_scheduled(self, tokens, unprojected=False, add_dict=None, show_pbar=True):
        g = torch.Generator().manual_seed(zlib.crc32(tokens["text"].encode()))
        extra = {"pooled_output": None}  # as ComfyUI's encoders hand it on where they have none (HunyuanVideo reads it)
        if self.clip_type == comfy.sd.CLIPType.LUMINA2:
            extra["attention_mask"] = torch.ones(1, TOKENS, dtype=torch.long)
        return [[torch.randn(1, TOKENS, self.width, generator=g), extra]]


def is_stand_in(path) -> bool:
    with safetensors.safe_open(path, framework="pt") as f:
        return MARKER in f.keys()


def stand_in_width(path) -> int:
    """The width the marker holds (0: the CLIP type's)."""
    with safetensors.safe_open(path, framework="pt") as f:
        return int(f.get_tensor(MARKER).flatten()[0])


_load_clip = comfy.sd.load_clip


def load_clip(ckpt_paths, embedding_directory=None, clip_type=comfy.sd.CLIPType.STABLE_DIFFUSION, model_options={},  # noqa: B006
              **newer):
    """``newer``: what later ComfyUI releases added to load_clip (0.33: ``disable_dynamic``), handed on as given."""
    if ckpt_paths and all(str(p).endswith(".safetensors") and is_stand_in(p) for p in ckpt_paths):
        return StandInCLIP(clip_type, stand_in_width(ckpt_paths[0]))
    return _load_clip(ckpt_paths, embedding_directory=embedding_directory, clip_type=clip_type,
                      model_options=model_options, **newer)


comfy.sd.load_clip = load_clip

_load_checkpoint = comfy.sd.load_checkpoint_guess_config


def load_checkpoint_guess_config(ckpt_path, *args, **kwargs):
    """An all-in-one checkpoint (CheckpointLoaderSimple) whose text encoder is the marker: the stand-in in its
    place. The ones the model tree builds are Lumina 2 family files (NetaYume Lumina's), whose encoder is
    Gemma 2 2B; the diffusion model and the VAE load from the file as usual."""
    out = _load_checkpoint(ckpt_path, *args, **kwargs)
    if out[1] is None and kwargs.get("output_clip", True) and str(ckpt_path).endswith(".safetensors") \
            and is_stand_in(ckpt_path):
        out = (out[0], StandInCLIP(comfy.sd.CLIPType.LUMINA2, stand_in_width(ckpt_path)), *out[2:])
    return out


comfy.sd.load_checkpoint_guess_config = load_checkpoint_guess_config


def save_stand_in(path, width: int = 0) -> None:
    """Write a stand-in text-encoder file (the marker alone, holding its width; 0: the CLIP type's)."""
    import safetensors.torch

    safetensors.torch.save_file({MARKER: torch.tensor([float(width)])}, str(path))
