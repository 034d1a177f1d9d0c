"""The official truncation rules, restated line by line from their official files (cited by commit and line), and
the official schedules they run on; the unit and host tiers test the pack's recipes against these.

The restatements keep the official arithmetic: torch float32 where the official code has float32 tensors (numpy's
float32 operations round as torch's do: both are IEEE single precision, each operation rounded once), Python
floats where it has Python floats.
"""
import torch

from sampling import recipes
from sampling.policy import TruncationPolicy

STEP_COUNTS = range(1, 101)
C_GRID = (0.0, 0.1, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.9, 1.0)
Z_IMAGE_SHIFT = 3.0  # Z-Image's FlowMatchEulerDiscreteScheduler shift (use_dynamic_shifting off)
LUMINA_SHIFT = 6  # Lumina-Image-2.0's --t_shift / the demo's "Time shift" default


# diffusers, src/diffusers/pipelines/z_image/pipeline_z_image.py at 58eb52c (2026-08-23)
def z_image_official_sigmas(num_inference_steps: int, shift: float = Z_IMAGE_SHIFT) -> torch.Tensor:
    # line 137-138, get_default_z_image_sigmas: torch.linspace(1.0, 1 / N, N).tolist()
    sigmas = torch.linspace(1.0, 1 / num_inference_steps, num_inference_steps).tolist()
    # scheduling_flow_match_euler_discrete.py set_timesteps, line 343: np.array(sigmas).astype(np.float32)
    sigmas = torch.tensor(sigmas, dtype=torch.float32)
    # line 351: sigmas = self.shift * sigmas / (1 + (self.shift - 1) * sigmas), float32
    sigmas = shift * sigmas / (1 + (shift - 1) * sigmas)
    return sigmas  # line 366: torch.from_numpy(sigmas).to(dtype=torch.float32)


def z_image_official_timesteps(num_inference_steps: int) -> torch.Tensor:
    # scheduling_flow_match_euler_discrete.py line 367: timesteps = sigmas * self.config.num_train_timesteps
    return z_image_official_sigmas(num_inference_steps) * 1000


def z_image_official_guided(timesteps: torch.Tensor, cfg_truncation: float) -> list[bool]:
    """pipeline_z_image.py lines 498-515: _precomputed_t_norms, then guidance 0 where t_norm > cfg_truncation."""
    guided = []
    if cfg_truncation is not None and float(cfg_truncation) <= 1:
        _precomputed_t_norms = ((1000 - timesteps.float()) / 1000).tolist()
    else:
        _precomputed_t_norms = None
    for i in range(len(timesteps)):
        current_guidance_scale = 4.0
        if _precomputed_t_norms is not None:
            if _precomputed_t_norms[i] > cfg_truncation:
                current_guidance_scale = 0.0
        guided.append(current_guidance_scale > 0)
    return guided


# Lumina-Image-2.0 at 4a4d6f8: transport/integrators.py lines 99-101 (ode.__init__), models/model.py line 797
def lumina_official_grid(num_steps: int, time_shifting_factor: int = LUMINA_SHIFT) -> torch.Tensor:
    t = torch.linspace(0, 1, num_steps)
    if time_shifting_factor:
        t = t / (t + time_shifting_factor - time_shifting_factor * t)
    return t


def lumina_official_guided(t: torch.Tensor, cfg_trunc: float) -> bool:
    """forward_with_cfg, called with t = torch.ones(B) * t_i (integrators.py _fn): ``if t[0] < cfg_trunc``."""
    return bool(t[0] < cfg_trunc)


# diffusers, src/diffusers/pipelines/lumina2/pipeline_lumina2.py line 669
def lumina2_diffusers_official_truncated(i: int, num_inference_steps: int, cfg_trunc_ratio: float) -> bool:
    do_classifier_free_truncation = (i + 1) / num_inference_steps > cfg_trunc_ratio
    return do_classifier_free_truncation


# The Wan 2.2 write-up (shared/seeds/000_...txt) lines 28-30
def wan_write_up_official_truncated(step_idx: int, timesteps: list, cfg_truncate_steps: int) -> bool:
    is_final_steps = step_idx >= (len(timesteps) - cfg_truncate_steps)
    return is_final_steps


# The pack's side of each comparison.
def pack_guided(settings: recipes.Settings, schedule: list[float]) -> list[bool]:
    """The pack's decision for each step of a sampler schedule (N sigmas and the final one), from the recipe."""
    policy = TruncationPolicy(**settings.truncation)
    return [not policy.static_reasons(i, schedule) for i in range(len(schedule) - 1)]


def as_schedule(sigmas: torch.Tensor) -> list[float]:
    """What ComfyUI's sampler gets: the float32 sigmas, then the final 0 (the pack reads them as Python floats)."""
    return [float(s) for s in sigmas] + [0.0]
