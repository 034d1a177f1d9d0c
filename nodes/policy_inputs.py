"""The truncation inputs shared by the guider and the model patch, with their tooltips.

Both nodes hand every input of this list on by name, as one dict, to ``TruncationPolicy.from_inputs``,
so a new rule is its field and test in ``sampling/policy.py`` (or ``run.py`` for one decided at run
time) and its declaration here; a new keep mode also needs its colour and legend label in the step strip
(``COLORS`` and ``LEGEND`` in ``web/js/step_strip.js``). New inputs go at the end: saved workflows store
widget values by position.
"""
from __future__ import annotations

from comfy_api.latest import io

from ..sampling.policy import CACHE_COORDINATE, KEEP_CHOICES, KEEP_COND, STEP_CACHE_CHOICES

STEP_LOCAL = ("Counted within the sigmas of the sampler node that runs it: with KSamplerAdvanced "
              "start/end steps, SplitSigmas or denoise < 1 the count is local to that part; use the "
              "sigma window for a split-proof rule.")


def policy_inputs() -> list:
    return [
        io.Int.Input(
            "cfg_truncate_steps", default=5, min=0, max=10000,
            tooltip=("Run only one CFG branch on the last N steps (the Wan 2.2 write-up's "
                     "--cfg_truncate_steps, default 5 there). 0 = off. More than the schedule's steps "
                     "truncates every step. " + STEP_LOCAL)),
        io.Float.Input(
            "cfg_trunc_ratio", default=1.0, min=0.0, max=1.0, step=0.01,
            tooltip=("diffusers' Lumina2Pipeline cfg_trunc_ratio: step i of N runs one branch when "
                     "(i + 1) / N > ratio. 1.0 = off (it does not 'fully enable' truncation); 0.25 "
                     "guides the first quarter of the steps, as Lumina's README recommends. " + STEP_LOCAL)),
        io.Combo.Input(
            "keep", options=list(KEEP_CHOICES), default=KEEP_COND,
            tooltip=("What a truncated step returns; it evaluates one branch either way. cond: the positive "
                     "prediction alone, exactly ComfyUI's cfg = 1 step (Lumina official, diffusers, guidance "
                     "interval). uncond: the negative prediction alone, the Wan write-up's literal behaviour. "
                     "reuse: the positive prediction guided by the latest full-CFG step's difference "
                     "(cond - uncond held constant in the model's output space, i.e. scaled by sigma in x0: "
                     "FasterCache's CFG cache); the picture stays close to full CFG's. reuse_extrapolated: the "
                     "difference extrapolated linearly in sigma from the latest two full steps (at most as far "
                     "ahead as they lie apart): closer still with cfg_every. Before the first full step reuse "
                     "keeps cond; after a Wan expert switch the first such step runs full CFG.")),
        io.Float.Input(
            "cfg_low_noise", default=0.0, min=0.0, max=100.0, step=0.1, round=0.01, optional=True,
            tooltip=("Guidance scale for calls routed to the low-noise expert of a Wan 2.2 A14B model (from "
                     "Wan A14B Loader / Experts); 0 = the same as cfg. Wan 2.2 T2V: cfg 4.0, cfg_low_noise 3.0. "
                     "Does nothing on other models.")),
        io.Float.Input(
            "sigma_low", default=0.0, min=0.0, max=10000.0, step=0.001, optional=True,
            tooltip=("Sigma window, lower end: full CFG only while the step's sigma is above this. "
                     "Lumina's official cfg_trunc = c is sigma_low = 1 - c (demo default 0.25 -> 0.75). "
                     "Independent of step counts, so it survives split samplers and denoise < 1. 0 = off.")),
        io.Float.Input(
            "sigma_high", default=0.0, min=0.0, max=10000.0, step=0.001, optional=True,
            tooltip=("Sigma window, upper end: full CFG only while the step's sigma is at or below this "
                     "(the guidance-interval paper limits both ends). 0 = no upper bound.")),
        io.Float.Input(
            "adaptive_threshold", default=0.0, min=0.0, max=1.0, step=0.001, optional=True,
            tooltip=("Adaptive Guidance (the paper's rule): once the positive and negative predictions agree "
                     "this well (cosine similarity of the model outputs, every image of the batch), every later "
                     "step runs one branch. 0 = off; 0.99 is a sensible start. Resets every run. On models whose "
                     "predictions already agree at pure noise it latches at once: use adaptive_decay there.")),
        io.Int.Input(
            "cfg_every", default=0, min=0, max=10000, optional=True,
            tooltip=("Full CFG on every k-th step (steps 0, k, 2k, ...), one branch on the others; 0 or 1 = off. "
                     "With keep = reuse_extrapolated, k = 8 of 20 steps saved 42.5 % of model calls at full "
                     "CFG's accuracy on the pack's quality harness (the node's help page). " + STEP_LOCAL)),
        io.Float.Input(
            "reuse_refresh", default=0.0, min=0.0, max=10.0, step=0.01, optional=True,
            tooltip=("keep = reuse only: a step the rules would truncate runs full CFG instead once the positive "
                     "prediction has moved by more than this since the latest full-CFG step (relative L2 change "
                     "of the model output, largest over the batch), measured on predictions already made, so it "
                     "costs no extra model call. 0 = off.")),
        io.Float.Input(
            "adaptive_decay", default=0.0, min=0.0, max=0.999, step=0.01, optional=True,
            tooltip=("Adaptive, by decay: once guidance moves the denoised prediction of every image by no more "
                     "than this fraction of the most it moved it earlier in the run (|cond - uncond| of the "
                     "denoised predictions, against its own peak), every later step runs one branch. 0 = off; "
                     "0.3 = stop guiding once guidance has lost 70 % of its peak effect. Resets every run.")),
        io.Combo.Input(
            "step_cache", options=list(STEP_CACHE_CHOICES), default=CACHE_COORDINATE, optional=True,
            tooltip=("With a step cache on the model (ComfyUI's EasyCache or LazyCache node, before or after this "
                     "one). coordinate: every full-CFG step runs at the network, so guidance is always measured "
                     "fresh and reuse never takes it from a cached output; the cache skips the steps in between. "
                     "independent: the cache decides alone (full steps it skips keep the previous guidance). "
                     "Does nothing without a step cache.")),
    ]
