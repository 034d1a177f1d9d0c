"""The truncation inputs, one row each: the guider's and the model patch's inputs are made from this table.

A row is a node input: its type, node default, off value, bounds, tooltip and whether the node folds it
behind the frontend's advanced toggle; what values it accepts (and the words of the refusal); and, for a
rule, how it truncates a step and whether it can run full CFG again after truncated steps (which the pack
weighs against step caches that keep one cache per branch). ``nodes/policy_inputs.py`` declares the inputs
from the rows in this order, which is the order of the node's widgets: saved graphs store widget values by
position, so a new row goes at the end. ``OFF`` (every input off) is what tests and tools start from.

Rules decided from the step and the schedule have ``truncates``; the adaptive rules latch at run time
(``run.py``), and ``reuse_refresh`` runs full CFG where the others truncate (``keep.py``).
"""
from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence

from .keep import KEEP_MODES
from .official_rules import lumina_truncates, z_image_truncates

INT, FLOAT, CHOICE, TEXT = "int", "float", "choice", "text"
CACHE_COORDINATE = "coordinate"
CACHE_INDEPENDENT = "independent"

STEP_LOCAL = ("Counted within the sigmas of the sampler node that runs it: with KSamplerAdvanced start/end steps, "
              "SplitSigmas or denoise < 1 the count is local to that part; use the sigma window for a split-proof "
              "rule.")


def _never(value, step: int, schedule: Sequence[float]) -> bool:
    return False


def _off(value) -> bool:
    return False


@dataclass(frozen=True)
class PolicyInput:
    name: str
    type: str  # INT, FLOAT or CHOICE
    default: Any  # the node's default
    off: Any  # the value with which the input changes nothing
    tooltip: str
    accepts: Callable[[Any], bool] = lambda value: True
    allowed: str = ""  # what ``accepts`` takes, for the refusal "<name> must be <allowed>, got <value>"
    minimum: Optional[float] = None  # the widget's bounds
    maximum: Optional[float] = None
    step: Optional[float] = None
    round: Optional[float] = None
    choices: tuple[str, ...] = ()
    required: bool = False  # the first inputs are (saved API prompts name them); a new one is optional
    advanced: bool = False  # folded behind the frontend's advanced toggle, where the host has one
    # Rules only: whether the value truncates a step of a schedule; whether, when on, it latches at run time from
    # the predictions (run.py); whether it can run full CFG after truncated steps; a check against the other
    # inputs (a message, or None when they agree).
    truncates: Callable[[Any, int, Sequence[float]], bool] = _never
    latches: bool = False
    resumes: Callable[[Any], bool] = _off
    agrees: Callable[[Any, dict], Optional[str]] = lambda value, values: None


def _steps(schedule: Sequence[float]) -> int:
    return max(len(schedule) - 1, 0)


GUIDANCE_SCALE_MAX = 100.0  # the guider's cfg widget's upper bound, and a cfg_schedule's


@functools.lru_cache(maxsize=64)
def cfg_schedule_scales(text: str) -> tuple[float, ...]:
    """The guidance scale of each step in a ``cfg_schedule`` text: numbers separated by commas or spaces, in
    brackets or not, as WanVideoWrapper's and KJNodes' float lists print ("4, 4, 3.5, 1" or "[4.0, 4.0, 1.0]");
    empty = off. Refuses anything else by what is wrong."""
    words = [w for w in re.split(r"[\s,]+", text.strip().strip("[]()")) if w]
    scales = []
    for position, word in enumerate(words):
        try:
            scale = float(word)
        except ValueError:
            raise ValueError(f"cfg_schedule value {position + 1} is {word!r}, not a number: write the guidance "
                             "scale of each step, as in 4, 4, 3.5, 1") from None
        if not math.isfinite(scale) or not 0.0 <= scale <= GUIDANCE_SCALE_MAX:
            raise ValueError(f"cfg_schedule value {position + 1} is {word}: each scale must be in "
                             f"[0, {GUIDANCE_SCALE_MAX:g}]")
        scales.append(scale)
    return tuple(scales)


def scheduled_scale(text: str, step: int) -> Optional[float]:
    """Step ``step``'s scale in a ``cfg_schedule`` (its last value holds after the list ends); None when off."""
    scales = cfg_schedule_scales(text)
    return scales[min(step, len(scales) - 1)] if scales else None


def _accepts_schedule(text) -> bool:
    if not isinstance(text, str):
        return False
    cfg_schedule_scales(text)  # raises with what is wrong
    return True


INPUTS = (
    PolicyInput(
        "cfg_truncate_steps", INT, default=5, off=0, minimum=0, maximum=10000, required=True,
        accepts=lambda v: v >= 0, allowed="0 (off) or more",
        truncates=lambda v, step, schedule: v > 0 and step >= _steps(schedule) - v,
        tooltip=("Run only one CFG branch on the last N steps (the Wan 2.2 write-up's --cfg_truncate_steps, default "
                 "5 there). 0 = off. More than the schedule's steps truncates every step. " + STEP_LOCAL)),
    PolicyInput(
        "cfg_trunc_ratio", FLOAT, default=1.0, off=1.0, minimum=0.0, maximum=1.0, step=0.01, required=True,
        accepts=lambda v: 0.0 <= v <= 1.0, allowed="in [0, 1] (1.0 = off, as in diffusers)",
        # The same Python float expression as diffusers' Lumina2Pipeline, so the same steps on every N.
        truncates=lambda v, step, schedule: (step + 1) / _steps(schedule) > v,
        tooltip=("diffusers' Lumina2Pipeline cfg_trunc_ratio: step i of N runs one branch when (i + 1) / N > ratio. "
                 "1.0 = off (it does not 'fully enable' truncation); 0.25 guides the first quarter of the steps, as "
                 "Lumina's README recommends. " + STEP_LOCAL)),
    PolicyInput(
        "keep", CHOICE, default="cond", off="cond", choices=tuple(KEEP_MODES), required=True,
        accepts=lambda v: v in KEEP_MODES, allowed=f"one of {', '.join(KEEP_MODES)}",
        tooltip=("What a truncated step returns; it evaluates one branch either way. "
                 + " ".join(f"{mode.name}: {mode.description}" for mode in KEEP_MODES.values()))),
    PolicyInput(
        "cfg_low_noise", FLOAT, default=0.0, off=0.0, minimum=0.0, maximum=100.0, step=0.1, round=0.01,
        accepts=lambda v: v >= 0.0, allowed="0 (same as cfg) or more",
        tooltip=("Guidance scale for calls routed to the low-noise expert of a Wan 2.2 A14B model (from Wan A14B "
                 "Loader / Experts); 0 = the same as cfg. Wan 2.2 T2V: cfg 4.0, cfg_low_noise 3.0. Does nothing on "
                 "other models.")),
    PolicyInput(
        "sigma_low", FLOAT, default=0.0, off=0.0, minimum=0.0, maximum=10000.0, step=0.001,
        accepts=lambda v: v >= 0.0, allowed="0 (off) or more",
        truncates=lambda v, step, schedule: v > 0.0 and not schedule[step] > v,
        tooltip=("Sigma window, lower end: full CFG only while the step's sigma is above this; a step at exactly "
                 "this sigma runs one branch. Independent of step counts, so it survives split samplers and "
                 "denoise < 1. 0 = off. For Z-Image's or Lumina-Image-2.0's own truncation use "
                 "z_image_cfg_truncation or lumina_cfg_trunc, which decide the step at the boundary as their "
                 "official code does.")),
    PolicyInput(
        "sigma_high", FLOAT, default=0.0, off=0.0, minimum=0.0, maximum=10000.0, step=0.001, advanced=True,
        accepts=lambda v: v >= 0.0, allowed="0 (no upper bound) or more",
        truncates=lambda v, step, schedule: v > 0.0 and not schedule[step] <= v,
        resumes=lambda v: v > 0.0,
        agrees=lambda v, values: (
            None if v == 0.0 or values["sigma_low"] < v else
            f"sigma window is inverted or empty: sigma_low {values['sigma_low']} must be below sigma_high {v} "
            "(set sigma_high to 0 for no upper bound)"),
        tooltip=("Sigma window, upper end: full CFG only while the step's sigma is at or below this (the "
                 "guidance-interval paper limits both ends). 0 = no upper bound.")),
    PolicyInput(
        "adaptive_threshold", FLOAT, default=0.0, off=0.0, minimum=0.0, maximum=1.0, step=0.001, advanced=True,
        latches=True,
        accepts=lambda v: 0.0 <= v <= 1.0, allowed="in [0, 1] (0 = off, 0.99 is a sensible start)",
        tooltip=("Adaptive Guidance (the paper's rule): once the positive and negative predictions agree this well "
                 "(cosine similarity of the model outputs, every image of the batch), every later step runs one "
                 "branch. 0 = off; 0.99 is a sensible start. Resets every run. On models whose predictions already "
                 "agree at pure noise it latches at once: use adaptive_decay there.")),
    PolicyInput(
        "cfg_every", INT, default=0, off=0, minimum=0, maximum=10000,
        accepts=lambda v: v >= 0, allowed="0 (off) or a number of steps k (full CFG every k-th step)",
        truncates=lambda v, step, schedule: v > 1 and step % v != 0,
        resumes=lambda v: v > 1,
        tooltip=("Full CFG on every k-th step (steps 0, k, 2k, ...), one branch on the others; 0 or 1 = off. With "
                 "keep = reuse_extrapolated on the pack's shapes harness, k = 4 of 20 euler steps (37.5 % of model "
                 "calls saved) and k = 8 of 40 UniPC steps (43.8 %) stayed at full CFG's picture; k = 8 of 20 "
                 "steps drifted further (the node's help page). " + STEP_LOCAL)),
    PolicyInput(
        "reuse_refresh", FLOAT, default=0.0, off=0.0, minimum=0.0, maximum=10.0, step=0.01, advanced=True,
        accepts=lambda v: v >= 0.0, allowed="0 (off) or a positive relative change",
        resumes=lambda v: v > 0.0,
        agrees=lambda v, values: (
            None if v == 0.0 or KEEP_MODES[values["keep"]].learns_guidance else
            f"reuse_refresh refreshes reused guidance: it needs keep = reuse, got keep = {values['keep']} "
            "(set reuse_refresh to 0, or keep to reuse)"),
        tooltip=("keep = reuse only: a step the rules would truncate runs full CFG instead once the positive "
                 "prediction has moved by more than this since the latest full-CFG step (relative L2 change of the "
                 "model output, largest over the batch), measured on predictions already made, so it costs no extra "
                 "model call. 0 = off.")),
    PolicyInput(
        "adaptive_decay", FLOAT, default=0.0, off=0.0, minimum=0.0, maximum=0.999, step=0.01, advanced=True,
        latches=True,
        accepts=lambda v: 0.0 <= v < 1.0,
        allowed="in [0, 1) as a fraction of the guidance difference's peak (0 = off)",
        tooltip=("Adaptive, by decay: once guidance moves the denoised prediction of every image by no more than "
                 "this fraction of the most it moved it earlier in the run (|cond - uncond| of the denoised "
                 "predictions, against its own peak), every later step runs one branch. 0 = off; 0.3 = stop guiding "
                 "once guidance has lost 70 % of its peak effect. Resets every run.")),
    PolicyInput(
        "step_cache", CHOICE, default=CACHE_COORDINATE, off=CACHE_COORDINATE,
        choices=(CACHE_COORDINATE, CACHE_INDEPENDENT), advanced=True,
        accepts=lambda v: v in (CACHE_COORDINATE, CACHE_INDEPENDENT),
        allowed=f"one of {CACHE_COORDINATE}, {CACHE_INDEPENDENT}",
        tooltip=("With a step cache on the model (ComfyUI's EasyCache or LazyCache node, before or after this one). "
                 "coordinate: the cache decides which calls it answers, as it would alone, except the full-CFG steps "
                 "the pack learns from (keep reuse, the adaptive rules), which always run at the network; the calls "
                 "it answers get the network's latest outputs carried forward, closer to full CFG's picture than "
                 "the cache's own answer. independent: the cache decides and answers alone. Does nothing without a "
                 "step cache.")),
    PolicyInput(
        "cfg_schedule", TEXT, default="", off="", advanced=True,
        accepts=_accepts_schedule, allowed="a text of guidance scales, one per step (4, 4, 3.5, 1)",
        truncates=lambda v, step, schedule: scheduled_scale(v, step) == 1.0,
        agrees=lambda v, values: (
            None if not v or values["cfg_low_noise"] == 0.0 else
            f"cfg_schedule sets the scale of every step, the low-noise expert's too: set cfg_low_noise to 0 "
            f"(got {values['cfg_low_noise']}) and write its steps' scales into the schedule"),
        tooltip=("A guidance scale per step, in place of cfg: '4, 4, 4, 3, 1, 1' (WanVideoWrapper's per-step cfg, "
                 "KJNodes' ScheduledCFGGuidance as a list). A step at 1 runs one branch and counts as truncated "
                 "(what keep says it returns); any other step is full CFG at its own scale, and a reuse step reuses "
                 "at it. After the list ends its last value holds. Empty = off (cfg for every step). Core's "
                 "CFGOverride, where it is on, still wins. " + STEP_LOCAL)),
    PolicyInput(
        "z_image_cfg_truncation", FLOAT, default=1.0, off=1.0, minimum=0.0, maximum=1.0, step=0.01, advanced=True,
        accepts=lambda v: 0.0 <= v <= 1.0, allowed="in [0, 1] (1.0 = off, as in Z-Image)",
        truncates=lambda v, step, schedule: z_image_truncates(schedule[step], v),
        tooltip=("Z-Image's own cfg_truncation c (diffusers ZImagePipeline): a step runs one branch where its "
                 "normalised time t_norm = (1000 - 1000 sigma) / 1000, in float32 as the pipeline computes it, is "
                 "above c. The step at exactly sigma = 1 - c is still guided (sigma_low 1 - c would not guide it). "
                 "1.0 = off. Independent of step counts.")),
    PolicyInput(
        "lumina_cfg_trunc", FLOAT, default=100.0, off=100.0, minimum=0.0, maximum=100.0, step=0.01, advanced=True,
        accepts=lambda v: 0.0 <= v <= 100.0, allowed="in [0, 100] (100 = off, Lumina's own default)",
        truncates=lambda v, step, schedule: lumina_truncates(schedule[step], v),
        tooltip=("Lumina-Image-2.0's own cfg_trunc c (its forward_with_cfg; the demo's 'CFG Truncation', 0.25 "
                 "there): full CFG while the model's time t = 1 - sigma is below c, compared in float32 as the "
                 "official code compares; the step at exactly t = c runs one branch. 100 = off (the official "
                 "default), as core's RenormCFG. Independent of step counts.")),
)
BY_NAME = {row.name: row for row in INPUTS}
OFF = {row.name: row.off for row in INPUTS}
STATIC_RULES = tuple(row for row in INPUTS if row.truncates is not _never)
# The inputs that decide which steps run full CFG (the others say what a truncated step does, and how).
RULES = tuple(row for row in INPUTS if row in STATIC_RULES or row.latches or row.resumes is not _off)
