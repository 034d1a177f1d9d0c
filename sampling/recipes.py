"""The official guidance recipes of the models that pay for CFG, in the pack's terms: one function each.

Each takes the official code's own parameters, by their names there, and returns what to set in ComfyUI: the
guider's (or sampler's) cfg, the Truncated CFG inputs over every-rule-off, and CFG Renorm's renorm_cfg and mode
(renorm_cfg 0 with mode lumina: no CFG Renorm node). The docs' "your model -> these inputs" table, the workflows
and the recipe tests (each against a loop written as the official code writes it) all read these.

Sigma here is ComfyUI's (flow models: the noise fraction, 1 at pure noise). Each truncation rule is decided as its
official code decides it, at the boundary and where float32 rounding decides (docs/official-rules.md):

- Z-Image, diffusers ``pipelines/z_image/pipeline_z_image.py`` (commit 58eb52c, lines 498-515): t_norm =
  ``((1000 - timesteps.float()) / 1000).tolist()``, float32 from the scheduler's float32 timesteps (sigma x 1000,
  ``scheduling_flow_match_euler_discrete.py`` set_timesteps); the positive alone where ``t_norm > cfg_truncation``
  (strict, in Python floats, only for c <= 1). The step at t_norm = c is guided. Input ``z_image_cfg_truncation``,
  computed from ComfyUI's sigma the same way (``official_rules.z_image_truncates``).
- Lumina-Image-2.0, ``models/model.py`` line 797 (``forward_with_cfg``): full CFG ``if t[0] < cfg_trunc``, strict,
  in float32 (torch rounds the Python float to the tensor's dtype), with t the model's time on its own grid
  (``transport/integrators.py`` lines 99-101: linspace(0, 1, num_steps) shifted by t / (t + s - s t), float32).
  The step at t = c runs the conditional branch alone. Input ``lumina_cfg_trunc``, compared on the time ComfyUI's
  NextDiT gets, 1 - sigma in float32 (``official_rules.lumina_truncates``).
- diffusers' Lumina2Pipeline, ``pipelines/lumina2/pipeline_lumina2.py`` line 669: the positive alone on step i of N
  where ``(i + 1) / num_inference_steps > cfg_trunc_ratio`` (Python floats, strict, a step index: no time). Input
  ``cfg_trunc_ratio``, the same expression on the sampler's step count.
- The Wan 2.2 write-up (``--cfg_truncate_steps``, its code lines 28-34): the negative alone where ``step_idx >=
  len(timesteps) - cfg_truncate_steps`` (a step index). Input ``cfg_truncate_steps`` with keep uncond.

Where ComfyUI's sigmas and the official ones differ (ComfyUI's ``simple`` schedule picks sigmas from a
1000-entry table, so at step counts that do not divide 1000 its sigmas are not diffusers' linspace ones; Lumina's
own grid has times below 0.5 whose 1 - t is no float32 value, so no ComfyUI sigma gives NextDiT exactly that t),
each rule decides on the sigma ComfyUI samples, as the official code would decide on a step at that sigma.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Settings:
    cfg: float  # the guider's or the sampler's cfg
    truncation: dict = field(default_factory=dict)  # Truncated CFG inputs that differ from rules.OFF
    renorm_cfg: float = 0.0  # CFG Renorm's renorm_cfg (0 with mode lumina: no node)
    renorm_mode: str = "lumina"

    @property
    def renorm(self) -> bool:
        """Whether the recipe needs a CFG Renorm node."""
        return self.renorm_cfg > 0.0 or self.renorm_mode != "lumina"


def z_image(guidance_scale: float, cfg_truncation: float = 1.0, cfg_normalization: float = 0.0) -> Settings:
    """diffusers' ZImagePipeline: pred = pos + g (pos - neg), so cfg g + 1; the positive alone where t_norm > c
    (z_image_cfg_truncation c; c >= 1 off, as the pipeline applies it only for c <= 1 and t_norm never exceeds 1);
    with normalisation k (True = 1) the guided prediction's norm capped at k times the positive's, per image (CFG
    Renorm, lumina mode)."""
    truncation = {} if cfg_truncation >= 1.0 else {"z_image_cfg_truncation": float(cfg_truncation)}
    return Settings(guidance_scale + 1.0, truncation, float(cfg_normalization))


def lumina2(cfg_scale: float, cfg_trunc: float = 100.0, renorm_cfg: float = 1.0) -> Settings:
    """Lumina-Image-2.0's forward_with_cfg: half_eps = uncond + cfg_scale (cond - uncond) while t < cfg_trunc (in
    float32), cond alone after (lumina_cfg_trunc c; above 1 off, as no time reaches it; 100 is the official
    default), the guided prediction's norm capped at renorm_cfg times the positive's."""
    truncation = {} if cfg_trunc > 1.0 else {"lumina_cfg_trunc": float(cfg_trunc)}
    return Settings(cfg_scale, truncation, float(renorm_cfg))


def lumina2_diffusers(guidance_scale: float, cfg_trunc_ratio: float = 1.0, cfg_normalization: bool = False
                      ) -> Settings:
    """diffusers' Lumina2Pipeline: cond alone on step i of N where (i + 1) / N > cfg_trunc_ratio; normalisation
    rescales over the latent's last dimension (CFG Renorm, diffusers mode)."""
    truncation = {} if cfg_trunc_ratio >= 1.0 else {"cfg_trunc_ratio": cfg_trunc_ratio}
    return Settings(guidance_scale, truncation, renorm_mode="diffusers" if cfg_normalization else "lumina")


def qwen_image(true_cfg_scale: float) -> Settings:
    """diffusers' QwenImagePipeline: neg + s (pos - neg), every packed token rescaled to the positive's norm."""
    return Settings(true_cfg_scale, renorm_mode="qwen_image")


def wan22(guide_scale: float, cfg_truncate_steps: int = 0) -> Settings:
    """Wan 2.2's generate.py (TI2V 5B: guide 5.0 over 50 steps, shift 5) with the write-up's --cfg_truncate_steps:
    the last N steps run the negative branch alone, as that write-up does (keep uncond)."""
    truncation = {"cfg_truncate_steps": cfg_truncate_steps, "keep": "uncond"} if cfg_truncate_steps else {}
    return Settings(guide_scale, truncation)
