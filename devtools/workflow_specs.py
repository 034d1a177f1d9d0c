"""The example workflows, as graphs: nodes with their widget values, and links.

devtools/build_workflows.py builds each one in ComfyUI's real frontend and saves what the frontend
serialises, so the files are exactly what users' ComfyUI writes. Settings follow the models'
published defaults (see README); file names are those users have after following the README.
"""
from devtools.model_tree import (BYT5_GLYPH, FLUX2_KLEIN_UNET, FLUX2_VAE, FLUX_VAE, GEMMA, HUNYUAN_VIDEO_15_UNET,
                                 HUNYUAN_VIDEO_15_VAE, IDEOGRAM4_UNCONDITIONAL, IDEOGRAM4_UNET,
                                 LUMINA_UNET, NETAYUME_CHECKPOINT, QWEN3_4B, QWEN3VL_8B, QWEN_IMAGE_EDIT_UNET,
                                 QWEN_IMAGE_UNET, QWEN_IMAGE_VAE, QWEN_VL_7B, START_IMAGE, UMT5, WAN22_5B_UNET,
                                 WAN22_VAE, WAN_EXPERTS, WAN_VAE, Z_IMAGE_UNET, knows, knows_qwen_image_edit_2511)
from sampling import recipes

LUMINA_PROMPT = ("A red fox in fresh snow at dawn, soft golden light, shallow depth of field, "
                 "highly detailed fur, photograph")
LUMINA_NEGATIVE = "blurry, low quality, distorted, watermark"
# NetaYume Lumina's prompts open with its system prompt, as core's template writes them (its prompt book: keep the
# prefix as it is up to the <Prompt Start> tag).
NETAYUME_PROMPT = ("You are an assistant designed to generate high quality anime images based on textual prompts. "
                   "<Prompt Start> A girl with a yellow umbrella on a rainy shopping street at night, neon signs "
                   "reflected in the puddles, painterly, soft lighting")
NETAYUME_NEGATIVE = ("You are an assistant designed to generate low-quality images based on textual prompts "
                     "<Prompt Start> blurry, worst quality, low quality, jpeg artifacts, signature, watermark, "
                     "username, error, deformed hands, bad anatomy, extra limbs")
Z_IMAGE_PROMPT = ("A weathered fisherman mending a net on a wooden pier at sunrise, mist over the harbour, "
                  "natural light, 35mm photograph")
Z_IMAGE_NEGATIVE = "blurry, low quality, oversaturated, deformed hands, watermark, text"
QWEN_IMAGE_PROMPT = ("A hand-painted wooden sign reading \"OPEN\" hanging in the window of a small bakery, warm "
                     "morning light, photograph")
QWEN_IMAGE_NEGATIVE = "blurry, low quality, distorted text, watermark"
FLUX2_KLEIN_PROMPT = ("A hedgehog wearing a tiny party hat surrounded by confetti, early digital camera style, "
                      "flash photography, candid moment")
IDEOGRAM4_PROMPT = ("A vintage travel poster of a lighthouse on a rocky coast at dusk, bold flat colours, the words "
                    "\"NORTH CAPE\" in large art deco letters")
WAN_PROMPT = ("A small paper boat drifts down a rain-soaked city street at dusk, neon reflections ripple on "
              "the water, the camera follows it slowly at ground level, cinematic lighting")
# Wan 2.2's official default negative prompt (generate.py / the ComfyUI templates).
WAN_NEGATIVE = ("色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，"
                "最差质量，低质量，JPEG压缩残留，丑陋的，残缺的，多余的手指，画得不好的手部，"
                "画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，"
                "静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走")
I2V_PROMPT = "The scene slowly comes alive: light shifts across it as the camera pushes in gently"

SEED = 42
COL = 360  # horizontal spacing of node columns
STRIP_WIDTH = 330  # the truncation nodes are drawn wider than their widgets need, so their step strip reads


def node(key, type_, column, row, node_width=None, **widgets):
    """A node at a grid place, with its widget values; ``node_width`` draws it wider than its widgets need."""
    spec = {"key": key, "type": type_, "pos": [40 + column * COL, 40 + row], "widgets": widgets}
    if node_width is not None:
        spec["node_width"] = node_width
    return spec


def custom_sampler_tail(first_column, latent, sampler_name, steps, model_key, vae=("loader", 2)):
    """RandomNoise + KSamplerSelect + BasicScheduler + SamplerCustomAdvanced, fed by `guider`; ``vae``: the
    (node, output) the decoder takes its VAE from."""
    c = first_column
    nodes = [
        node("noise", "RandomNoise", c, 0, noise_seed=SEED, control_after_generate="fixed"),
        node("sampler", "KSamplerSelect", c, 160, sampler_name=sampler_name),
        node("sigmas", "BasicScheduler", c, 280, scheduler="simple", steps=steps, denoise=1.0),
        node("sample", "SamplerCustomAdvanced", c + 1, 0),
        node("decode", "VAEDecode", c + 1, 260),
    ]
    links = [
        ("noise", 0, "sample", "noise"), ("guider", 0, "sample", "guider"), ("sampler", 0, "sample", "sampler"),
        ("sigmas", 0, "sample", "sigmas"), (latent[0], latent[1], "sample", "latent_image"),
        (model_key, 0, "sigmas", "model"), ("sample", 0, "decode", "samples"), (vae[0], vae[1], "decode", "vae"),
    ]
    return nodes, links


def lumina_front():
    return [
        node("loader", "TruncatedCFGLumina2Loader", 0, 0, unet_name=LUMINA_UNET, clip_name=GEMMA, vae_name=FLUX_VAE,
             shift=6.0, weight_dtype="default"),
        node("positive", "CLIPTextEncodeLumina2", 1, 0, system_prompt="superior", user_prompt=LUMINA_PROMPT),
        node("negative", "CLIPTextEncodeLumina2", 1, 300, system_prompt="superior", user_prompt=LUMINA_NEGATIVE),
        node("renorm", "TruncatedCFGRenorm", 0, 260, renorm_cfg=1.0, mode="lumina"),
        node("latent", "EmptySD3LatentImage", 0, 420, width=1024, height=1024, batch_size=1),
    ], [("loader", 1, "positive", "clip"), ("loader", 1, "negative", "clip"), ("loader", 0, "renorm", "model")]


def lumina2_t2i():
    nodes, links = lumina_front()
    # Lumina's README: guide the first quarter of 50 steps (cfg_trunc_ratio 0.25), renorm on.
    nodes.append(node("guider", "TruncatedCFGGuider", 2, 0, node_width=STRIP_WIDTH, cfg=4.0, cfg_truncate_steps=0,
                      cfg_trunc_ratio=0.25, keep="cond"))
    links += [("renorm", 0, "guider", "model"), ("positive", 0, "guider", "positive"),
              ("negative", 0, "guider", "negative")]
    tail, tail_links = custom_sampler_tail(3, ("latent", 0), "euler", 50, "loader")
    nodes += tail + [node("save", "SaveImage", 5, 0, filename_prefix="lumina2_truncated_cfg")]
    return nodes, links + tail_links + [("decode", 0, "save", "images")]


def ksampler_patch_tail(column, model_key, steps, sampler_name, prefix, vae=("loader", 2), cfg=4.0, policy=None):
    """The model patch on ``model_key``'s model (``policy``: its inputs; default Lumina 2's recipe, guidance on the
    first quarter of the steps), KSampler at ``cfg`` on the `positive`, `negative` and `latent` nodes, then decode
    and save."""
    policy = {"cfg_truncate_steps": 0, **(policy or {"cfg_trunc_ratio": 0.25, "keep": "cond"})}
    nodes = [
        node("patch", "TruncatedCFGModelPatch", column, 0, node_width=STRIP_WIDTH, **policy),
        node("ksampler", "KSampler", column + 1, 0, seed=SEED, control_after_generate="fixed", steps=steps, cfg=cfg,
             sampler_name=sampler_name, scheduler="simple", denoise=1.0),
        node("decode", "VAEDecode", column + 2, 0),
        node("save", "SaveImage", column + 3, 0, filename_prefix=prefix),
    ]
    links = [(model_key, 0, "patch", "model"), ("patch", 0, "ksampler", "model"),
             ("positive", 0, "ksampler", "positive"), ("negative", 0, "ksampler", "negative"),
             ("latent", 0, "ksampler", "latent_image"), ("ksampler", 0, "decode", "samples"),
             (vae[0], vae[1], "decode", "vae"), ("decode", 0, "save", "images")]
    return nodes, links


def lumina2_t2i_ksampler():
    nodes, links = lumina_front()
    tail, tail_links = ksampler_patch_tail(2, "renorm", 50, "euler", "lumina2_truncated_cfg_ksampler")
    return nodes + tail, links + tail_links


def netayume_t2i():
    """Core's NetaYume Lumina template (its all-in-one checkpoint, AuraFlow shift 4, 1024², 30 res_multistep
    steps, KSampler at cfg 4) with Lumina 2's recipe in place: CFG Renorm 1.0 and the model patch guiding the
    first quarter of the steps (NetaYume is a Lumina-Image-2.0 fine-tune; nobody here measured its own best)."""
    nodes = [
        node("loader", "CheckpointLoaderSimple", 0, 0, ckpt_name=NETAYUME_CHECKPOINT),
        node("shift", "ModelSamplingAuraFlow", 0, 160, shift=4.0),
        node("renorm", "TruncatedCFGRenorm", 0, 280, renorm_cfg=1.0, mode="lumina"),
        node("positive", "CLIPTextEncode", 1, 0, text=NETAYUME_PROMPT),
        node("negative", "CLIPTextEncode", 1, 300, text=NETAYUME_NEGATIVE),
        node("latent", "EmptySD3LatentImage", 0, 440, width=1024, height=1024, batch_size=1),
    ]
    links = [("loader", 1, "positive", "clip"), ("loader", 1, "negative", "clip"), ("loader", 0, "shift", "model"),
             ("shift", 0, "renorm", "model")]
    tail, tail_links = ksampler_patch_tail(2, "renorm", 30, "res_multistep", "netayume_lumina_truncated_cfg")
    return nodes + tail, links + tail_links


# Z-Image's official loop with its own knobs, as core's Z-Image template runs it (25 res_multistep steps, g = 3,
# i.e. cfg 4). c 0.5 and k 1 are the pack's picks, not Z-Image's defaults (cfg_truncation 1.0, off;
# cfg_normalization False): normalisation is Z-Image's advice for realism, c 0.5 guides the noisier half of the
# schedule. sampling/recipes.py maps both, and z_image_cfg_truncation decides the boundary step as Z-Image does.
Z_IMAGE_RECIPE = recipes.z_image(3.0, cfg_truncation=0.5, cfg_normalization=1.0)


def recipe_guider(recipe, model_key, guider=None, renorm_place=(0, 260)):
    """The Truncated CFG Guider at ``recipe``'s settings (``guider``: inputs over them) on ``model_key``'s model,
    behind CFG Renorm where the recipe rescales, fed by the `positive` and `negative` nodes."""
    nodes = [node("guider", "TruncatedCFGGuider", 2, 0, node_width=STRIP_WIDTH, cfg=recipe.cfg,
                  **{"cfg_truncate_steps": 0, "cfg_trunc_ratio": 1.0, "keep": "cond", **recipe.truncation,
                     **(guider or {})})]
    links = [("positive", 0, "guider", "positive"), ("negative", 0, "guider", "negative")]
    if recipe.renorm:
        nodes.append(node("renorm", "TruncatedCFGRenorm", *renorm_place, renorm_cfg=recipe.renorm_cfg,
                          mode=recipe.renorm_mode))
        links += [(model_key, 0, "renorm", "model"), ("renorm", 0, "guider", "model")]
    else:
        links.append((model_key, 0, "guider", "model"))
    return nodes, links


def z_image_t2i(recipe=Z_IMAGE_RECIPE, guider=None, prefix="z_image_truncated_cfg"):
    """``guider``: inputs over the recipe's truncation (the reuse workflow's)."""
    nodes = [
        node("loader", "TruncatedCFGLumina2Loader", 0, 0, unet_name=Z_IMAGE_UNET, clip_name=QWEN3_4B,
             vae_name=FLUX_VAE, shift=0.0, weight_dtype="default"),
        node("positive", "CLIPTextEncode", 1, 0, text=Z_IMAGE_PROMPT),
        node("negative", "CLIPTextEncode", 1, 300, text=Z_IMAGE_NEGATIVE),
        node("latent", "EmptySD3LatentImage", 0, 420, width=1024, height=1024, batch_size=1),
    ]
    links = [("loader", 1, "positive", "clip"), ("loader", 1, "negative", "clip")]
    guided, guided_links = recipe_guider(recipe, "loader", guider)
    nodes, links = nodes + guided, links + guided_links
    tail, tail_links = custom_sampler_tail(3, ("latent", 0), "res_multistep", 25, "loader")
    nodes += tail + [node("save", "SaveImage", 5, 0, filename_prefix=prefix)]
    return nodes, links + tail_links + [("decode", 0, "save", "images")]


def z_image_t2i_reuse():
    # The pack's own recommendation on core's template (cfg 4, no normalisation, 25 steps): full CFG on every 4th
    # step, the guidance reused (extrapolated) between. At 20 euler steps every 8th left full CFG's picture on the
    # shapes harness (drift 0.0123) where every 4th stayed at it (docs/quality_shapes.md).
    return z_image_t2i(recipes.z_image(3.0), dict(keep="reuse_extrapolated", cfg_every=4), "z_image_reuse_cfg")


def core_front(unet, clip, vae, shift, prompts):
    """Core's loaders as its templates wire them: UNETLoader, CLIPLoader (``clip``: file, type), VAELoader, a
    shift node (``shift``: its type, value; None: none) on the model, and the two prompts (``prompts``: positive,
    negative)."""
    nodes = [
        node("loader", "UNETLoader", 0, 0, unet_name=unet, weight_dtype="default"),
        node("clip", "CLIPLoader", 0, 140, clip_name=clip[0], type=clip[1], device="default"),
        node("vae", "VAELoader", 0, 280, vae_name=vae),
        node("positive", "CLIPTextEncode", 1, 0, text=prompts[0]),
        node("negative", "CLIPTextEncode", 1, 300, text=prompts[1]),
    ]
    links = [("clip", 0, "positive", "clip"), ("clip", 0, "negative", "clip")]
    if shift is None:  # the model's own scheduler shifts (Flux.2's)
        return nodes, links
    return nodes + [node("shift", shift[0], 1, 560, shift=shift[1])], links + [("loader", 0, "shift", "model")]


QWEN_IMAGE_RECIPE = recipes.qwen_image(4.0)  # core's template's cfg, with QwenImagePipeline's rescale


def qwen_image_t2i(recipe=QWEN_IMAGE_RECIPE, guider=None, prefix="qwen_image_rescale_cfg"):
    """Core's Qwen-Image 2512 template (its loaders, AuraFlow shift 3.1, 50 euler steps, cfg 4) with the pack's
    guider; a recipe with a rescale puts CFG Renorm before it. ``guider``: inputs over the recipe's."""
    nodes, links = core_front(QWEN_IMAGE_UNET, (QWEN_VL_7B, "qwen_image"), QWEN_IMAGE_VAE,
                              ("ModelSamplingAuraFlow", 3.1), (QWEN_IMAGE_PROMPT, QWEN_IMAGE_NEGATIVE))
    nodes.append(node("latent", "EmptySD3LatentImage", 0, 420, width=1328, height=1328, batch_size=1))
    guided, guided_links = recipe_guider(recipe, "shift", guider, renorm_place=(1, 700))
    nodes, links = nodes + guided, links + guided_links
    tail, tail_links = custom_sampler_tail(3, ("latent", 0), "euler", 50, "shift", vae=("vae", 0))
    nodes += tail + [node("save", "SaveImage", 5, 0, filename_prefix=prefix)]
    return nodes, links + tail_links + [("decode", 0, "save", "images")]


def qwen_image_t2i_reuse():
    # Core's template as it runs (plain CFG, no rescale) with the pack's recommendation: full CFG on every 8th
    # step, the guidance reused (extrapolated) between.
    return qwen_image_t2i(recipes.Settings(4.0), dict(keep="reuse_extrapolated", cfg_every=8), "qwen_image_reuse_cfg")


def wan_front(task):
    return [
        node("loader", "TruncatedCFGWanA14BLoader", 0, 0, high_noise_unet=WAN_EXPERTS[(task, "high")],
             low_noise_unet=WAN_EXPERTS[(task, "low")], clip_name=UMT5, vae_name=WAN_VAE, task=task, shift=0.0,
             boundary=0.0, weight_dtype="default"),
        node("positive", "CLIPTextEncode", 1, 0, text=WAN_PROMPT if task == "t2v" else I2V_PROMPT),
        node("negative", "CLIPTextEncode", 1, 300, text=WAN_NEGATIVE),
    ], [("loader", 1, "positive", "clip"), ("loader", 1, "negative", "clip")]


def video_tail(column, prefix, fps=16.0):
    return [node("video", "CreateVideo", column, 0, fps=fps),
            node("save", "SaveVideo", column, 160, filename_prefix=prefix, format="auto", codec="auto")], \
        [("decode", 0, "video", "images"), ("video", 0, "save", "video")]


def wan22_t2v(guider=None, prefix="video/wan22_t2v_truncated_cfg", cache=None):
    """``cache``: the widgets of a core LazyCache node between the loader and the guider (None: no cache)."""
    nodes, links = wan_front("t2v")
    # Wan 2.2 T2V official: 40 UniPC steps, cfg 4.0 high / 3.0 low; the Wan write-up's last 5 truncated.
    guider = guider or dict(cfg_truncate_steps=5, cfg_trunc_ratio=1.0, keep="cond")
    nodes += [
        node("latent", "EmptyHunyuanLatentVideo", 0, 420, width=832, height=480, length=81, batch_size=1),
        node("guider", "TruncatedCFGGuider", 2, 0, node_width=STRIP_WIDTH, cfg=4.0, cfg_low_noise=3.0, **guider),
    ]
    model = "loader"
    if cache is not None:
        nodes.append(node("cache", "LazyCache", 1, 560, **cache))
        links.append(("loader", 0, "cache", "model"))
        model = "cache"
    links += [(model, 0, "guider", "model"), ("positive", 0, "guider", "positive"),
              ("negative", 0, "guider", "negative")]
    tail, tail_links = custom_sampler_tail(3, ("latent", 0), "uni_pc", 40, "loader")
    video, video_links = video_tail(5, prefix)
    return nodes + tail + video, links + tail_links + video_links


def wan22_t2v_reuse():
    # The README's "fastest at full-CFG quality": full CFG on every 8th step, the guidance reused
    # (extrapolated) between; the first step after the expert switch runs full CFG.
    return wan22_t2v(dict(cfg_truncate_steps=0, cfg_trunc_ratio=1.0, keep="reuse_extrapolated", cfg_every=8),
                     "video/wan22_t2v_reuse_cfg")


def wan22_t2v_reuse_cache():
    # The README's recommendation with a step cache: the reuse workflow's guider coordinating with core
    # LazyCache, which answers the calls between full-CFG steps (docs/quality.md, "With a step cache").
    return wan22_t2v(dict(cfg_truncate_steps=0, cfg_trunc_ratio=1.0, keep="reuse_extrapolated", cfg_every=8,
                          step_cache="coordinate"), "video/wan22_t2v_reuse_cache",
                     cache=dict(reuse_threshold=0.3, start_percent=0.15, end_percent=0.95, verbose=False))


def wan22_ti2v_5b():
    """Core's Wan 2.2 TI2V 5B template (its loaders, shift 8, 1280x704x121, 20 UniPC steps, cfg 5) with the pack's
    guider: the Wan 2.2 write-up's last 5 steps truncated, but keeping cond where the write-up keeps uncond, as
    Lumina's official code, diffusers and the A14B workflows do: on the quality harness keeping uncond on the last
    5 of 20 steps cost far more accuracy than keeping cond (docs/quality.md, docs/quality_shapes.md)."""
    recipe = recipes.wan22(5.0, cfg_truncate_steps=5)
    nodes, links = core_front(WAN22_5B_UNET, (UMT5, "wan"), WAN22_VAE, ("ModelSamplingSD3", 8.0),
                              (WAN_PROMPT, WAN_NEGATIVE))
    nodes.append(node("latent", "Wan22ImageToVideoLatent", 0, 420, width=1280, height=704, length=121, batch_size=1))
    links.append(("vae", 0, "latent", "vae"))
    guided, guided_links = recipe_guider(recipe, "shift", dict(keep="cond"))
    tail, tail_links = custom_sampler_tail(3, ("latent", 0), "uni_pc", 20, "shift", vae=("vae", 0))
    video, video_links = video_tail(5, "video/wan22_ti2v_5b_truncated_cfg", fps=24.0)
    return nodes + guided + tail + video, links + guided_links + tail_links + video_links


def wan22_i2v():
    nodes, links = wan_front("i2v")
    nodes += [
        node("image", "LoadImage", 0, 420, image=START_IMAGE),
        node("i2v", "WanImageToVideo", 2, 0, width=832, height=480, length=81, batch_size=1),
        node("guider", "TruncatedCFGGuider", 2, 300, node_width=STRIP_WIDTH, cfg=3.5, cfg_truncate_steps=5,
             cfg_trunc_ratio=1.0, keep="cond", cfg_low_noise=3.5),
    ]
    links += [("positive", 0, "i2v", "positive"), ("negative", 0, "i2v", "negative"), ("loader", 2, "i2v", "vae"),
              ("image", 0, "i2v", "start_image"), ("loader", 0, "guider", "model"), ("i2v", 0, "guider", "positive"),
              ("i2v", 1, "guider", "negative")]
    tail, tail_links = custom_sampler_tail(3, ("i2v", 2), "uni_pc", 40, "loader")
    video, video_links = video_tail(5, "video/wan22_i2v_truncated_cfg")
    return nodes + tail + video, links + tail_links + video_links


def own_scheduler_tail(column, scheduler, schedule, prefix):
    """RandomNoise, KSamplerSelect (euler), the model's own scheduler (no model input), SamplerCustomAdvanced fed by
    `guider` and `latent`, decode with `vae`, save."""
    nodes = [
        node("noise", "RandomNoise", column, 0, noise_seed=SEED, control_after_generate="fixed"),
        node("sampler", "KSamplerSelect", column, 160, sampler_name="euler"),
        node("sigmas", scheduler, column, 280, **schedule),
        node("sample", "SamplerCustomAdvanced", column + 1, 0),
        node("decode", "VAEDecode", column + 1, 260),
        node("save", "SaveImage", column + 2, 0, filename_prefix=prefix),
    ]
    links = [
        ("noise", 0, "sample", "noise"), ("guider", 0, "sample", "guider"), ("sampler", 0, "sample", "sampler"),
        ("sigmas", 0, "sample", "sigmas"), ("latent", 0, "sample", "latent_image"),
        ("sample", 0, "decode", "samples"), ("vae", 0, "decode", "vae"), ("decode", 0, "save", "images"),
    ]
    return nodes, links


def ideogram4_t2i():
    """Core's Ideogram 4 blueprint (its Default preset: 20 steps, Ideogram4Scheduler mu 0 std 1.75 for 1024²; cfg 7,
    the negative branch on the unconditional model with the prompt zeroed, CFGOverride cfg 3 over the last 30 %)
    with the pack's guider in DualModelGuider's place, at the pack's recommendation for 20 steps: full CFG on every
    4th step, the guidance reused (extrapolated) between, so the unconditional model runs on 5 of the 20 steps."""
    nodes = [
        node("loader", "UNETLoader", 0, 0, unet_name=IDEOGRAM4_UNET, weight_dtype="default"),
        node("unconditional", "UNETLoader", 0, 140, unet_name=IDEOGRAM4_UNCONDITIONAL, weight_dtype="default"),
        node("clip", "CLIPLoader", 0, 280, clip_name=QWEN3VL_8B, type="ideogram4", device="default"),
        node("vae", "VAELoader", 0, 420, vae_name=FLUX2_VAE),
        node("latent", "EmptyFlux2LatentImage", 0, 540, width=1024, height=1024, batch_size=1),
        node("override", "CFGOverride", 1, 560, cfg=3.0, start_percent=0.7, end_percent=1.0),
        node("positive", "CLIPTextEncode", 1, 0, text=IDEOGRAM4_PROMPT),
        node("negative", "ConditioningZeroOut", 1, 300),
        node("guider", "TruncatedCFGGuider", 2, 0, node_width=STRIP_WIDTH, cfg=7.0, cfg_truncate_steps=0,
             cfg_trunc_ratio=1.0, keep="reuse_extrapolated", cfg_every=4),
    ]
    links = [
        ("clip", 0, "positive", "clip"), ("positive", 0, "negative", "conditioning"),
        ("loader", 0, "override", "model"), ("override", 0, "guider", "model"), ("positive", 0, "guider", "positive"),
        ("negative", 0, "guider", "negative"), ("unconditional", 0, "guider", "model_negative"),
    ]
    tail, tail_links = own_scheduler_tail(3, "Ideogram4Scheduler",
                                          dict(steps=20, width=1024, height=1024, mu=0.0, std=1.75),
                                          "ideogram4_reuse_cfg")
    return nodes + tail, links + tail_links


def flux2_klein_t2i():
    """Core's Flux.2 Klein template, its base model (4B: 20 euler steps on Flux2Scheduler, CFGGuider cfg 5, an empty
    negative prompt, 1024²), with the pack's guider at its recommendation for 20 steps: full CFG on every 4th step,
    the guidance reused (extrapolated) between."""
    nodes, links = core_front(FLUX2_KLEIN_UNET, (QWEN3_4B, "flux2"), FLUX2_VAE, None, (FLUX2_KLEIN_PROMPT, ""))
    nodes += [
        node("latent", "EmptyFlux2LatentImage", 0, 420, width=1024, height=1024, batch_size=1),
        node("guider", "TruncatedCFGGuider", 2, 0, node_width=STRIP_WIDTH, cfg=5.0, cfg_truncate_steps=0,
             cfg_trunc_ratio=1.0, keep="reuse_extrapolated", cfg_every=4),
    ]
    links += [("loader", 0, "guider", "model"), ("positive", 0, "guider", "positive"),
              ("negative", 0, "guider", "negative")]
    tail, tail_links = own_scheduler_tail(3, "Flux2Scheduler", dict(steps=20, width=1024, height=1024),
                                          "flux2_klein_reuse_cfg")
    return nodes + tail, links + tail_links


def hunyuan_video_15_t2v():
    """Core's HunyuanVideo 1.5 720p text-to-video template (its loaders: Qwen2.5-VL 7B and byT5 for the glyphs, shift
    7, 1280x720x121, 20 euler steps, CFGGuider cfg 6, an empty negative prompt) with the pack's guider at its
    recommendation for 20 steps: full CFG on every 4th step, the guidance reused (extrapolated) between."""
    nodes = [
        node("loader", "UNETLoader", 0, 0, unet_name=HUNYUAN_VIDEO_15_UNET, weight_dtype="default"),
        node("clip", "DualCLIPLoader", 0, 140, clip_name1=QWEN_VL_7B, clip_name2=BYT5_GLYPH, type="hunyuan_video_15",
             device="default"),
        node("vae", "VAELoader", 0, 300, vae_name=HUNYUAN_VIDEO_15_VAE),
        node("latent", "EmptyHunyuanVideo15Latent", 0, 420, width=1280, height=720, length=121, batch_size=1),
        node("shift", "ModelSamplingSD3", 1, 560, shift=7.0),
        node("positive", "CLIPTextEncode", 1, 0, text=WAN_PROMPT),
        node("negative", "CLIPTextEncode", 1, 300, text=""),
        node("guider", "TruncatedCFGGuider", 2, 0, node_width=STRIP_WIDTH, cfg=6.0, cfg_truncate_steps=0,
             cfg_trunc_ratio=1.0, keep="reuse_extrapolated", cfg_every=4),
    ]
    links = [("clip", 0, "positive", "clip"), ("clip", 0, "negative", "clip"), ("loader", 0, "shift", "model"),
             ("shift", 0, "guider", "model"), ("positive", 0, "guider", "positive"),
             ("negative", 0, "guider", "negative")]
    tail, tail_links = custom_sampler_tail(3, ("latent", 0), "euler", 20, "shift", vae=("vae", 0))
    video, video_links = video_tail(5, "video/hunyuan_video_15_reuse_cfg", fps=24.0)
    return nodes + tail + video, links + tail_links + video_links


QWEN_IMAGE_EDIT_PROMPT = "Turn the picture into a watercolour painting of a sunrise over the sea"


def qwen_image_edit_2511():
    """Core's Qwen-Image-Edit 2511 template without its lightning LoRA (its loaders, AuraFlow shift 3.1, CFGNorm 1,
    both prompts encoded with the picture and its reference latents by index_timestep_zero, KSampler at 40 euler
    steps and cfg 4, the picture's latent as the start) with the model patch at the pack's recommendation for 40
    steps: full CFG on every 8th step, the guidance reused (extrapolated) between. One difference: the output keeps
    the input picture's size (the template first scales it to a Flux Kontext size with FluxKontextImageScale; add
    it back for that)."""
    nodes = [
        node("loader", "UNETLoader", 0, 0, unet_name=QWEN_IMAGE_EDIT_UNET, weight_dtype="default"),
        node("clip", "CLIPLoader", 0, 140, clip_name=QWEN_VL_7B, type="qwen_image", device="default"),
        node("vae", "VAELoader", 0, 280, vae_name=QWEN_IMAGE_VAE),
        node("image", "LoadImage", 0, 400, image=START_IMAGE),
        node("shift", "ModelSamplingAuraFlow", 1, 560, shift=3.1),
        node("norm", "CFGNorm", 1, 680, strength=1.0),
        node("positive_text", "TextEncodeQwenImageEditPlus", 1, 0, prompt=QWEN_IMAGE_EDIT_PROMPT),
        node("negative_text", "TextEncodeQwenImageEditPlus", 1, 300, prompt=""),
        node("positive", "FluxKontextMultiReferenceLatentMethod", 2, 0, reference_latents_method="index_timestep_zero"),
        node("negative", "FluxKontextMultiReferenceLatentMethod", 2, 160,
             reference_latents_method="index_timestep_zero"),
        node("latent", "VAEEncode", 2, 320),
    ]
    links = [("loader", 0, "shift", "model"), ("shift", 0, "norm", "model"), ("vae", 0, "latent", "vae"),
             ("image", 0, "latent", "pixels")]
    for text, method in (("positive_text", "positive"), ("negative_text", "negative")):
        links += [("clip", 0, text, "clip"), ("vae", 0, text, "vae"), ("image", 0, text, "image1"),
                  (text, 0, method, "conditioning")]
    tail, tail_links = ksampler_patch_tail(3, "norm", 40, "euler", "qwen_image_edit_2511_reuse_cfg", vae=("vae", 0),
                                           cfg=4.0, policy=dict(keep="reuse_extrapolated", cfg_every=8,
                                                                cfg_trunc_ratio=1.0))
    return nodes + tail, links + tail_links


# What each workflow's thumbnail says at a glance (the template browser shows it at about 260 px).
TITLES = {
    "lumina2_t2i_truncated_cfg": "Lumina 2 · text to image · Truncated CFG Guider",
    "lumina2_t2i_truncated_cfg_ksampler": "Lumina 2 · text to image · KSampler + model patch",
    "netayume_lumina_t2i_truncated_cfg": "NetaYume Lumina · text to image · Lumina 2's recipe on KSampler",
    "wan22_t2v_a14b_truncated_cfg": "Wan 2.2 A14B · text to video · last 5 steps truncated",
    "wan22_i2v_a14b_truncated_cfg": "Wan 2.2 A14B · image to video · last 5 steps truncated",
    "wan22_t2v_a14b_reuse_cfg": "Wan 2.2 A14B · text to video · guidance reused",
    "wan22_t2v_a14b_reuse_cache": "Wan 2.2 A14B · text to video · reused + LazyCache",
    "z_image_t2i_truncated_cfg": "Z-Image · text to image · its own truncation + normalisation",
    "z_image_t2i_reuse_cfg": "Z-Image · text to image · guidance reused",
    "qwen_image_t2i_rescale_cfg": "Qwen-Image 2512 · text to image · its own rescale, full CFG",
    "qwen_image_t2i_reuse_cfg": "Qwen-Image 2512 · text to image · guidance reused",
    "wan22_ti2v_5b_truncated_cfg": "Wan 2.2 TI2V 5B · text to video · last 5 steps truncated",
    "ideogram4_t2i_reuse_cfg": "Ideogram 4 · text to image · two models, guidance reused",
    "flux2_klein_t2i_reuse_cfg": "Flux.2 Klein (base) · text to image · guidance reused",
    "qwen_image_edit_2511_reuse_cfg": "Qwen-Image-Edit 2511 · image edit · guidance reused",
    "hunyuan_video_15_t2v_reuse_cfg": "HunyuanVideo 1.5 · text to video · guidance reused",
}
# The workflows whose model a host may not know: how to tell, and what to say.
NEEDS = {
    "z_image_t2i_truncated_cfg": (lambda: knows("ZImage"), "Z-Image (core added it in November 2025, after 0.3.64)"),
    "z_image_t2i_reuse_cfg": (lambda: knows("ZImage"), "Z-Image (core added it in November 2025, after 0.3.64)"),
    "ideogram4_t2i_reuse_cfg": (lambda: knows("Ideogram4"), "Ideogram 4 nor its nodes (core added them after 0.3.64)"),
    "flux2_klein_t2i_reuse_cfg": (lambda: knows("Flux2"), "Flux.2 nor its nodes (core added them after 0.3.64)"),
    "hunyuan_video_15_t2v_reuse_cfg": (lambda: knows("HunyuanVideo15"),
                                       "HunyuanVideo 1.5 nor its nodes (core added them after 0.3.64)"),
    "qwen_image_edit_2511_reuse_cfg": (knows_qwen_image_edit_2511,
                                       "Qwen-Image-Edit 2511's reference method (core added it after 0.3.64)"),
}
# Too slow for the main job's default on a CPU, and why (``--workflows`` runs them).
SLOW_ON_CPU = {"qwen_image_edit_2511_reuse_cfg": "its reference latents are 1 megapixel whatever the picture's size, "
                                                  "about 12 s a full-width model call on two cores"}
# Those whose nodes the oldest supported ComfyUI lacks as well: saved from the newest host's frontend.
BUILD_ON_NEWEST = ("ideogram4_t2i_reuse_cfg", "flux2_klein_t2i_reuse_cfg", "qwen_image_edit_2511_reuse_cfg",
                   "hunyuan_video_15_t2v_reuse_cfg")


def not_on_this_host(name: str):
    """Why the running host cannot run the workflow (None: it can)."""
    if name in NEEDS and not NEEDS[name][0]():
        return f"this ComfyUI does not know {NEEDS[name][1]}"
    return None


TRUNCATING_TYPES = ("TruncatedCFGGuider", "TruncatedCFGModelPatch")

WORKFLOWS = {
    "lumina2_t2i_truncated_cfg": lumina2_t2i,
    "lumina2_t2i_truncated_cfg_ksampler": lumina2_t2i_ksampler,
    "netayume_lumina_t2i_truncated_cfg": netayume_t2i,
    "wan22_t2v_a14b_truncated_cfg": wan22_t2v,
    "wan22_i2v_a14b_truncated_cfg": wan22_i2v,
    "wan22_t2v_a14b_reuse_cfg": wan22_t2v_reuse,
    "wan22_t2v_a14b_reuse_cache": wan22_t2v_reuse_cache,
    "z_image_t2i_truncated_cfg": z_image_t2i,
    "z_image_t2i_reuse_cfg": z_image_t2i_reuse,
    "qwen_image_t2i_rescale_cfg": qwen_image_t2i,
    "qwen_image_t2i_reuse_cfg": qwen_image_t2i_reuse,
    "wan22_ti2v_5b_truncated_cfg": wan22_ti2v_5b,
    "ideogram4_t2i_reuse_cfg": ideogram4_t2i,
    "flux2_klein_t2i_reuse_cfg": flux2_klein_t2i,
    "qwen_image_edit_2511_reuse_cfg": qwen_image_edit_2511,
    "hunyuan_video_15_t2v_reuse_cfg": hunyuan_video_15_t2v,
}


class Blueprint:
    """A subgraph blueprint (subgraphs/<name>.json) made of a workflow's graph.

    ``outside``: the spec keys left out of the subgraph (their links become its inputs and outputs, and they
    are dropped from the file, as core's blueprints have only the subgraph node); ``exposed``: (key, widget)
    pairs shown on the subgraph node (its proxyWidgets). The frontend makes the prompt boxes of
    CLIPTextEncode nodes inputs of the subgraph by itself ("text", "text_1"): ``labels`` names them.
    """

    def __init__(self, make, outside, exposed, category, description, labels=None):
        self.make, self.outside, self.exposed = make, outside, exposed
        self.category, self.description, self.labels = category, description, labels or {}


GUIDER_EXPOSED = [("guider", "cfg"), ("guider", "keep"), ("guider", "cfg_every"), ("guider", "cfg_truncate_steps"),
                  ("guider", "cfg_trunc_ratio")]
WAN_LOADER_EXPOSED = [("loader", "high_noise_unet"), ("loader", "low_noise_unet"), ("loader", "clip_name"),
                      ("loader", "vae_name")]
SEED_STEPS = [("noise", "noise_seed"), ("sigmas", "steps")]
PROMPT_LABELS = {"text": "prompt", "text_1": "negative prompt"}


def wan_exposed(size_key):
    """What a Wan blueprint shows: the video size (on the node ``size_key``), seed, steps, guidance, model files."""
    return ([(size_key, "width"), (size_key, "height"), (size_key, "length")] + SEED_STEPS + GUIDER_EXPOSED
            + [("guider", "cfg_low_noise")] + WAN_LOADER_EXPOSED)


BLUEPRINTS = {
    "Text to Video (Wan 2.2 A14B, Truncated CFG)": Blueprint(
        wan22_t2v_reuse, outside=("save",), labels=PROMPT_LABELS, exposed=wan_exposed("latent"),
        category="Video generation and editing/Text to video",
        description=("Wan 2.2 A14B text to video, both experts in one sampler pass, with Truncated CFG: full CFG on "
                     "every 8th step and the guidance reused between (about 43% fewer model calls at 40 steps).")),
    "Image to Video (Wan 2.2 A14B, Truncated CFG)": Blueprint(
        wan22_i2v, outside=("image", "save"), labels=PROMPT_LABELS, exposed=wan_exposed("i2v"),
        category="Video generation and editing/Image to video",
        description=("Wan 2.2 A14B image to video from a start image, both experts in one sampler pass, with "
                     "Truncated CFG (the last 5 of 40 steps run one branch).")),
    "Text to Image (Lumina 2, Truncated CFG)": Blueprint(
        lumina2_t2i, outside=("save",),
        exposed=[("positive", "user_prompt"), ("latent", "width"), ("latent", "height")] + SEED_STEPS
        + GUIDER_EXPOSED + [("loader", "unet_name"), ("loader", "clip_name"), ("loader", "vae_name")],
        category="Image generation and editing/Text to image",
        description=("Lumina-Image-2.0 text to image with CFG Renorm and Truncated CFG: guidance on the first "
                     "quarter of the steps, as Lumina's README recommends (38% fewer model calls).")),
    "Text to Image (NetaYume Lumina, Truncated CFG)": Blueprint(
        netayume_t2i, outside=("save",), labels=PROMPT_LABELS,
        exposed=[("latent", "width"), ("latent", "height"), ("ksampler", "seed"), ("ksampler", "steps"),
                 ("ksampler", "cfg"), ("patch", "keep"), ("patch", "cfg_every"), ("patch", "cfg_truncate_steps"),
                 ("patch", "cfg_trunc_ratio"), ("loader", "ckpt_name")],
        category="Image generation and editing/Text to image",
        description=("NetaYume Lumina text to image as core's template runs it (its one checkpoint, cfg 4, 30 "
                     "res_multistep steps) with Lumina 2's recipe: CFG Renorm, and guidance on the first quarter "
                     "of the steps (the rest run one model call each).")),
    "Text to Video (Wan 2.2 5B, Truncated CFG)": Blueprint(
        wan22_ti2v_5b, outside=("save",), labels=PROMPT_LABELS,
        exposed=[("latent", "width"), ("latent", "height"), ("latent", "length")] + SEED_STEPS + GUIDER_EXPOSED
        + [("loader", "unet_name"), ("clip", "clip_name"), ("vae", "vae_name")],
        category="Video generation and editing/Text to video",
        description=("Wan 2.2 TI2V 5B text to video as core's template runs it (cfg 5, 20 steps), with Truncated "
                     "CFG: the last 5 steps run one branch (the Wan 2.2 write-up's --cfg_truncate_steps), keeping "
                     "the positive prediction where the write-up keeps the negative one: Lumina's and diffusers' "
                     "choice, and far closer to full CFG on the pack's quality harness.")),
    "Text to Image (Qwen-Image 2512, Truncated CFG)": Blueprint(
        qwen_image_t2i_reuse, outside=("save",), labels=PROMPT_LABELS,
        exposed=[("latent", "width"), ("latent", "height")] + SEED_STEPS + GUIDER_EXPOSED
        + [("loader", "unet_name"), ("clip", "clip_name"), ("vae", "vae_name")],
        category="Image generation and editing/Text to image",
        description=("Qwen-Image 2512 text to image as core's template runs it (cfg 4, 50 steps), with Truncated "
                     "CFG: full CFG on every 8th step and the guidance reused between.")),
    "Text to Image (Z-Image, Truncated CFG)": Blueprint(
        z_image_t2i, outside=("save",), labels=PROMPT_LABELS,
        exposed=[("latent", "width"), ("latent", "height")] + SEED_STEPS + GUIDER_EXPOSED
        + [("guider", "z_image_cfg_truncation"), ("renorm", "renorm_cfg"), ("loader", "unet_name"),
           ("loader", "clip_name"),
           ("loader", "vae_name")],
        category="Image generation and editing/Text to image",
        description=("Z-Image (base) text to image by its official loop in the pack's terms: guidance 3 as cfg 4, "
                     "cfg_normalization 1 as CFG Renorm, cfg_truncation 0.5 as z_image_cfg_truncation 0.5 (the "
                     "quieter half of the schedule runs one model call a step; c 0.5 and k 1 are the pack's picks, "
                     "Z-Image's defaults are off). Needs ComfyUI with Z-Image support.")),
    "Text to Image (Ideogram 4, Truncated CFG)": Blueprint(
        ideogram4_t2i, outside=("save",), labels={"text": "prompt"},
        exposed=[("latent", "width"), ("latent", "height")] + SEED_STEPS + GUIDER_EXPOSED
        + [("loader", "unet_name"), ("unconditional", "unet_name"), ("clip", "clip_name"), ("vae", "vae_name")],
        category="Image generation and editing/Text to image",
        description=("Ideogram 4 text to image as core's blueprint runs it (its model and its unconditional model, "
                     "cfg 7, cfg 3 over the last 30 %, 20 steps), with Truncated CFG: full CFG on every 4th step and "
                     "the guidance reused between, so the unconditional model runs on 5 of the 20 steps. The scheduler "
                     "inside is set for 1024 x 1024 as core's Default preset; for another size set its width and "
                     "height too. Needs ComfyUI 0.33.")),
    "Text to Image (Flux.2 Klein base, Truncated CFG)": Blueprint(
        flux2_klein_t2i, outside=("save",), labels=PROMPT_LABELS,
        exposed=[("latent", "width"), ("latent", "height")] + SEED_STEPS + GUIDER_EXPOSED
        + [("loader", "unet_name"), ("clip", "clip_name"), ("vae", "vae_name")],
        category="Image generation and editing/Text to image",
        description=("Flux.2 Klein base text to image as core's template runs it (cfg 5, 20 steps), with Truncated "
                     "CFG: full CFG on every 4th step and the guidance reused between (37.5 % fewer model calls). "
                     "The scheduler inside is set for 1024 x 1024; for another size set its width and height too. "
                     "Needs ComfyUI 0.33.")),
    "Image Edit (Qwen-Image-Edit 2511, Truncated CFG)": Blueprint(
        qwen_image_edit_2511, outside=("image", "save"), labels={"image1": "image"},
        exposed=[("positive_text", "prompt"), ("ksampler", "seed"), ("ksampler", "steps"), ("ksampler", "cfg"),
                 ("patch", "keep"), ("patch", "cfg_every"), ("patch", "cfg_truncate_steps"),
                 ("patch", "cfg_trunc_ratio"), ("loader", "unet_name"), ("clip", "clip_name"), ("vae", "vae_name")],
        category="Image generation and editing/Edit image",
        description=("Qwen-Image-Edit 2511 as core's template runs it without the lightning LoRA (CFGNorm, cfg 4, 40 "
                     "steps), with Truncated CFG on KSampler: full CFG on every 8th step and the guidance reused "
                     "between (about 44 % fewer model calls). The output keeps the input picture's size. Needs "
                     "ComfyUI 0.33.")),
    "Text to Video (HunyuanVideo 1.5, Truncated CFG)": Blueprint(
        hunyuan_video_15_t2v, outside=("save",), labels=PROMPT_LABELS,
        exposed=[("latent", "width"), ("latent", "height"), ("latent", "length")] + SEED_STEPS + GUIDER_EXPOSED
        + [("loader", "unet_name"), ("clip", "clip_name1"), ("clip", "clip_name2"), ("vae", "vae_name")],
        category="Video generation and editing/Text to video",
        description=("HunyuanVideo 1.5 text to video as core's 720p template runs it (cfg 6, 20 steps), with Truncated "
                     "CFG: full CFG on every 4th step and the guidance reused between (37.5 % fewer model calls). "
                     "Needs ComfyUI 0.33.")),
}
