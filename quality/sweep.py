"""Sample a harness model (quality/harness_models.py) through ComfyUI's real sampler with the pack's nodes, once
per setting, and judge it.

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

from .harness_models import DIGITS, HarnessModel
from .settings import Setting, StepCacheSetting

DEFAULT_WEIGHTS = DIGITS.weights


@dataclass(frozen=True)
class SweepConfig:
    per_class: int = 200
    steps: int = 20
    cfg: float = 2.0
    shift: float = 1.0
    sampler: str = "euler"
    scheduler: str = "simple"
    seed: int = 0
    model: HarnessModel = DIGITS

    def labels(self) -> np.ndarray:
        return self.model.labels(self.per_class)


def load_harness_model(path: Path, shift: float, model: HarnessModel = DIGITS):
    """UNETLoader's loading path, then core's ModelSamplingSD3 node."""
    from comfy_extras.nodes_model_advanced import ModelSamplingSD3

    from devtools.checkpoints import load_model

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{model.name} model not found at {path}; train it with python {model.trainer}")
    return ModelSamplingSD3().patch(load_model(path), shift)[0]


def conditioning(labels: np.ndarray, model: HarnessModel = DIGITS) -> tuple[list, list]:
    """(positive, negative) CONDITIONING: one class prompt per sample, and "no class"."""
    positive = [[model.data.class_context(labels), {}]]
    negative = [[model.data.class_context(np.full(len(labels), model.data.NULL_CLASS)), {}]]
    return positive, negative


def make_guider(model, positive, negative, cfg: float, setting: Setting):
    """The Truncated CFG Guider node's output; for the harness-only reuse variants, the same guider around a keep
    mode the node does not offer; core's CFGGuider where the setting asks for it."""
    from devtools.core_nodes import cfg_guider
    from truncated_cfg.nodes.guider import TruncatedCFGGuider, TruncatedGuider
    from truncated_cfg.nodes.truncation import patch_model
    from truncated_cfg.sampling.policy import TruncationPolicy

    from .reuse_estimates import harness_keep_mode

    if setting.core_guider:
        return cfg_guider(model, positive, negative, cfg)
    inputs = setting.guider_inputs()
    if setting.from_percent is not None:
        inputs["sigma_low"] = override_sigma(model, setting.from_percent)
    if setting.node_only:
        return TruncatedCFGGuider.execute(model, positive, negative, cfg, **inputs).result[0]
    keep = harness_keep_mode(inputs["keep"], setting.estimate, setting.full_cfg_after_switch)
    patched, controller = patch_model(model, TruncationPolicy(**inputs), keep=keep)
    guider = TruncatedGuider(patched, controller)
    guider.set_conds(positive, negative)
    guider.set_cfg(cfg)
    return guider


def sample(model, setting: Setting, config: SweepConfig) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """(pictures (n, side, side), batch rows the diffusion model ran, truncated step indices) for one setting.

    A setting with a step cache samples one image at a time, as users run a cache: a cache decides from what it
    measures of the whole batch, so a batch would give every image one schedule. Its truncated steps are those
    of any image. Image i starts from the same noise either way (ComfyUI's per-image noise, batch_index i).
    """
    labels = config.labels()
    patched = prepared(model, setting)
    if setting.cache is None:
        return sample_images(patched, setting, config, labels, list(range(len(labels))))
    # One cache node for every image: core's cache clones its holder at the start of each sampling run.
    parts = [sample_images(patched, setting, config, labels[i:i + 1], [i]) for i in range(len(labels))]
    truncated = tuple(sorted(set().union(*(part[2] for part in parts))))
    return np.concatenate([part[0] for part in parts]), sum(part[1] for part in parts), truncated


def prepared(model, setting: Setting):
    """The model as the setting's graph holds it: behind CFG Renorm, core's CFGOverride and the step cache node
    where it asks."""
    from truncated_cfg.nodes.renorm import TruncatedCFGRenorm

    patched = TruncatedCFGRenorm.execute(model, setting.renorm_cfg, "lumina").result[0] if setting.renorm_cfg else model
    if setting.core_guider and setting.from_percent is not None:
        patched = with_core_override(patched, setting.from_percent)
    return with_step_cache(patched, setting.cache) if setting.cache else patched


def has_core_override() -> bool:
    """Whether this ComfyUI has core's CFGOverride node (0.33 on)."""
    import comfy_extras.nodes_custom_sampler as custom_sampler

    return hasattr(custom_sampler, "CFGOverride")


def with_core_override(model, start_percent: float):
    """The model through core's CFGOverride node at cfg 1 from ``start_percent`` to the end of the schedule."""
    from comfy_extras.nodes_custom_sampler import CFGOverride

    return CFGOverride.execute(model, 1.0, start_percent, 1.0).result[0]


def override_sigma(model, start_percent: float) -> float:
    """The highest sigma core's CFGOverride from ``start_percent`` covers (its range reaches down to sigma 0), so
    that the pack's sigma_low there truncates the very steps it does."""
    return float(model.get_model_object("model_sampling").percent_to_sigma(start_percent))


def sample_images(patched, setting: Setting, config: SweepConfig, labels: np.ndarray, batch_index: list[int]
                  ) -> tuple[np.ndarray, int, tuple[int, ...]]:
    """``sample`` for the images ``batch_index`` of the sweep (their labels ``labels``), in one batch, on the
    model ``prepared`` made for the setting."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    data = config.model.data
    positive, negative = conditioning(labels, config.model)
    cfg = 1.0 if setting.cfg_one else config.cfg
    guider = make_guider(patched, positive, negative, cfg, setting)
    sigmas = comfy.samplers.calculate_sigmas(patched.get_model_object("model_sampling"), config.scheduler, config.steps)
    side = data.LATENT_SIDE
    # batch_index: each image's own noise, drawn as ComfyUI draws it for image i of a batch (LatentFromBatch).
    latent = {"samples": torch.zeros(len(labels), data.CHANNELS, 1, side, side), "batch_index": batch_index}
    rows: list[int] = []
    # Counted at the networks themselves, whoever decided what ran: at each one's first layer, which runs
    # only when that network computes (a two-expert model's outer forward also wraps the low-noise calls).
    hooks = [network.patch_embedding.register_forward_hook(lambda mod, args, out: rows.append(out.shape[0]))
             for network in networks(patched)]
    # Without autograd, as ComfyUI's executor runs every node: otherwise whether the samples carry a graph
    # depends on the host and on what ran before in the process.
    try:
        with torch.inference_mode():
            out = SamplerCustomAdvanced().sample(Noise_RandomNoise(config.seed), guider,
                                                 comfy.samplers.sampler_object(config.sampler), sigmas, latent)
            # The sampler hands back ComfyUI's latent space; the model (and the picture) live behind process_in.
            model_space = patched.model.process_latent_in(out[0]["samples"])
    finally:
        for hook in hooks:
            hook.remove()
    ledger = guider.controller.last_ledger if hasattr(guider, "controller") else None
    truncated = tuple(s.index for s in ledger.steps if s.full is False) if ledger is not None else ()
    if setting.core_guider and setting.from_percent is not None:  # CFGOverride's steps: no ledger, but its range
        top = override_sigma(patched, setting.from_percent)
        truncated = tuple(i for i, sigma in enumerate(sigmas[:-1].tolist()) if sigma <= top)
    if ledger is not None and ledger.model_calls * len(labels) != sum(rows):
        raise AssertionError(f"{setting.label}: the ledger counts {ledger.model_calls} model calls, the network ran "
                             f"{sum(rows) / len(labels):g}")
    return np.asarray(data.from_model_space(model_space), dtype=np.float64), sum(rows), truncated


def step_caches_that_sample_batches() -> tuple[str, ...]:
    """The core cache nodes that can sample a batch of more than one image here: EasyCache before ComfyUI 0.3.65
    adds each branch's cache to the whole batch, which fails for more than one image (the sweep samples every
    cache row one image at a time, where both work)."""
    from truncated_cfg.nodes.host_version import parse_version, running_version
    from truncated_cfg.nodes.step_caches.easycache import SAMPLES_BATCHES_FROM

    version = parse_version(running_version() or "")
    return ("LazyCache", "EasyCache") if version is None or version >= SAMPLES_BATCHES_FROM else ("LazyCache",)


def with_step_cache(model, cache: StepCacheSetting):
    """The model through ComfyUI's own EasyCache or LazyCache node."""
    from devtools.core_nodes import with_step_cache as core_step_cache

    return core_step_cache(model, cache.node, cache.reuse_threshold, cache.start_percent, cache.end_percent)


def networks(model) -> list:
    """The diffusion networks a model runs: its own, and on a two-expert model the low-noise expert's too."""
    from truncated_cfg.nodes.models.expert_routing import experts_of

    routing = experts_of(model)
    own = [model.model.diffusion_model]
    return own if routing is None else own + [routing.low_noise.model.diffusion_model]


def drift(images: np.ndarray, reference: np.ndarray, span: float) -> float:
    """Mean |pixel - reference pixel| / the pictures' value span: how far a setting's pictures moved from full
    CFG's (same noise)."""
    return float(np.abs(images - reference).mean() / span)


def measure(model, setting: Setting, config: SweepConfig, judge,
            reference: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """(row, pictures) for one setting: calls per image, calls saved against full CFG, the judge's scores, and
    the drift from ``reference`` (full CFG's pictures from the same noise; 0 when this is the reference)."""
    start = time.perf_counter()
    images, rows, truncated = sample(model, setting, config)
    calls = rows / len(config.labels())
    scores = judge.score(images, config.labels())
    row = {"family": setting.family, "label": setting.label, "model_calls": calls,
           "model_calls_saved": 1.0 - calls / (2 * config.steps), "truncated_steps": list(truncated),
           **scores.as_dict(), "drift": 0.0 if reference is None else drift(images, reference, config.model.pixel_span),
           "seconds": time.perf_counter() - start}
    return row, images


def run_settings(model, settings: Sequence[Setting], config: SweepConfig, judge,
                 log: Callable[[str], None] = print) -> list[dict]:
    """One row per setting (see ``measure``); the first setting is the reference for drift (full CFG)."""
    results, reference = [], None
    for setting in settings:
        row, images = measure(model, setting, config, judge, reference)
        reference = images if reference is None else reference
        results.append(row)
        log(f"{setting.label:30} model calls {row['model_calls']:5.1f}/{2 * config.steps}  "
            f"accuracy {row['accuracy']:.3f}  "
            f"drift {row['drift']:.4f}  frechet {row['frechet']:7.2f}  ({row['seconds']:.1f} s)")
    return results


def run_sweep(settings: Sequence[Setting], config: SweepConfig, weights: Path | None = None,
              judge=None, log: Callable[[str], None] = print) -> list[dict]:
    """The settings on the config's harness model (its shipped weights unless ``weights``); the first must be full
    CFG (the drift reference)."""
    model = load_harness_model(weights or config.model.weights, config.shift, config.model)
    return run_settings(model, settings, config, judge or config.model.make_judge(), log)


def second_expert_weights(cache_dir: Path, log: Callable[[str], None] = print) -> Path:
    """A second digits model (the same training, seed 1), trained once into ``cache_dir`` (about a minute):
    the low-noise expert of the harness's two-expert model, whose guidance differs from the first's."""
    from quality import train_digits

    path = Path(cache_dir) / "digits_wan_seed1.safetensors"
    if not path.is_file():
        log(f"training the second expert (seed 1) into {path} ...")
        threads = torch.get_num_threads()
        try:
            if train_digits.main(["--seed", "1", "--out", str(path)]) != 0:
                raise RuntimeError("training the second digits expert failed")
        finally:
            torch.set_num_threads(threads)  # training pins its own thread count
    return path


def load_two_experts(high: Path, low: Path, shift: float, boundary: float):
    """The two digits models as one Wan A14B MODEL (the pack's Experts node): ``high`` above ``boundary``."""
    from truncated_cfg.nodes.models.wan_a14b import WanA14BExperts

    return WanA14BExperts.execute(load_harness_model(high, shift), load_harness_model(low, shift), "t2v",
                                  boundary).result[0]
