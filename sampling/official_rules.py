"""The official truncation comparisons that depend on a step's time, computed from ComfyUI's sigma as each
official code computes them: the same float32 arithmetic, the same strict or non-strict comparison, the same side
of the boundary. The rule rows ``z_image_cfg_truncation`` and ``lumina_cfg_trunc`` (``rules.py``) call these; the
step-count rules (diffusers' ``cfg_trunc_ratio``, the Wan write-up's ``cfg_truncate_steps``) need no time and are
written in ``rules.py`` as the official expressions.

ComfyUI's sigmas are float32 (its schedulers return float32 tensors, and the pack's schedule holds them as the
Python floats they are exactly), so each function below rounds its sigma to float32 first, as the official
pipelines round theirs.
"""
from __future__ import annotations

from functools import lru_cache

import torch

NUM_TRAIN_TIMESTEPS = 1000  # FlowMatchEulerDiscreteScheduler's num_train_timesteps in Z-Image's scheduler config


def _float32(value: float) -> torch.Tensor:
    return torch.tensor(value, dtype=torch.float32)


# A run asks about the same few sigmas on every call of every step (and the tests about the same schedules for every
# c); each answer is a pure function of the float it gets.
@lru_cache(maxsize=4096)
def z_image_t_norm(sigma: float) -> float:
    """diffusers' ZImagePipeline's normalised time of a step at ``sigma``: its scheduler's timestep is sigma times
    1000 in float32 (scheduling_flow_match_euler_discrete.py, set_timesteps: ``timesteps = sigmas *
    num_train_timesteps`` on a float32 tensor), and the pipeline takes ``((1000 - timesteps.float()) / 1000)`` in
    float32 before ``.tolist()`` (pipeline_z_image.py, ``_precomputed_t_norms``)."""
    t = _float32(sigma) * NUM_TRAIN_TIMESTEPS
    return ((NUM_TRAIN_TIMESTEPS - t) / NUM_TRAIN_TIMESTEPS).item()


def z_image_truncates(sigma: float, cfg_truncation: float) -> bool:
    """Z-Image's own rule: guidance 0 (the positive alone) where ``t_norm > cfg_truncation``, a comparison of two
    Python floats, strict, and only when ``cfg_truncation <= 1``. The step whose t_norm equals c is guided."""
    return float(cfg_truncation) <= 1 and z_image_t_norm(sigma) > cfg_truncation


@lru_cache(maxsize=4096)
def lumina_time(sigma: float) -> float:
    """The time Lumina 2's NextDiT gets in ComfyUI for a step at ``sigma``: ``t = 1.0 - timesteps`` on the float32
    timestep (comfy/ldm/lumina/model.py), the ``t`` Lumina-Image-2.0's ``forward_with_cfg`` compares."""
    return (1.0 - _float32(sigma)).item()


def lumina_truncates(sigma: float, cfg_trunc: float) -> bool:
    """Lumina-Image-2.0's own rule (models/model.py, ``forward_with_cfg``): full CFG ``if t[0] < cfg_trunc``, strict,
    with t a float32 tensor and cfg_trunc a Python float, which torch compares in float32 (cfg_trunc rounded to
    float32 first). The step whose t equals c runs the conditional branch alone."""
    return not _lumina_time_below(sigma, cfg_trunc)


@lru_cache(maxsize=4096)
def _lumina_time_below(sigma: float, cfg_trunc: float) -> bool:
    return bool((1.0 - _float32(sigma)) < cfg_trunc)
