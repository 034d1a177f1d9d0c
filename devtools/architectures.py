"""Every architecture ComfyUI's templates run with full CFG, as a small model built with core's own classes.

Core's detection fixes most of these models' widths (Z-Image 3840, Ideogram 4 4608, Flux.2 48 heads, ...), so a
narrow model cannot come from a file: each is made as ``comfy.sd.load_diffusion_model`` makes a detected one, from
core's supported-model class (its model class, latent format, sampling settings) on a narrower configuration of
the same keys detection writes, weights seeded in place, in a ModelPatcher. Every layer kind of the architecture
runs, at a fraction of its width. ``conditioning`` is what each model's text encoder (and the template's other
conditioning nodes) hand the sampler: the text width the model takes, pooled outputs, reference latents.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from devtools.checkpoints import init_weights, z_image_unet_config
from devtools.model_tree import knows, knows_qwen_image_edit_2511

TOKENS = 8


@dataclass(frozen=True)
class Architecture:
    name: str  # as users know it
    supported_model: str  # core's class in comfy.supported_models
    config: dict  # the keys detection writes, at a small width
    latent: tuple  # one sample's latent shape (the template's empty latent, small)
    text_width: int  # the text encoder's width the model takes
    template: str  # core's template the README's table reads steps and cfg from (comfyui-workflow-templates)
    steps: int  # its sampler's steps
    cfg: float  # its guider's cfg (a two-model guider's: the first steps')
    # Conditioning beyond the text embeddings: name -> one sample's shape (None: the key, holding None).
    extras: dict = field(default_factory=dict)
    audio_latent: tuple | None = None  # an audio-video model's audio stream (one sample's shape)
    # Keys core's detection added after 0.3.64 (measured there): left out on hosts before 0.4.
    later_keys: tuple = ()
    # What the architecture needs beyond its supported model, where that alone does not say it: (whether the host
    # has it, what it is).
    needs: tuple | None = None

    def missing(self) -> str | None:
        """Why the running host cannot build it (None: it can)."""
        if not knows(self.supported_model):
            return f"this ComfyUI has no {self.name} (core's supported model {self.supported_model})"
        if self.needs is not None and not self.needs[0]():
            return f"this ComfyUI has no {self.needs[1]} (core added it after 0.3.64)"
        return None

    def host_config(self) -> dict:
        """The configuration as the running host's detection writes it."""
        if older_core():
            return {k: v for k, v in self.config.items() if k not in self.later_keys}
        return dict(self.config)


def older_core() -> bool:
    """Whether the host is a 0.3 release (0.3.64, the oldest supported)."""
    from pathlib import Path

    import comfy.samplers

    from devtools.host import host_version

    return host_version(Path(comfy.samplers.__file__).parents[1]).startswith("0.3.")


def wan_config(dim: int, in_dim: int = 16, out_dim: int = 16) -> dict:
    return {"image_model": "wan2.1", "model_type": "t2v", "dim": dim, "ffn_dim": 2 * dim, "num_heads": dim // 128,
            "num_layers": 1, "in_dim": in_dim, "out_dim": out_dim, "patch_size": (1, 2, 2), "freq_dim": 256,
            "window_size": (-1, -1), "qk_norm": True, "cross_attn_norm": True, "eps": 1e-6}


def flux_config(context: int, **over) -> dict:
    """Flux's keys as detection writes them (heads of 128 over axes 16/56/56), 256 wide, one block of each kind."""
    return {"image_model": "flux", "in_channels": 16, "out_channels": 16, "vec_in_dim": None,
            "context_in_dim": context, "hidden_size": 256, "mlp_ratio": 4.0, "num_heads": 2, "depth": 1,
            "depth_single_blocks": 1, "axes_dim": [16, 56, 56], "theta": 10000, "patch_size": 2, "qkv_bias": True,
            "guidance_embed": False, "txt_ids_dims": [], **over}


def chroma_config(**over) -> dict:
    flux = flux_config(4096, in_channels=64, out_channels=64)
    for key in ("guidance_embed", "image_model"):
        flux.pop(key)
    return {"image_model": "chroma", **flux, "in_dim": 64, "out_dim": 256, "hidden_dim": 128, "n_layers": 2, **over}


CHROMA_LATER = ("vec_in_dim", "txt_ids_dims", "use_x0", "use_sequential_txt_ids")
# HunyuanVideo 1.5's keys as detection writes them (its 32-channel latent, the image and mask channels beside it,
# byT5 glyph text and SigLIP image tokens), 256 wide, one double block.
HUNYUAN_VIDEO_15 = {"image_model": "hunyuan_video", "in_channels": 65, "out_channels": 32, "patch_size": [1, 1, 1],
                    "vec_in_dim": None, "axes_dim": [16, 56, 56], "meanflow": False, "context_in_dim": 3584,
                    "hidden_size": 256, "mlp_ratio": 4.0, "num_heads": 2, "depth": 1, "depth_single_blocks": 0,
                    "theta": 256, "qkv_bias": True, "byt5": True, "guidance_embed": False,
                    "use_cond_type_embedding": True, "vision_in_dim": 1152, "meanflow_sum": True}
# Its text encoder hands on the byT5 embeddings of quoted text beside Qwen2.5-VL's.
HUNYUAN_15_TEXT = {"conditioning_byt5small": (4, 1472)}

ARCHITECTURES = [
    Architecture("Wan 2.1 / Wan 2.2 A14B", "WAN21_T2V", wan_config(128), (16, 1, 8, 8), 4096,
                 "video_wan2_2_14B_t2v", 4, 1.0),
    Architecture("Wan 2.2 TI2V 5B", "WAN22_T2V", wan_config(128, 48, 48), (48, 1, 8, 8), 4096,
                 "video_wan2_2_5B_ti2v", 20, 5.0),
    Architecture("Lumina-Image-2.0 / NetaYume Lumina", "Lumina2",
                 {"image_model": "lumina2", "patch_size": 2, "in_channels": 16, "dim": 192, "cap_feat_dim": 2304,
                  "n_layers": 1, "qk_norm": True, "n_heads": 2, "n_kv_heads": 1, "axes_dims": [32, 32, 32],
                  "axes_lens": [300, 512, 512], "rope_theta": 10000.0, "ffn_dim_multiplier": 4.0},
                 (16, 8, 8), 2304, "image_netayume_lumina_t2i", 30, 4.0, extras={"attention_mask": (TOKENS,)},
                 later_keys=("rope_theta",)),
    Architecture("Z-Image", "ZImage", {"image_model": "lumina2", **z_image_unet_config(256, 1)}, (16, 8, 8), 2560,
                 "image_z_image", 25, 4.0),
    Architecture("Qwen-Image", "QwenImage",
                 {"image_model": "qwen_image", "in_channels": 64, "num_layers": 1, "num_attention_heads": 2},
                 (16, 8, 8), 3584, "image_qwen_Image_2512", 50, 4.0),
    Architecture("Qwen-Image-Edit 2511", "QwenImage",
                 {"image_model": "qwen_image", "in_channels": 64, "num_layers": 1, "num_attention_heads": 2,
                  "default_ref_method": "index_timestep_zero"},
                 (16, 8, 8), 3584, "image_qwen_image_edit_2511", 40, 4.0, extras={"reference_latents": (16, 8, 8)},
                 needs=(knows_qwen_image_edit_2511, "Qwen-Image-Edit 2511's reference method (index_timestep_zero)")),
    Architecture("HunyuanVideo 1.5", "HunyuanVideo15", HUNYUAN_VIDEO_15,
                 (32, 1, 8, 8), 3584, "video_hunyuan_video_1.5_720p_t2v", 20, 6.0, extras=HUNYUAN_15_TEXT),
    Architecture("HunyuanVideo 1.5 (image to video)", "HunyuanVideo15", HUNYUAN_VIDEO_15, (32, 1, 8, 8), 3584,
                 "video_hunyuan_video_1.5_720p_i2v", 20, 6.0,
                 extras={**HUNYUAN_15_TEXT, "concat_latent_image": (32, 1, 8, 8), "clip_vision_output": (16, 1152)}),
    Architecture("Kandinsky 5", "Kandinsky5",
                 {"image_model": "kandinsky5", "model_dim": 256, "ff_dim": 512, "time_dim": 64,
                  "visual_embed_dim": 132, "num_text_blocks": 1, "num_visual_blocks": 1, "axes_dims": (16, 24, 24)},
                 (16, 1, 8, 8), 3584, "video_kandinsky5_t2v", 50, 5.0, extras={"pooled_output": (768,)}),
    Architecture("Chroma", "Chroma", chroma_config(), (16, 8, 8), 4096, "image_chroma_text_to_image", 26, 3.5,
                 later_keys=CHROMA_LATER),
    Architecture("Chroma1-Radiance", "ChromaRadiance",
                 chroma_config(image_model="chroma_radiance", in_channels=3, out_channels=3, patch_size=16,
                               nerf_hidden_size=32, nerf_mlp_ratio=4, nerf_depth=1, nerf_max_freqs=8,
                               nerf_tile_size=512, nerf_final_head_type="conv", nerf_embedder_dtype=torch.float32,
                               use_x0=False, use_sequential_txt_ids=False),
                 (3, 32, 32), 4096, "image_chroma1_radiance_text_to_image", 30, 3.5, later_keys=CHROMA_LATER),
    Architecture("Flux.2 Klein (base)", "Flux2",
                 flux_config(7680, image_model="flux2", in_channels=128, out_channels=128, axes_dim=[32, 32, 32, 32],
                             mlp_ratio=3.0, theta=2000, global_modulation=True, mlp_silu_act=True, qkv_bias=False,
                             ops_bias=False, default_ref_method="index", ref_index_scale=10.0, txt_ids_dims=[3],
                             patch_size=1),
                 (128, 4, 4), 7680, "image_flux2_klein_text_to_image", 20, 5.0),
    Architecture("LongCat-Image", "LongCatImage", flux_config(3584, txt_ids_dims=[1, 2]), (16, 8, 8), 3584,
                 "image_longcat_text_to_image", 20, 4.0),
    Architecture("Lens", "Lens",
                 {"image_model": "lens", "in_channels": 128, "out_channels": 32, "num_layers": 1,
                  "num_attention_heads": 2, "enc_hidden_dim": 2880, "multi_layer_encoder_feature": False,
                  "selected_layer_index": (0,)},
                 (128, 4, 4), 2880, "image_lens_t2i", 20, 5.0),
    Architecture("Anima", "Anima",
                 {"image_model": "anima", "max_img_h": 240, "max_img_w": 240, "max_frames": 128, "in_channels": 16,
                  "out_channels": 16, "patch_spatial": 2, "patch_temporal": 1, "model_channels": 256,
                  "concat_padding_mask": True, "crossattn_emb_channels": 1024, "pos_emb_cls": "rope3d",
                  "pos_emb_learnable": True, "pos_emb_interpolation": "crop", "min_fps": 1, "max_fps": 30,
                  "use_adaln_lora": True, "adaln_lora_dim": 64, "num_blocks": 1, "num_heads": 2,
                  "extra_per_block_abs_pos_emb": False, "rope_h_extrapolation_ratio": 4.0,
                  "rope_w_extrapolation_ratio": 4.0, "rope_t_extrapolation_ratio": 1.0},
                 (16, 1, 8, 8), 1024, "image_anima_base_v1", 30, 4.0),
    Architecture("ERNIE-Image", "ErnieImage",
                 {"image_model": "ernie", "hidden_size": 256, "num_attention_heads": 2, "num_layers": 1,
                  "ffn_hidden_size": 512, "text_in_dim": 3072},
                 (128, 4, 4), 3072, "image_ernie_image", 20, 4.0),
    Architecture("LTX-2", "LTXAV",
                 {"image_model": "ltxav", "num_layers": 1, "num_attention_heads": 2, "attention_head_dim": 64,
                  "cross_attention_dim": 128, "audio_num_attention_heads": 2, "audio_attention_head_dim": 32,
                  "audio_cross_attention_dim": 64, "use_keyframes_abs_pos_embedding": False,
                  # The text connectors' width is the text encoder's (Gemma 3 12B, 3840): narrowed with it, as the
                  # file's own config metadata sets them.
                  "caption_channels": 128, "connector_attention_head_dim": 64, "connector_num_attention_heads": 2,
                  "connector_num_layers": 1},
                 (128, 1, 2, 2), 128, "video_ltx2_t2v", 20, 4.0, audio_latent=(8, 4, 16)),
    Architecture("Ideogram 4", "Ideogram4",
                 {"image_model": "ideogram4", "in_channels": 128, "num_layers": 1, "num_attention_heads": 2,
                  "intermediate_size": 1024},
                 (128, 4, 4), 53248, "image_ideogram4_t2i_int8", 20, 7.0),
]
BY_NAME = {a.name: a for a in ARCHITECTURES}


def build(arch: Architecture, seed: int = 0):
    """``arch``'s model as the loader makes a detected one, narrower: a ModelPatcher over float32 weights."""
    import comfy.model_management
    import comfy.model_patcher
    import comfy.supported_models

    config_class = getattr(comfy.supported_models, arch.supported_model)
    unet_config = arch.host_config()
    config = config_class(dict(unet_config))
    # The class's fixed widths (unet_extra_config) overwrite the keys it is given; the narrow ones win here.
    config.unet_config.update(unet_config)
    config.set_inference_dtype(torch.float32, None)
    model = config.get_model({}, "")
    init_weights(model.diffusion_model, seed)
    return comfy.model_patcher.ModelPatcher(model, load_device=comfy.model_management.get_torch_device(),
                                            offload_device=comfy.model_management.unet_offload_device())


def conditioning(arch: Architecture, seed: int, batch: int = 1) -> list:
    """A CONDITIONING value as ``arch``'s text encoder (and its template's conditioning nodes) hand it on."""
    g = torch.Generator().manual_seed(seed)
    extras = {}
    # CLIPTextEncode always hands on the key; most encoders here have no pooled output.
    for name, shape in {"pooled_output": None, **arch.extras}.items():
        if shape is None:
            extras[name] = None
        elif name == "attention_mask":
            extras[name] = torch.ones(batch, *shape, dtype=torch.long)
        elif name == "reference_latents":
            extras[name] = [torch.randn(batch, *shape, generator=g)]
        elif name == "clip_vision_output":
            import comfy.clip_vision

            extras[name] = comfy.clip_vision.Output()
            extras[name]["last_hidden_state"] = torch.randn(batch, *shape, generator=g)
        else:
            extras[name] = torch.randn(batch, *shape, generator=g)
    return [[torch.randn(batch, TOKENS, arch.text_width, generator=g), extras]]


def empty_latent(arch: Architecture, batch: int = 1) -> dict:
    """The template's empty latent, small; an audio-video model's joins both streams as LTXVConcatAVLatent does."""
    video = torch.zeros(batch, *arch.latent)
    if arch.audio_latent is None:
        return {"samples": video}
    import comfy.nested_tensor

    return {"samples": comfy.nested_tensor.NestedTensor((video, torch.zeros(batch, *arch.audio_latent)))}


def state_dict(arch: Architecture, seed: int = 0, dtype=torch.bfloat16) -> dict[str, torch.Tensor]:
    """``arch``'s small model as a user's file holds it (for the architectures whose detection reads the width from
    the weights: the file loads back at this width)."""
    network = build(arch, seed).model.diffusion_model
    return {k: v.to(dtype).contiguous() for k, v in network.state_dict().items()}
