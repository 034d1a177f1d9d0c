"""Sample the digits model through ComfyUI's real sampler with the pack's nodes, once per setting, and judge it.

Needs the ComfyUI host imported (``devtools.host.import_host``). The model is loaded as UNETLoader
loads a user's file, shifted with core's ModelSamplingSD3, guided by the Truncated CFG Guider (after
CFG Renorm where a setting asks), and sampled by core's SamplerCustomAdvanced. Every setting starts
from the same noise, so the differences between rows are the settings' alone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from . import digits_data
from .judge import Judge
from .settings import Setting

DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "digits_wan.safetensors"


@dataclass(frozen=True)
class SweepConfig:
    per_class: int = 200
    steps: int = 20
    cfg: float = 2.0
    shift: float = 1.0
    sampler: str = "euler"
    scheduler: str = "simple"
    seed: int = 0

    def labels(self) -> np.ndarray:
        return np.repeat(np.arange(digits_data.CLASSES), self.per_class)


def load_digits_model(path: Path, shift: float):
    """UNETLoader's loading path, then core's ModelSamplingSD3 node."""
    from comfy_extras.nodes_model_advanced import ModelSamplingSD3

    from devtools.checkpoints import load_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"digits model not found at {path}; train it with python quality/train_digits.py")
    return ModelSamplingSD3().patch(load_model(path), shift)[0]


def conditioning(labels: np.ndarray) -> tuple[list, list]:
    """(positive, negative) CONDITIONING: one class prompt per sample, and "no class"."""
    positive = [[digits_data.class_context(labels), {}]]
    negative = [[digits_data.class_context(np.full(len(labels), digits_data.NULL_CLASS)), {}]]
    return positive, negative


def sample(model, setting: Setting, config: SweepConfig) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """(digits (n, 8, 8), batch rows the diffusion model ran, truncated step indices) for one setting."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from truncated_cfg.nodes.guider import TruncatedCFGGuider
    from truncated_cfg.nodes.renorm import TruncatedCFGRenorm

    labels = config.labels()
    positive, negative = conditioning(labels)
    patched = TruncatedCFGRenorm.execute(model, setting.renorm_cfg, "lumina").result[0] if setting.renorm_cfg else model
    cfg = 1.0 if setting.cfg_one else config.cfg
    guider = TruncatedCFGGuider.execute(patched, positive, negative, cfg, **setting.guider_inputs()).result[0]
    sigmas = comfy.samplers.calculate_sigmas(patched.get_model_object("model_sampling"), config.scheduler, config.steps)
    side = digits_data.LATENT_SIDE
    latent = {"samples": torch.zeros(len(labels), digits_data.CHANNELS, 1, side, side)}
    rows: list[int] = []
    # Counted at the network itself: what ran, whoever decided it.
    hook = patched.model.diffusion_model.register_forward_hook(lambda mod, args, out: rows.append(out.shape[0]))
    try:
        out = SamplerCustomAdvanced().sample(Noise_RandomNoise(config.seed), guider,
                                             comfy.samplers.sampler_object(config.sampler), sigmas, latent)
    finally:
        hook.remove()
    ledger = guider.controller.last_ledger
    truncated = tuple(s.index for s in ledger.steps if s.full is False) if ledger is not None else ()
    # The sampler hands back ComfyUI's latent space; the model (and the picture) live behind process_in.
    model_space = patched.model.process_latent_in(out[0]["samples"])
    return digits_data.from_model_space(model_space), sum(rows), truncated


def measure(model, setting: Setting, config: SweepConfig, judge: Judge) -> tuple[dict, np.ndarray]:
    """(row, digits) for one setting: calls per image, calls saved against full CFG, the judge's scores."""
    start = time.perf_counter()
    images, rows, truncated = sample(model, setting, config)
    calls = rows / len(config.labels())
    scores = judge.score(images, config.labels())
    row = {"family": setting.family, "label": setting.label, "calls": calls,
           "calls_saved": 1.0 - calls / (2 * config.steps), "truncated_steps": list(truncated),
           **scores.as_dict(), "seconds": time.perf_counter() - start}
    return row, images


def run_sweep(settings: Sequence[Setting], config: SweepConfig, weights: Path = DEFAULT_WEIGHTS,
              judge: Judge | None = None, log: Callable[[str], None] = print) -> list[dict]:
    """One row per setting (see ``measure``)."""
    judge = judge or Judge()
    model = load_digits_model(weights, config.shift)
    results = []
    for setting in settings:
        row, _ = measure(model, setting, config, judge)
        results.append(row)
        log(f"{setting.label:28} calls {row['calls']:5.1f}/{2 * config.steps}  accuracy {row['accuracy']:.3f}  "
            f"frechet {row['frechet']:7.2f}  diversity {row['diversity']:.3f}  ({row['seconds']:.1f} s)")
    return results
