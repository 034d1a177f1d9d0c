"""Model files for the loaders: safe names, safetensors only, architecture read from the header.

A wrong file should fail before gigabytes are read, with a message saying what the file is. The
header of a safetensors file has every key, shape and dtype, which is all ComfyUI's own
architecture detection looks at, so detection runs on meta tensors and reads no weights.
"""
from __future__ import annotations

import os
from pathlib import PurePath

import comfy.model_detection
import comfy.model_sampling
import folder_paths
import safetensors
import torch

SAFE_EXTENSIONS = (".safetensors", ".sft")
PICKLE_EXTENSIONS = (".ckpt", ".pt", ".pth", ".bin", ".pkl", ".pickle")

# Names users know, for ComfyUI's model-config classes.
ARCHITECTURE_NAMES = {
    "WAN21_T2V": "Wan 2.1/2.2 14B",
    "WAN22_T2V": "Wan 2.2 TI2V 5B",
    "WAN21_I2V": "Wan 2.1 I2V 14B (CLIP vision)",
    "WAN21_FunControl2V": "Wan 2.1 Fun Control",
    "WAN21_Vace": "Wan 2.1 VACE",
    "WAN21_Camera": "Wan 2.1 Fun Camera",
    "WAN22_Camera": "Wan 2.2 Fun Camera",
    "WAN22_S2V": "Wan 2.2 S2V",
    "WAN21_HuMo": "Wan HuMo",
    "WAN22_Animate": "Wan 2.2 Animate",
    "Lumina2": "Lumina 2",
}

SAFETENSORS_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool,
}


def architecture_name(model_config) -> str:
    name = type(model_config).__name__
    return ARCHITECTURE_NAMES.get(name, name)


def resolve(folder: str, name: str, input_name: str, also: tuple[str, ...] = ()) -> str:
    """The full path of ``name`` from ComfyUI's model folder(s); refuses escapes and pickles."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"{input_name}: choose a file from models/{folder}")
    parts = PurePath(name.replace("\\", "/")).parts
    if os.path.isabs(name) or ".." in parts:
        raise ValueError(f"{input_name} '{name}' is refused: give a file name inside models/{folder}, "
                         "not an absolute path or one with '..'")
    lower = name.lower()
    if lower.endswith(PICKLE_EXTENSIONS):
        raise ValueError(f"{input_name} '{name}' is a pickle checkpoint; it is refused and never unpickled. "
                         "Use a .safetensors file")
    if lower.endswith(".gguf"):
        raise ValueError(f"{input_name} '{name}' is a GGUF file: load it with your GGUF loader and connect it "
                         "to Wan A14B Experts")
    if not lower.endswith(SAFE_EXTENSIONS):
        raise ValueError(f"{input_name} '{name}' is not a .safetensors file")
    for candidate in (folder,) + also:
        if name in folder_paths.get_filename_list(candidate):
            return folder_paths.get_full_path_or_raise(candidate, name)
    places = " or ".join(f"models/{f}" for f in (folder,) + also)
    raise ValueError(f"{input_name} '{name}' was not found in {places}; put the file there and refresh")


def read_header(path: str, input_name: str) -> dict[str, torch.Tensor]:
    """Every tensor of the file as a meta tensor: keys, shapes and dtypes, no weights read."""
    if os.path.getsize(path) == 0:
        raise ValueError(f"{input_name}: {path} is empty (an interrupted download?)")
    tensors = {}
    try:
        with safetensors.safe_open(path, framework="pt") as f:
            for key in f.keys():
                view = f.get_slice(key)
                dtype = SAFETENSORS_DTYPES.get(view.get_dtype(), torch.float32)
                tensors[key] = torch.empty(view.get_shape(), dtype=dtype, device="meta")
    except Exception as exc:  # the safetensors reader raises its own error types; the user needs the file named
        raise ValueError(f"{input_name}: {path} is not a readable safetensors file ({exc}); "
                         "it may be truncated or corrupt") from exc
    return tensors


def detect_diffusion_model(path: str, input_name: str, header: dict[str, torch.Tensor] | None = None):
    """ComfyUI's model config for the file, detected as comfy.sd.load_diffusion_model would (from ``header``,
    read_header's answer, when the caller has read it already)."""
    state = read_header(path, input_name) if header is None else header
    prefix = comfy.model_detection.unet_prefix_from_state_dict(state)
    stripped = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    config = comfy.model_detection.model_config_from_unet(stripped or state, "")
    if config is None:
        raise ValueError(f"{input_name}: ComfyUI does not recognise the diffusion model in {path}")
    return config


WEIGHT_DTYPES = ("default", "fp8_e4m3fn", "fp8_e4m3fn_fast", "fp8_e5m2")


def unet_options(weight_dtype: str) -> dict:
    """ComfyUI's UNETLoader options for a weight_dtype choice."""
    if weight_dtype not in WEIGHT_DTYPES:
        raise ValueError(f"weight_dtype must be one of {', '.join(WEIGHT_DTYPES)}, got {weight_dtype!r}")
    return {
        "default": {},
        "fp8_e4m3fn": {"dtype": torch.float8_e4m3fn},
        "fp8_e4m3fn_fast": {"dtype": torch.float8_e4m3fn, "fp8_optimizations": True},
        "fp8_e5m2": {"dtype": torch.float8_e5m2},
    }[weight_dtype]


def load_unet(path: str, weight_dtype: str, input_name: str):
    """The path a user's file takes through UNETLoader."""
    import comfy.sd

    model = comfy.sd.load_diffusion_model(path, model_options=unet_options(weight_dtype))
    if model is None:
        raise ValueError(f"{input_name}: ComfyUI could not load the diffusion model in {path}")
    return model


def load_text_encoder(name: str, clip_type_name: str, input_name: str):
    """ComfyUI's CLIPLoader for ``name`` from models/text_encoders, as the given CLIPType."""
    import comfy.sd

    path = resolve("text_encoders", name, input_name)
    read_header(path, input_name)
    return comfy.sd.load_clip(ckpt_paths=[path], embedding_directory=folder_paths.get_folder_paths("embeddings"),
                              clip_type=getattr(comfy.sd.CLIPType, clip_type_name))


def load_vae(name: str, input_name: str):
    """ComfyUI's VAELoader for ``name`` from models/vae (safetensors only)."""
    import comfy.sd
    import comfy.utils

    path = resolve("vae", name, input_name)
    read_header(path, input_name)
    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(path, safe_load=True))
    vae.throw_exception_if_invalid()
    return vae


class _ShiftedFlow(comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.CONST):
    """Flow-matching sampling with a time shift, as ModelSamplingSD3 / ModelSamplingAuraFlow build it."""


def with_flow_shift(model, shift: float, multiplier: float):
    """A clone sampling sigma(t) = shift t / (1 + (shift - 1) t); multiplier 1000 (Wan) or 1 (Lumina 2)."""
    if not shift > 0:
        raise ValueError(f"shift must be above 0, got {shift}")
    sampling = _ShiftedFlow(model.model.model_config)
    sampling.set_parameters(shift=shift, multiplier=multiplier)
    patched = model.clone()
    patched.add_object_patch("model_sampling", sampling)
    return patched
