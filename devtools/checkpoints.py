"""Small checkpoints built with ComfyUI's own model classes, saved and loaded as users' files are.

No weights can be downloaded, so tests and benchmarks build their models: the real architecture
and key layout at a small width, random weights from a fixed seed, written as safetensors and
read back through ``comfy.sd.load_diffusion_model``, the path a user's file takes.
"""
from __future__ import annotations

from pathlib import Path

import torch

WAN_TEXT_DIM = 4096  # fixed by ComfyUI's WanModel (UMT5-XXL width); not read from the weights


def init_weights(module: torch.nn.Module, seed: int) -> None:
    """Deterministic small weights; norm scales at 1 so activations stay in range."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                std = 1.0 / max(p.shape[-1], 1) ** 0.5 if p.ndim > 1 else 0.02
                p.copy_(torch.randn(p.shape, generator=g) * std)


def seeded_state_dict(model: torch.nn.Module, seed: int, dtype=None) -> dict[str, torch.Tensor]:
    """``model``'s weights set by ``init_weights`` from ``seed``, as a state dict in ``dtype`` (None: as built)."""
    init_weights(model, seed)
    return {k: (v if dtype is None else v.to(dtype)).contiguous() for k, v in model.state_dict().items()}


def wan_state_dict(dim: int = 128, layers: int = 2, ffn_dim: int | None = None, in_dim: int = 16,
                   seed: int = 0, out_dim: int = 16) -> dict[str, torch.Tensor]:
    """A Wan 2.1/2.2 (t2v layout) state dict from ComfyUI's WanModel; heads = dim // 128 as ComfyUI detects.
    ``in_dim`` = ``out_dim`` = 48 is Wan 2.2 TI2V 5B's layout (its 48-channel VAE latent)."""
    import comfy.ldm.wan.model
    import comfy.ops

    if dim % 128:
        raise ValueError(f"Wan width must be a multiple of 128 (ComfyUI detects heads = dim // 128), got {dim}")
    model = comfy.ldm.wan.model.WanModel(
        model_type="t2v", dim=dim, ffn_dim=ffn_dim or 2 * dim, num_heads=dim // 128, num_layers=layers,
        in_dim=in_dim, out_dim=out_dim, text_dim=WAN_TEXT_DIM, operations=comfy.ops.disable_weight_init)
    return seeded_state_dict(model, seed)


def save_state_dict(path: Path, state_dict: dict[str, torch.Tensor]) -> Path:
    """Write as a user's model file: safetensors, parent folders made."""
    import safetensors.torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state_dict, str(path))
    return path


def save_wan(path: Path, **kwargs) -> Path:
    return save_state_dict(path, wan_state_dict(**kwargs))


def load_model(path: Path):
    """Load as ComfyUI's UNETLoader does (safetensors, architecture detected from the keys)."""
    import comfy.sd

    model = comfy.sd.load_diffusion_model(str(path))
    if model is None:
        raise ValueError(f"ComfyUI could not detect the architecture of {path}")
    return model


def wan_conditioning(seed: int, tokens: int = 8, batch: int = 1) -> list:
    """A CONDITIONING value as a Wan text encoder would hand it on (random embeddings)."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(batch, tokens, WAN_TEXT_DIM, generator=g), {}]]


LUMINA2_TEXT_DIM = 2304  # Gemma 2 2B hidden size, what Lumina 2's cap_embedder takes


def lumina2_state_dict(layers: int = 1, seed: int = 0, dtype=torch.bfloat16) -> dict[str, torch.Tensor]:
    """A Lumina 2 NextDiT state dict at the width ComfyUI's detection fixes (2304), ``layers`` deep.

    One layer (plus NextDiT's two noise- and two context-refiner layers) is ~0.6 GB in bf16.
    """
    import comfy.ldm.lumina.model
    import comfy.ops

    model = comfy.ldm.lumina.model.NextDiT(
        patch_size=2, in_channels=16, dim=2304, n_layers=layers, n_heads=24, n_kv_heads=8, qk_norm=True,
        cap_feat_dim=LUMINA2_TEXT_DIM, axes_dims=[32, 32, 32], axes_lens=[300, 512, 512],
        operations=comfy.ops.disable_weight_init)
    return seeded_state_dict(model, seed, dtype)


def save_lumina2(path: Path, **kwargs) -> Path:
    return save_state_dict(path, lumina2_state_dict(**kwargs))


Z_IMAGE_TEXT_DIM = 2560  # Qwen3 4B hidden size, what Z-Image's cap_embedder takes


def z_image_unet_config(dim: int = 3840, layers: int = 1) -> dict:
    """The NextDiT arguments ComfyUI 0.33's detection gives a Z-Image file (model_detection.py: width 3840, heads of
    128, its rope and modulation, the pad tokens), at ``dim`` wide and ``layers`` deep."""
    return dict(patch_size=2, in_channels=16, dim=dim, n_layers=layers, n_heads=dim // 128, n_kv_heads=dim // 128,
                qk_norm=True, cap_feat_dim=Z_IMAGE_TEXT_DIM, axes_dims=[32, 48, 48], axes_lens=[1536, 512, 512],
                rope_theta=256.0, ffn_dim_multiplier=8.0 / 3.0, z_image_modulation=True, time_scale=1000.0,
                pad_tokens_multiple=32)


def z_image_state_dict(layers: int = 1, seed: int = 0, dtype=torch.bfloat16,
                       dim: int = 3840) -> dict[str, torch.Tensor]:
    """A Z-Image NextDiT state dict as ComfyUI 0.33's detection reads Z-Image, ``layers`` deep. At the width detection
    fixes (3840), one layer (plus the four refiner layers) is ~1.8 GB in bf16."""
    import comfy.ldm.lumina.model
    import comfy.ops

    model = comfy.ldm.lumina.model.NextDiT(**z_image_unet_config(dim, layers), operations=comfy.ops.disable_weight_init)
    return seeded_state_dict(model, seed, dtype)


def narrow_z_image_model(dim: int = 256, layers: int = 1, seed: int = 0):
    """A Z-Image model at a width detection would not give it, made as ``comfy.sd.load_diffusion_model`` makes the
    detected one: core's ZImage supported-model class (its shift 3, its model class, its dtypes) on the narrower
    config, the weights loaded through the model's own loader, in a ModelPatcher. Every layer and rule of the
    architecture runs, at a fraction of the full width's time (0.5 s a call on 2 CPU cores at 3840)."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    config = comfy.supported_models.ZImage({"image_model": "lumina2", **z_image_unet_config(dim, layers)})
    config.set_inference_dtype(torch.float32, None)
    state = z_image_state_dict(layers, seed, dim=dim)
    model = config.get_model(state, "")
    model.load_model_weights(state, "")
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def save_z_image(path: Path, **kwargs) -> Path:
    return save_state_dict(path, z_image_state_dict(**kwargs))


def z_image_conditioning(seed: int, tokens: int = 8, batch: int = 1) -> list:
    """A CONDITIONING value as Z-Image's Qwen3 4B text encoder hands it on."""
    g = torch.Generator().manual_seed(seed)
    return [[torch.randn(batch, tokens, Z_IMAGE_TEXT_DIM, generator=g), {}]]


QWEN_IMAGE_TEXT_DIM = 3584  # Qwen2.5-VL 7B hidden size, what Qwen-Image's txt_in takes


def qwen_image_state_dict(layers: int = 1, seed: int = 0, dtype=torch.bfloat16) -> dict[str, torch.Tensor]:
    """A Qwen-Image MMDiT state dict from ComfyUI's class at the width its detection fixes (24 heads of 128),
    ``layers`` deep. One layer is ~0.8 GB in bf16."""
    import comfy.ldm.qwen_image.model
    import comfy.ops

    model = comfy.ldm.qwen_image.model.QwenImageTransformer2DModel(
        num_layers=layers, operations=comfy.ops.disable_weight_init)
    return seeded_state_dict(model, seed, dtype)


def save_qwen_image(path: Path, edit_2511: bool = False, **kwargs) -> Path:
    """``edit_2511``: with the key by which core's detection tells Qwen-Image-Edit 2511 (its reference method,
    index_timestep_zero)."""
    state = qwen_image_state_dict(**kwargs)
    if edit_2511:
        state["__index_timestep_zero__"] = torch.zeros(0)  # an empty buffer in the model, as in core's files
    return save_state_dict(path, state)


def lumina2_conditioning(seed: int, tokens: int = 8, batch: int = 1) -> list:
    """A CONDITIONING value as the Gemma 2 text encoder hands it on: embeddings and their attention mask."""
    g = torch.Generator().manual_seed(seed)
    mask = torch.ones(batch, tokens, dtype=torch.long)
    return [[torch.randn(batch, tokens, LUMINA2_TEXT_DIM, generator=g), {"attention_mask": mask}]]


def wan21_vae_state_dict(seed: int = 0, dtype=torch.float16) -> dict[str, torch.Tensor]:
    """The Wan 2.1 VAE (ComfyUI's WanVAE at the width its detection fixes, 127M parameters)."""
    import comfy.ldm.wan.vae

    model = comfy.ldm.wan.vae.WanVAE(dim=96, z_dim=16, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                     temperal_downsample=[False, True, True], dropout=0.0)
    return seeded_state_dict(model, seed, dtype)


def wan22_vae_state_dict(seed: int = 0, dtype=torch.float16) -> dict[str, torch.Tensor]:
    """The Wan 2.2 VAE (48 latent channels) at the configuration ComfyUI's detection fixes."""
    import comfy.ldm.wan.vae2_2

    model = comfy.ldm.wan.vae2_2.WanVAE(dim=160, z_dim=48, dim_mult=[1, 2, 4, 4], num_res_blocks=2, attn_scales=[],
                                        temperal_downsample=[False, True, True], dropout=0.0)
    return seeded_state_dict(model, seed, dtype)


def flux_vae_state_dict(seed: int = 0, dtype=torch.float16) -> dict[str, torch.Tensor]:
    """The Flux VAE layout Lumina 2 uses (16 latent channels; ComfyUI's Encoder/Decoder, 84M parameters)."""
    from comfy.ldm.modules.diffusionmodules.model import Decoder, Encoder

    config = {"double_z": True, "z_channels": 16, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
              "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0}
    parts = {"encoder": Encoder(**config), "decoder": Decoder(**config)}
    state = {}
    for prefix, module in parts.items():
        init_weights(module, seed)
        state.update({f"{prefix}.{k}": v.to(dtype).contiguous() for k, v in module.state_dict().items()})
    return state


def ideogram4_state_dict(layers: int = 1, seed: int = 0, dtype=torch.bfloat16) -> dict[str, torch.Tensor]:
    """An Ideogram 4 DiT state dict from ComfyUI's class at the width its detection fixes (18 heads of 256, text
    features 53,248 wide), ``layers`` deep; detection reads only the input channels and the layer count. One layer
    is ~1 GB in bf16 (the text projection alone 245M parameters)."""
    import comfy.ldm.ideogram4.model
    import comfy.ops
    import comfy.supported_models

    config = dict(comfy.supported_models.Ideogram4.unet_extra_config)
    model = comfy.ldm.ideogram4.model.Ideogram4Transformer2DModel(
        in_channels=128, num_layers=layers, **config, operations=comfy.ops.disable_weight_init)
    return seeded_state_dict(model, seed, dtype)


def save_ideogram4(path: Path, **kwargs) -> Path:
    return save_state_dict(path, ideogram4_state_dict(**kwargs))


def flux2_vae_state_dict(seed: int = 0, dtype=torch.float16) -> dict[str, torch.Tensor]:
    """The Flux.2 VAE (32 latent channels, batch-normalised 2x2 patches: the 128-channel latent Ideogram 4 and Flux.2
    sample) at the configuration ComfyUI's detection reads."""
    from comfy.ldm.models.autoencoder import AutoencoderKL

    config = {"double_z": True, "z_channels": 32, "resolution": 256, "in_channels": 3, "out_ch": 3, "ch": 128,
              "ch_mult": [1, 2, 4, 4], "num_res_blocks": 2, "attn_resolutions": [], "dropout": 0.0,
              "batch_norm_latent": True}
    return seeded_state_dict(AutoencoderKL(ddconfig=config, embed_dim=32), seed, dtype)


def hunyuan_video_15_vae_state_dict(seed: int = 0, dtype=torch.float16) -> dict[str, torch.Tensor]:
    """The HunyuanVideo 1.5 VAE (32 latent channels, 16x spatial and 4x temporal compression) at the configuration
    ComfyUI's detection fixes: 1.26B parameters, 2.5 GB in fp16."""
    from comfy.ldm.hunyuan_video.vae_refiner import Decoder, Encoder

    config = {"block_out_channels": [128, 256, 512, 1024, 1024], "in_channels": 3, "out_channels": 3,
              "num_res_blocks": 2, "ffactor_spatial": 16, "ffactor_temporal": 4, "downsample_match_channel": True,
              "upsample_match_channel": True, "z_channels": 32}
    state = {}
    for prefix, module in {"encoder": Encoder(**config), "decoder": Decoder(**config)}.items():
        init_weights(module, seed)
        state.update({f"{prefix}.{k}": v.to(dtype).contiguous() for k, v in module.state_dict().items()})
    return state
