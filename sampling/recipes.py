"""The official guidance recipes of the models that pay for CFG, in the pack's terms: one function each.

Each takes the official code's own parameters, by their names there, and returns what to set in ComfyUI: the
guider's (or sampler's) cfg, the Truncated CFG inputs over every-rule-off, and CFG Renorm's renorm_cfg and mode
(renorm_cfg 0 with mode lumina: no CFG Renorm node). The docs' "your model -> these inputs" table, the workflows
and the recipe tests (each against a loop written as the official code writes it) all read these.

Sigma here is ComfyUI's (flow models: the noise fraction, 1 at pure noise), t = 1 - sigma the official codes'
normalised time.
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


def _window_below(t_limit: float) -> dict:
    """Full CFG only while t = 1 - sigma stays under ``t_limit`` (1.0 and above: every step): sigma_low 1 - t."""
    return {} if t_limit >= 1.0 else {"sigma_low": 1.0 - t_limit}


def z_image(guidance_scale: float, cfg_truncation: float = 1.0, cfg_normalization: float = 0.0) -> Settings:
    """diffusers' ZImagePipeline: pred = pos + g (pos - neg), so cfg g + 1; positive alone where t > c
    (sigma_low 1 - c; c = 1 off; a step at sigma exactly 1 - c, which Z-Image still guides, runs one branch here);
    with normalisation k (True = 1) the guided prediction's norm capped at k times the positive's, per image (CFG
    Renorm, lumina mode)."""
    return Settings(guidance_scale + 1.0, _window_below(cfg_truncation), float(cfg_normalization))


def lumina2(cfg_scale: float, cfg_trunc: float = 1.0, renorm_cfg: float = 1.0) -> Settings:
    """Lumina-Image-2.0's sample.py: half_eps = uncond + cfg_scale (cond - uncond) while t < cfg_trunc, cond alone
    after (sigma_low 1 - c), the guided prediction's norm capped at renorm_cfg times the positive's."""
    return Settings(cfg_scale, _window_below(cfg_trunc), float(renorm_cfg))


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
