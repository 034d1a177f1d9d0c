"""The settings the quality sweep compares: every policy of the pack, over a grid, plus the two ends.

Pure data: each setting is what a user would type into the Truncated CFG Guider (and CFG Renorm).
"""
from __future__ import annotations

from dataclasses import dataclass, field

FULL = "full CFG"
NO_CFG = "no CFG (cfg 1)"
LAST_N = "last N"
RATIO = "ratio"
WINDOW = "sigma window"
ADAPTIVE = "adaptive"
KEEP_UNCOND = "keep uncond"
RENORM = "renorm"
FAMILIES = (FULL, NO_CFG, LAST_N, RATIO, WINDOW, ADAPTIVE, KEEP_UNCOND, RENORM)

OFF = {"cfg_truncate_steps": 0, "cfg_trunc_ratio": 1.0, "keep": "cond"}


@dataclass(frozen=True)
class Setting:
    family: str
    label: str
    policy: dict = field(default_factory=dict)  # Truncated CFG Guider inputs over OFF
    cfg_one: bool = False  # sample at cfg 1: ComfyUI runs one call a step and no guidance at all
    renorm_cfg: float = 0.0  # CFG Renorm (lumina mode) in front of the guider; 0 = no Renorm node

    def guider_inputs(self) -> dict:
        return {**OFF, **self.policy}


def sweep_settings(steps: int) -> list[Setting]:
    """The full grid for a run of ``steps`` sampler steps."""
    if steps < 2:
        raise ValueError(f"the sweep needs at least 2 steps, got {steps}")
    stride = max(1, steps // 10)
    settings = [Setting(FULL, "full CFG"), Setting(NO_CFG, "cfg 1", cfg_one=True)]
    settings += [Setting(LAST_N, f"last {n}", {"cfg_truncate_steps": n}) for n in range(stride, steps + 1, stride)]
    settings += [Setting(RATIO, f"ratio {r}", {"cfg_trunc_ratio": r}) for r in (0.3, 0.5, 0.7, 0.9)]
    settings += [
        Setting(WINDOW, f"sigma > {low}", {"sigma_low": low}) for low in (0.25, 0.5, 0.75)
    ] + [
        Setting(WINDOW, "0.25 < sigma <= 0.75", {"sigma_low": 0.25, "sigma_high": 0.75}),
        # Against the usual advice, to test it: guidance only late, the early steps truncated.
        Setting(WINDOW, "sigma <= 0.5", {"sigma_high": 0.5}),
    ]
    settings += [Setting(ADAPTIVE, f"agree {t}", {"adaptive_threshold": t}) for t in (0.6, 0.7, 0.8, 0.9, 0.95, 0.99)]
    settings += [Setting(KEEP_UNCOND, f"last {n}, keep uncond", {"cfg_truncate_steps": n, "keep": "uncond"})
                 for n in sorted({max(1, steps // 4), max(1, steps // 2)})]
    settings += [Setting(RENORM, "renorm 1.0, full CFG", renorm_cfg=1.0),
                 Setting(RENORM, f"renorm 1.0, last {steps // 2}", {"cfg_truncate_steps": steps // 2}, renorm_cfg=1.0)]
    return settings
