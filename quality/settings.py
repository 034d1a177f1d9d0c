"""The settings the quality sweep compares: every policy of the pack, over a grid, plus the two ends.

Pure data: each setting is what a user would type into the Truncated CFG Guider (and CFG Renorm),
except the reuse variants, which name a way of carrying the guidance that the node does not offer
(``quality/reuse_estimates.py``) or keep cond after a Wan expert switch.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from sampling import keep, recipes
from sampling.rules import OFF

FULL = "full CFG"
NO_CFG = "no CFG (cfg 1)"
LAST_N = "last N"
RATIO = "ratio"
WINDOW = "sigma window"
ADAPTIVE = "adaptive (cosine)"
DECAY = "adaptive (decay)"
UNCOND_KEPT = "keep uncond"
RENORM = "renorm"
EVERY_COND = "every k, keep cond"
REUSE = "reuse"
REUSE_EXTRAPOLATED = "reuse_extrapolated"
REUSE_VARIANT = "reuse, other estimate"
REFRESH = "reuse + refresh"
CACHE_ALONE = "step cache alone (core CFGGuider)"
CACHE_ANSWERED = "step cache + the pack's cache answer, nothing truncated"
STACKED_INDEPENDENT = "pack + step cache, independent"
STACKED_COORDINATED = "pack + step cache, coordinate"
Z_IMAGE = "Z-Image's recipe"
SCHEDULE = "cfg_schedule"
CORE_TRUNCATION = "core's truncation (CFGOverride cfg 1)"
FAMILIES = (FULL, NO_CFG, CORE_TRUNCATION, LAST_N, RATIO, WINDOW, ADAPTIVE, DECAY, UNCOND_KEPT, RENORM, EVERY_COND,
            REUSE, REUSE_EXTRAPOLATED, REUSE_VARIANT, REFRESH, Z_IMAGE, SCHEDULE, CACHE_ALONE, CACHE_ANSWERED,
            STACKED_INDEPENDENT, STACKED_COORDINATED)
# Core's step caches over their threshold, stacked with reuse_extrapolated every k steps both ways.
CACHE_THRESHOLDS = {"LazyCache": (0.03, 0.05, 0.1, 0.2, 0.3), "EasyCache": (0.05, 0.1, 0.2, 0.3)}
CACHE_EVERY = (4, 8, 16)
# The default grid's (focused_cache_settings): three thresholds a cache; stacked with the pack at the README's
# recommendation (LazyCache 0.3 + every 8, coordinate), EasyCache at its middle threshold, and the neighbour
# (every 4).
FOCUSED_CACHE_THRESHOLDS = {"LazyCache": (0.05, 0.1, 0.3), "EasyCache": (0.05, 0.1, 0.2)}
RECOMMENDED_THRESHOLD = {"LazyCache": 0.3, "EasyCache": 0.1}
RECOMMENDED_EVERY, NEIGHBOUR_EVERY = 8, 4
# Core's own truncation: CFGOverride at cfg 1 over the last quarter and the last half of the schedule, as
# start_percent (the share of the model's sigma range before it).
CORE_OVERRIDE_FROM = (0.75, 0.5)

KEEP_UNCOND, KEEP_REUSE, KEEP_REUSE_EXTRAPOLATED = keep.UNCOND.name, keep.REUSE.name, keep.REUSE_EXTRAPOLATED.name


@dataclass(frozen=True)
class StepCacheSetting:
    """ComfyUI's EasyCache or LazyCache node with its inputs (their defaults: start 0.15, end 0.95)."""
    node: str  # "EasyCache" or "LazyCache"
    reuse_threshold: float
    start_percent: float = 0.15
    end_percent: float = 0.95

    @property
    def label(self) -> str:
        return f"{self.node} {self.reuse_threshold:g}"


@dataclass(frozen=True)
class Setting:
    family: str
    label: str
    policy: dict = field(default_factory=dict)  # Truncated CFG Guider inputs over OFF
    cfg_one: bool = False  # sample at cfg 1: ComfyUI runs one call a step and no guidance at all
    renorm_cfg: float = 0.0  # CFG Renorm (lumina mode) in front of the guider; 0 = no Renorm node
    estimate: Optional[str] = None  # a reuse estimate of quality/reuse_estimates.py instead of the keep mode's own
    full_cfg_after_switch: bool = True  # False: keep cond after a Wan expert switch until the next full step
    cache: Optional[StepCacheSetting] = None  # a core step cache node on the model, in front of the guider
    core_guider: bool = False  # ComfyUI's own CFGGuider instead of the pack's (a cache alone, as users run it)
    # The last part of the schedule from this start_percent on (CFGOverride's percent of the model's sigma range):
    # with core_guider, core's CFGOverride at cfg 1 there (core's own truncation, keeping cond); otherwise the
    # pack truncates the very same steps (sigma_low at that percent's sigma, which CFGOverride's range ends at).
    from_percent: Optional[float] = None

    def guider_inputs(self) -> dict:
        return {**OFF, **self.policy}

    @property
    def node_only(self) -> bool:
        """Whether a user can set this up in the graph editor (no harness-only reuse option)."""
        return self.estimate is None and self.full_cfg_after_switch


def every_extrapolated(k: int) -> Setting:
    """The pack alone: full CFG every k steps, reuse_extrapolated between."""
    return Setting(REUSE_EXTRAPOLATED, f"every {k}, reuse_extrapolated",
                   {"cfg_every": k, "keep": KEEP_REUSE_EXTRAPOLATED})


def cache_alone_and_answered(cache: StepCacheSetting) -> list[Setting]:
    """A core cache alone under core CFGGuider, and under the pack with every rule off (its calls get the held
    answer)."""
    return [Setting(CACHE_ALONE, f"{cache.label} alone", cache=cache, core_guider=True),
            Setting(CACHE_ANSWERED, f"{cache.label}, cache answer", {"step_cache": "coordinate"}, cache=cache)]


def stacked(cache: StepCacheSetting, k: int, mode: str) -> Setting:
    """A core cache and the pack's every k reuse_extrapolated, ``mode`` coordinate or independent."""
    family = STACKED_COORDINATED if mode == "coordinate" else STACKED_INDEPENDENT
    return Setting(family, f"{cache.label} + every {k}, {mode}",
                   {"cfg_every": k, "keep": KEEP_REUSE_EXTRAPOLATED, "step_cache": mode}, cache=cache)


def reuse_settings(steps: int) -> list[Setting]:
    """keep = reuse and reuse_extrapolated against keep = cond on the same steps, the estimates the node does
    not offer (x0, FasterCache's frequency weighting), and the refresh."""
    out = []
    for k in (2, 3, 4, 5, 8, 10):
        out.append(Setting(EVERY_COND, f"every {k}, keep cond", {"cfg_every": k}))
        out.append(Setting(REUSE, f"every {k}, reuse", {"cfg_every": k, "keep": KEEP_REUSE}))
        out.append(every_extrapolated(k))
    out += [Setting(REUSE, f"last {n}, reuse", {"cfg_truncate_steps": n, "keep": KEEP_REUSE})
            for n in sorted({steps // 4, steps // 2, 3 * steps // 4})]
    first = max(1, steps // 7)
    out.append(Setting(REUSE, f"first {first} only, reuse", {"cfg_trunc_ratio": first / steps, "keep": KEEP_REUSE}))
    out.append(Setting(REUSE_EXTRAPOLATED, f"first {first} only, reuse_extrapolated",
                       {"cfg_trunc_ratio": first / steps, "keep": KEEP_REUSE_EXTRAPOLATED}))
    for estimate in ("x0", "frequency"):
        for k in (3, 5):
            out.append(Setting(REUSE_VARIANT, f"every {k}, reuse ({estimate})", {"cfg_every": k, "keep": KEEP_REUSE},
                               estimate=estimate))
    # The refresh alone decides: every step after the first is truncated unless the prediction moved.
    for threshold in (0.1, 0.15, 0.2, 0.3, 0.5, 0.7):
        out.append(Setting(REFRESH, f"refresh {threshold}",
                           {"cfg_trunc_ratio": 1 / steps, "keep": KEEP_REUSE, "reuse_refresh": threshold}))
    out.append(Setting(REFRESH, "every 8 + refresh 0.2", {"cfg_every": 8, "keep": KEEP_REUSE, "reuse_refresh": 0.2}))
    return out


def _scales(values) -> str:
    return ", ".join(f"{v:.3g}" for v in values)


def recipe_settings(steps: int, cfg: float) -> list[Setting]:
    """The recipes users copy, at the sweep's ``cfg``: Z-Image's truncation with its normalisation (through
    sampling/recipes.py, as the Z-Image workflow sets them; g = cfg - 1) and per-step cfg lists as
    WanVideoWrapper's and KJNodes' users write them (the steps at 1 one call each)."""
    out = []
    for c in (0.25, 0.5, 0.75):
        recipe = recipes.z_image(cfg - 1.0, cfg_truncation=c, cfg_normalization=1.0)
        out.append(Setting(Z_IMAGE, f"Z-Image c {c:g}, k 1", recipe.truncation, renorm_cfg=recipe.renorm_cfg))
    half, quarter = max(1, steps // 2), max(1, steps // 4)
    ramps = {
        "ramp to 1 over the run": [cfg - (cfg - 1.0) * i / (steps - 1) for i in range(steps)],
        "ramp to 1 over the first half": [cfg - (cfg - 1.0) * i / half for i in range(half)] + [1.0] * (steps - half),
        # Stronger early, none late: what a user tries to buy the late steps back with.
        "1.5 cfg for the first quarter, then 1": [1.5 * cfg] * quarter + [1.0] * (steps - quarter),
    }
    out += [Setting(SCHEDULE, f"schedule: {name}", {"cfg_schedule": _scales(values)}) for name, values in ramps.items()]
    return out


def sweep_settings(steps: int, cfg: float, with_core_override: bool = False) -> list[Setting]:
    """The full grid for a run of ``steps`` sampler steps at guidance ``cfg``; full CFG first (the other rows'
    reference); core's own truncation with ``with_core_override`` (a host with CFGOverride)."""
    if steps < 2:
        raise ValueError(f"the sweep needs at least 2 steps, got {steps}")
    stride = max(1, steps // 10)
    settings = [Setting(FULL, "full CFG"), Setting(NO_CFG, "cfg 1", cfg_one=True)]
    settings += core_truncation_settings() if with_core_override else []
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
    settings += [Setting(DECAY, f"decay {d}", {"adaptive_decay": d}) for d in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)]
    settings += [Setting(DECAY, f"decay {d}, reuse", {"adaptive_decay": d, "keep": KEEP_REUSE}) for d in (0.3, 0.5)]
    settings += [Setting(UNCOND_KEPT, f"last {n}, keep uncond", {"cfg_truncate_steps": n, "keep": KEEP_UNCOND})
                 for n in sorted({max(1, steps // 4), max(1, steps // 2)})]
    settings += [Setting(RENORM, "renorm 1.0, full CFG", renorm_cfg=1.0),
                 Setting(RENORM, f"renorm 1.0, last {steps // 2}", {"cfg_truncate_steps": steps // 2}, renorm_cfg=1.0)]
    return settings + reuse_settings(steps) + recipe_settings(steps, cfg)


def core_truncation_settings() -> list[Setting]:
    """Core's CFGOverride at cfg 1 over the last quarter and half of the schedule (ComfyUI 0.33 on), and the pack
    on the same steps at the same model calls: keep cond (core's picture, the check), reuse and
    reuse_extrapolated."""
    out = []
    for start in CORE_OVERRIDE_FROM:
        part = f"last {1 - start:.0%}"
        out.append(Setting(CORE_TRUNCATION, f"core CFGOverride cfg 1, {part}", core_guider=True, from_percent=start))
        out.append(Setting(LAST_N, f"{part}, keep cond", from_percent=start))
        out.append(Setting(REUSE, f"{part}, reuse", {"keep": KEEP_REUSE}, from_percent=start))
        out.append(Setting(REUSE_EXTRAPOLATED, f"{part}, reuse_extrapolated", {"keep": KEEP_REUSE_EXTRAPOLATED},
                           from_percent=start))
    return out


def focused_settings(steps: int, with_core_override: bool) -> list[Setting]:
    """The default grid: full CFG and cfg 1 (the two ends), core's own truncation where the host has it and the
    pack on the same steps, the pack's tail rule (last N, keep cond, at two N), reuse_extrapolated every 2, 3, 4
    and 8 steps, and the adaptive refresh."""
    settings = [Setting(FULL, "full CFG"), Setting(NO_CFG, "cfg 1", cfg_one=True)]
    settings += core_truncation_settings() if with_core_override else []
    settings += [Setting(LAST_N, f"last {n}", {"cfg_truncate_steps": n}) for n in sorted({steps // 4, steps // 2})]
    settings += [every_extrapolated(k) for k in (2, 3, 4, 8)]
    settings += [Setting(REFRESH, f"refresh {threshold}",
                         {"cfg_trunc_ratio": 1 / steps, "keep": KEEP_REUSE, "reuse_refresh": threshold})
                 for threshold in (0.1, 0.2)]
    return settings


def focused_cache_settings(nodes: tuple = tuple(FOCUSED_CACHE_THRESHOLDS)) -> list[Setting]:
    """The default grid's step-cache rows: full CFG, the pack alone at its recommendation and the neighbour; each
    cache of ``nodes`` alone and with the pack's cache answer (nothing truncated) at three thresholds; and at its
    recommended threshold, coordinated with the pack (every 8, the recommendation, and every 4, the neighbour) and
    stacked blindly (independent, every 8)."""
    settings = [Setting(FULL, "full CFG")]
    settings += [every_extrapolated(k) for k in (NEIGHBOUR_EVERY, RECOMMENDED_EVERY)]
    for node in nodes:
        for threshold in FOCUSED_CACHE_THRESHOLDS[node]:
            settings += cache_alone_and_answered(StepCacheSetting(node, threshold))
        cache = StepCacheSetting(node, RECOMMENDED_THRESHOLD[node])
        settings += [stacked(cache, RECOMMENDED_EVERY, "coordinate"), stacked(cache, NEIGHBOUR_EVERY, "coordinate"),
                     stacked(cache, RECOMMENDED_EVERY, "independent")]
    return settings


def cache_settings(nodes: tuple = tuple(CACHE_THRESHOLDS)) -> list[Setting]:
    """Full CFG, the pack alone (reuse_extrapolated every k), each core cache of ``nodes`` alone over its
    threshold, the cache under the pack with every rule off (the cache decides, the calls it answers get the
    pack's cache answer), and each stacked with the pack, the cache deciding alone (independent) and coordinated
    with it."""
    settings = [Setting(FULL, "full CFG")]
    settings += [every_extrapolated(k) for k in CACHE_EVERY]
    for node, thresholds in CACHE_THRESHOLDS.items():
        if node not in nodes:
            continue
        for threshold in thresholds:
            cache = StepCacheSetting(node, threshold)
            settings += cache_alone_and_answered(cache)
            settings += [stacked(cache, k, mode) for k in CACHE_EVERY for mode in ("independent", "coordinate")]
    return settings
