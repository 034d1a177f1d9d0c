"""What each truncation setting costs in quality, measured on the harness models through ComfyUI's real sampler.

Each harness model (quality/harness_models.py: the digits model and the shapes model of quality/weights, both by
default, or one with --model and optionally its --weights) is sampled once per setting of the sweep (every policy
of the pack over a grid: keep cond, uncond, reuse and reuse_extrapolated, the refresh, the adaptive latches, CFG
Renorm, the recipes, full CFG and cfg 1 as the two ends), from the same noise, once per sampler. The model's own
judge, which never saw the generator, scores each run, and the drift says how far its pictures moved from full
CFG's. Then the reused guidance at a Wan expert switch, on a two-expert digits model, and core's step caches
(LazyCache, EasyCache) alone, under the pack with every rule off, stacked with the pack independently and
coordinated with it, each image sampled alone (its own cache decisions). Settings are picked on one seed and
reported on another, with full CFG's own seed-to-seed spread measured beside them (quality/noise_floor.py).
Writes docs/quality.md for the digits model and docs/quality_shapes.md for the shapes model (tables and picks),
their .json and one Pareto plot per sampler and per step-cache run, and prints the tables. The two-expert
section is the digits model's alone (its second expert is a second training, about a minute).

The default grid (quality/settings.py focused_settings and focused_cache_settings) runs the rows users choose
between at 20 euler and 40 UniPC steps, in under 40 minutes on 2 cores for the shapes model; --full runs every
setting and every cache threshold.

usage: python benchmarks/quality_harness.py [--model all|digits|shapes] [--weights PATH] [--per-class MODEL'S]
                                            [--steps 20] [--cfg 2.0] [--shift MODEL'S] [--full]
                                            [--samplers euler:20,uni_pc:40] [--cache-runs euler:20,uni_pc:40]
                                            [--cache-per-class 10] [--no-experts] [--no-long-run] [--out-dir docs]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))

from devtools.host import start_script  # noqa: E402

EXPERT_BOUNDARY = 0.875  # Wan 2.2 T2V's: with 20 simple steps the low-noise expert takes over at step 3
LONG_RUN = ("uni_pc", 40)  # the Wan workflows' sampler and step count
# What the pack with a step cache must save at full CFG's picture (the cache-stacking issue's targets).
CACHE_TARGETS = {("euler", 20): 0.60, ("uni_pc", 40): 0.70}
WORKFLOW_CACHE = "LazyCache 0.3 + every 8, coordinate"  # the settings of workflows/wan22_t2v_a14b_reuse_cache
CACHE_DIR = PACK_ROOT / "out" / "quality"
OUTSIDE_FLOOR = " (outside full CFG's spread on the report seed)"


def parse_args(argv=None):
    from quality.harness_models import MODELS
    from quality.sweep import SweepConfig

    d = SweepConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["all", *MODELS], default="all",
                        help="the harness model; all: each in turn, each into its own report")
    parser.add_argument("--weights", type=Path, default=None,
                        help="the model's weights file, with one --model (default: the shipped one)")
    parser.add_argument("--per-class", type=int, default=None,
                        help="samples per class (default: the model's own, quality/harness_models.py: digits 200, "
                             "shapes 20)")
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--cfg", type=float, default=d.cfg)
    parser.add_argument("--shift", type=float, default=None,
                        help="ModelSamplingSD3 shift (default: each model's own, quality/harness_models.py)")
    parser.add_argument("--samplers", default="euler:20,uni_pc:40",
                        help="the grid's runs, comma-separated sampler[:steps] (steps: --steps when left out); the "
                             "first is the headline")
    parser.add_argument("--full", action="store_true",
                        help="every setting of the sweep and every cache threshold, instead of the default grid "
                             "(quality/settings.py: focused_settings, focused_cache_settings)")
    parser.add_argument("--scheduler", default=d.scheduler)
    parser.add_argument("--no-experts", action="store_true",
                        help="skip the two-expert section (the digits model's; other models never run it)")
    parser.add_argument("--cache-runs", default="euler:20,uni_pc:40",
                        help="sampler:steps runs of the step-cache section, comma-separated; empty to skip it")
    parser.add_argument("--cache-per-class", type=int, default=None,
                        help="samples per class in the step-cache section, each sampled alone (default: the "
                             "model's own, 10)")
    parser.add_argument("--no-long-run", action="store_true",
                        help=f"skip the reuse settings at {LONG_RUN[1]} {LONG_RUN[0]} steps")
    parser.add_argument("--out-dir", type=Path, default=PACK_ROOT / "docs")
    parser.add_argument("--report", default=None,
                        help="the report's file name stem in --out-dir, with one --model (default: quality for the "
                             "digits model, quality_<name> for the others), e.g. quality_uni_pc_40 for one run of many")
    args = parser.parse_args(argv)
    if args.weights is not None and args.model == "all":
        parser.error("--weights names one model's file; add --model digits or --model shapes")
    if args.report is not None and args.model == "all":
        parser.error("--report names one model's report; add --model digits or --model shapes")
    args.models = list(MODELS.values()) if args.model == "all" else [MODELS[args.model]]
    if any(count is not None and count < 2 for count in (args.per_class, args.cache_per_class)):
        parser.error("--per-class and --cache-per-class must be at least 2 (diversity compares samples within a "
                     "class)")
    try:
        args.runs = [(run.split(":")[0], int(run.split(":")[1]) if ":" in run else args.steps)
                     for run in args.samplers.split(",") if run]
    except ValueError:
        parser.error(f"--samplers takes sampler[:steps] entries, e.g. euler:20,uni_pc:40; got {args.samplers!r}")
    args.samplers = [sampler for sampler, _ in args.runs]
    try:
        args.cache_runs = [(run.split(":")[0], int(run.split(":")[1])) for run in args.cache_runs.split(",") if run]
    except (IndexError, ValueError):
        parser.error(f"--cache-runs takes sampler:steps pairs, e.g. euler:20,uni_pc:40; got {args.cache_runs!r}")
    return args


def expert_settings():
    """The expert switch: reuse's shipped behaviour (full CFG on the first step after it) against keeping cond
    until the next full step, with a full step soon after the switch (every 4) and long after it (every 8)."""
    from quality.settings import EVERY_COND, FULL, REUSE, REUSE_EXTRAPOLATED, Setting

    settings = [Setting(FULL, "full CFG")]
    for k in (4, 8):
        settings.append(Setting(EVERY_COND, f"every {k}, keep cond", {"cfg_every": k}))
        for keep, family in (("reuse", REUSE), ("reuse_extrapolated", REUSE_EXTRAPOLATED)):
            settings += [Setting(family, f"every {k}, {keep}, full CFG after the switch",
                                 {"cfg_every": k, "keep": keep}),
                         Setting(family, f"every {k}, {keep}, cond after the switch",
                                 {"cfg_every": k, "keep": keep}, full_cfg_after_switch=False)]
    return settings


def long_run_settings(steps: int):
    """Reuse at the Wan workflows' step count: every 8 (the example workflow's) and every 16."""
    from quality.settings import EVERY_COND, FULL, REUSE, REUSE_EXTRAPOLATED, Setting

    return [Setting(FULL, "full CFG"), Setting(EVERY_COND, "every 8, keep cond", {"cfg_every": 8}),
            Setting(REUSE, "every 8, reuse", {"cfg_every": 8, "keep": "reuse"}),
            Setting(REUSE_EXTRAPOLATED, "every 8, reuse_extrapolated", {"cfg_every": 8, "keep": "reuse_extrapolated"}),
            Setting(REUSE_EXTRAPOLATED, f"every {steps // 2.5:.0f}, reuse_extrapolated",
                    {"cfg_every": int(steps // 2.5), "keep": "reuse_extrapolated"})]


def picked_lines(picked, report_rows, floor, extra=lambda r: "") -> list[str]:
    """The settings picked on the tuning seed, as the report seed scores them, and whether they stay at full
    CFG's picture there (within the noise floor)."""
    from quality.noise_floor import reported
    from quality.report import reference_row

    ref = reference_row(report_rows)
    return [f"- **{r['label']}** ({r['family']}): {r['model_calls_saved']:.1%} of model calls saved, accuracy "
            f"{r['accuracy']:.3f}{extra(r)}, drift {r['drift']:.4f}, Fréchet {r['frechet']:.2f}"
            + ("" if floor.holds(r, ref) else OUTSIDE_FLOOR) for r in reported(picked, report_rows)] or ["- none"]


def seeds_line(floor) -> str:
    from quality.noise_floor import REPORT_SEED, SAME_PICTURE_DRIFT, TUNE_SEED

    return (f"Settings are picked on seed {TUNE_SEED} and every number here is seed {REPORT_SEED}'s. Noise floor: "
            f"{floor.describe()}; \"full CFG's picture\" means accuracy within that spread of full CFG's from the same "
            f"noise, Fréchet at most that spread above full CFG's, and drift at most {SAME_PICTURE_DRIFT}.")


def equal_calls_lines(report_rows, floor) -> list[str]:
    """Core's own truncation (CFGOverride at cfg 1) against the pack at the same model calls: the pack on the very
    same steps (keep cond, which must be core's picture, reuse, reuse_extrapolated), and the pack's reuse row
    nearest full CFG's picture among those that run no more calls."""
    from quality.report import reference_row
    from quality.settings import CORE_TRUNCATION, REFRESH, REUSE, REUSE_EXTRAPOLATED

    reuse_families = (REUSE, REUSE_EXTRAPOLATED, REFRESH)

    ref = reference_row(report_rows)
    core = [r for r in report_rows if r["family"] == CORE_TRUNCATION]
    if not core:
        return []

    def line(r, beside=None):
        keys = ("accuracy", "frechet", "drift")
        better = "" if beside is None else " (core's picture)" if all(r[k] == beside[k] for k in keys) else (
            " (better than core on accuracy, Fréchet and drift)" if r["accuracy"] >= beside["accuracy"]
            and r["frechet"] <= beside["frechet"] and r["drift"] <= beside["drift"] else
            " (worse than core on accuracy, Fréchet and drift)" if r["accuracy"] <= beside["accuracy"]
            and r["frechet"] >= beside["frechet"] and r["drift"] >= beside["drift"] else " (mixed against core)")
        return (f"  - {r['label']}: {r['model_calls']:.1f} calls, accuracy {r['accuracy']:.3f}, Fréchet "
                f"{r['frechet']:.2f}, drift {r['drift']:.4f}" + ("" if floor.holds(r, ref) else OUTSIDE_FLOOR)
                + better)

    lines = ["", "Core's own truncation against the pack at equal model calls (CFGOverride at cfg 1 over the last "
             "part of the schedule keeps cond; the pack's rows below truncate the same steps):", ""]
    for r in core:
        part = r["label"].split(", ")[-1]
        same = [s for s in report_rows if s["family"] != CORE_TRUNCATION and s["label"].startswith(f"{part}, ")]
        cheaper = [s for s in report_rows if s["family"] in reuse_families and s not in same
                   and s["model_calls"] <= r["model_calls"] + 1e-9]
        nearest = sorted(cheaper, key=lambda s: (not floor.holds(s, ref), s["drift"]))[:1]
        lines += [f"- **{r['label']}**: {r['model_calls']:.1f} calls, accuracy {r['accuracy']:.3f}, Fréchet "
                  f"{r['frechet']:.2f}, drift {r['drift']:.4f}" + ("" if floor.holds(r, ref) else OUTSIDE_FLOOR)]
        lines += [line(s, r) for s in same]
        lines += [line(s, r).replace("  - ", "  - the pack's reuse nearest full CFG at no more calls: ", 1)
                  for s in nearest]
    return lines


def sampler_section(sampler: str, run, plot_name: str) -> list[str]:
    from quality.report import TOLERANCE, markdown_table, picks, reference_row, same_picture_picks

    tune_rows, report_rows, floor = run.tune, run.report, run.floor
    ref = reference_row(report_rows)
    quarter = [r for r in tune_rows if r["model_calls_saved"] >= 0.25 - 1e-9 and r["drift"] > 0]
    lowest = [min(quarter, key=lambda r: r["drift"])] if quarter else []
    lines = [f"## {sampler}, {run.steps} steps", "", seeds_line(floor), "",
             f"Full CFG: accuracy {ref['accuracy']:.3f}, Fréchet {ref['frechet']:.2f}. The picture full CFG makes "
             "with the most calls saved:", ""]
    lines += picked_lines(same_picture_picks(tune_rows, floor), report_rows, floor)
    if lowest:
        lines += ["", "Lowest drift saving at least 25 %:", ""] + picked_lines(lowest, report_rows, floor)
    lines += ["", f"Settings saving the most calls within {TOLERANCE:.0%} (absolute) of full CFG's accuracy:", ""]
    lines += picked_lines(picks(tune_rows), report_rows, floor,
                          lambda r: f" ({r['accuracy'] - ref['accuracy']:+.3f})")
    lines += equal_calls_lines(report_rows, floor)
    lines += ["", f"![calls saved vs accuracy, drift and Fréchet, {sampler}]({plot_name})", "",
              markdown_table(report_rows, floor), ""]
    return lines


def cache_label(sampler: str, steps: int) -> str:
    return f"{sampler}, {steps} steps"


def report_stem(model) -> str:
    """The report's file names: docs/quality.* for the digits model (the first), quality_<name>.* for the others."""
    from quality.harness_models import DIGITS

    return "quality" if model is DIGITS else f"quality_{model.name}"


def cache_plot_name(stem: str, sampler: str, steps: int) -> str:
    return f"{stem}_caches_{sampler}_{steps}.png"


def cache_section(caches: dict, stem: str) -> list[str]:
    """The step caches: per run, the most saved at full CFG's picture by family (picked on the tuning seed,
    scored on the report seed), the target, the table."""
    from quality.noise_floor import reported
    from quality.report import markdown_table, reference_row, same_picture_picks_by_family

    lines = ["## With a step cache (core LazyCache and EasyCache)", "",
             "Every row here samples one image at a time, so each image gets its own cache decisions, as a user's "
             "run does (a cache decides from what it measures of the whole batch). "
             "Each core cache node on the model over its reuse_threshold (start 0.15, end 0.95), alone under core "
             "CFGGuider, and under the Truncated CFG Guider with every rule off (nothing truncated; a call the "
             "cache answers gets the pack's cache answer); the pack alone (reuse_extrapolated every k steps); and "
             "both stacked, the cache deciding "
             "alone (`step_cache` independent) or coordinated with the pack (coordinate: every full-CFG step "
             "runs at the network, and a call or branch the cache answers gets the network's latest outputs "
             "carried in model-output space). Model calls saved count the branches the network ran (at its first "
             "layer), against full CFG's two a step.", ""]
    for (sampler, steps), run in caches.items():
        target = CACHE_TARGETS.get((sampler, steps))
        ref = reference_row(run.report)
        lines += [f"### {cache_label(sampler, steps)}", "", seeds_line(run.floor), "",
                  "The most model calls saved at full CFG's picture, per family" +
                  (f"; the target is {target:.0%}:" if target else ":"), ""]
        for family, picked in same_picture_picks_by_family(run.tune, run.floor).items():
            best = reported(picked[:1], run.report)[0] if picked else None
            holds = best is not None and run.floor.holds(best, ref)
            met = "" if best is None else (OUTSIDE_FLOOR if not holds else
                                           "" if target is None else " (target met)"
                                           if best["model_calls_saved"] >= target - 1e-9 else " (below the target)")
            lines.append(f"- {family}: " + ("none" if best is None else
                         f"**{best['label']}**, {best['model_calls_saved']:.1%} saved, accuracy "
                         f"{best['accuracy']:.3f}, drift {best['drift']:.4f}, Fréchet {best['frechet']:.2f}{met}"))
        workflow = [r for r in run.report if r["label"] == WORKFLOW_CACHE]
        if workflow:
            r = workflow[0]
            lines += ["", f"The example workflow `wan22_t2v_a14b_reuse_cache`'s settings ({WORKFLOW_CACHE}): "
                          f"{r['model_calls_saved']:.1%} saved, accuracy {r['accuracy']:.3f}, drift {r['drift']:.4f}, "
                          f"Fréchet {r['frechet']:.2f}."]
        lines += ["", f"![model calls saved vs drift, {cache_label(sampler, steps)}]"
                      f"({cache_plot_name(stem, sampler, steps)})", "", markdown_table(run.report, run.floor), ""]
    return lines


def report_text(sections: dict, experts, long_run, config, judge, command: str, seconds: float,
                caches: dict, core_note: str = "", stem: str = "") -> str:
    """The report of one harness model (``config.model``), its plots named after ``stem`` (default: the model's)."""
    import torch

    from quality.noise_floor import FLOOR_SEEDS, REPORT_SEED, TUNE_SEED
    from quality.report import markdown_table

    lines = [
        f"# Quality harness: {config.model.name}",
        "",
        f"What this is: {config.model.about}, sampled through ComfyUI's SamplerCustomAdvanced "
        "with the Truncated CFG Guider. It is not Lumina 2 or Wan 2.2; it shows how truncation trades calls "
        "for quality on a model where both can be measured, not what a 14B model will do.",
        "",
        f"Run: `{command}`: {config.per_class} samples per class, "
        f"{', '.join(f'{run.steps} {sampler} steps' for sampler, run in sections.items())} ({config.scheduler}), "
        f"cfg {config.cfg}, shift {config.shift}; settings picked on seed "
        f"{TUNE_SEED}, every table from seed {REPORT_SEED}, full CFG also from seeds "
        f"{', '.join(map(str, FLOOR_SEEDS))} for the noise floor; torch {torch.__version__}; {seconds:.0f} s on "
        f"{time.strftime('%Y-%m-%d')}.",
        "",
        f"{judge.describe()} Drift is the mean |pixel − full CFG's pixel| / {config.model.pixel_span:g} (the "
        "pictures' value span) for the same noise: 0 is full CFG's picture. Model calls are the branches of CFG "
        "the network ran per image (full CFG: two a step), counted at its first layer.",
        "",
    ]
    if core_note:
        lines += [core_note, ""]
    for i, (sampler, run) in enumerate(sections.items()):
        lines += sampler_section(sampler, run, plot_name(stem or report_stem(config.model), i, sampler))
    if long_run:
        lines += [f"## Reuse at the Wan workflows' step count ({LONG_RUN[1]} {LONG_RUN[0]} steps)", "",
                  "The harness's grid runs 20 steps; the example Wan workflows run 40 UniPC steps, where a full-CFG "
                  "step every 8 steps is twice as dense per noise level.", "", markdown_table(long_run), ""]
    if experts:
        lines += [f"## Reused guidance at a Wan expert switch ({next(iter(sections))})", "",
                  "The digits model as the high-noise expert and the same training with seed 1 as the low-noise "
                  f"one, joined by the Wan A14B Experts node at boundary {EXPERT_BOUNDARY} (the low-noise expert "
                  "from step 3 of 20, a reuse step of every 4). Drift against full CFG on the same two experts. "
                  "The pack never applies one expert's difference to the other: the first reuse step after the "
                  "switch runs full CFG (what ships), or keeps cond until the next full step.", "",
                  markdown_table(experts), ""]
    if caches:
        lines += cache_section(caches, stem or report_stem(config.model))
    return "\n".join(lines)


@dataclass(frozen=True)
class Measured:
    """One section's settings on the tuning seed and on the report seed, and full CFG's noise floor."""
    tune: list
    report: list
    floor: object  # quality.noise_floor.NoiseFloor
    steps: int


def tuned_and_reported(model, settings, config, judge) -> Measured:
    """``settings`` on the tuning seed and on ``config``'s (the report seed), and full CFG on the floor seeds (the
    first setting must be full CFG)."""
    from dataclasses import replace

    from quality.noise_floor import FLOOR_SEEDS, TUNE_SEED, NoiseFloor
    from quality.settings import FULL, Setting
    from quality.sweep import run_settings

    print(f"-- tuning seed {TUNE_SEED}", flush=True)
    tune = run_settings(model, settings, replace(config, seed=TUNE_SEED), judge)
    print(f"-- report seed {config.seed}", flush=True)
    report = run_settings(model, settings, config, judge)
    print(f"-- full CFG, seeds {', '.join(map(str, FLOOR_SEEDS))}", flush=True)
    floor_rows = [run_settings(model, [Setting(FULL, "full CFG")], replace(config, seed=seed), judge,
                               log=lambda line: None)[0] for seed in FLOOR_SEEDS]
    return Measured(tune, report, NoiseFloor.of([tune[0], report[0]] + floor_rows), config.steps)


def plot_name(stem: str, index: int, sampler: str) -> str:
    return f"{stem}_pareto.png" if index == 0 else f"{stem}_pareto_{sampler}.png"


def run_model(harness, weights: Path, args, command: str) -> None:
    """One harness model's sweep, long run, expert switch and step caches, into its own report."""
    from dataclasses import replace

    from quality.harness_models import DIGITS
    from quality.noise_floor import FLOOR_SEEDS, REPORT_SEED, TUNE_SEED
    from quality.report import markdown_table, plot_cache_front, plot_pareto
    from quality.settings import cache_settings, focused_cache_settings, focused_settings, sweep_settings
    from quality.sweep import (SweepConfig, has_core_override, load_harness_model, load_two_experts, run_settings,
                               second_expert_weights)

    shift = harness.shift if args.shift is None else args.shift
    per_class, cache_per_class = args.per_class or harness.per_class, args.cache_per_class or harness.cache_per_class
    base = SweepConfig(per_class=per_class, steps=args.runs[0][1], cfg=args.cfg, shift=shift,
                       sampler=args.runs[0][0], scheduler=args.scheduler, seed=REPORT_SEED, model=harness)
    stem, name, classes = args.report or report_stem(harness), harness.name, harness.data.CLASSES
    print(f"=== {name} model, {weights}", flush=True)
    start = time.perf_counter()
    judge = harness.make_judge()
    model = load_harness_model(weights, base.shift, harness)
    core = has_core_override()
    core_note = "" if core else ("This ComfyUI has no CFGOverride node (core added it in 0.33): no rows of core's "
                                 "own truncation.")
    sections = {}
    for sampler, steps in args.runs:
        print(f"== {sampler}, {steps} steps", flush=True)
        grid = sweep_settings(steps, base.cfg, core) if args.full else focused_settings(steps, core)
        sections[sampler] = tuned_and_reported(model, grid, replace(base, sampler=sampler, steps=steps), judge)
    long_run = []
    if not args.no_long_run and LONG_RUN not in args.runs:
        print(f"== {LONG_RUN[1]} {LONG_RUN[0]} steps", flush=True)
        long_config = replace(base, sampler=LONG_RUN[0], steps=LONG_RUN[1])
        long_run = run_settings(model, long_run_settings(LONG_RUN[1]), long_config, judge)
    experts = []
    if harness is DIGITS and not args.no_experts:
        print("== two experts", flush=True)
        two = load_two_experts(weights, second_expert_weights(CACHE_DIR), base.shift, EXPERT_BOUNDARY)
        experts = run_settings(two, expert_settings(), base, judge)
    caches = {}
    for sampler, steps in args.cache_runs:
        print(f"== step caches, {cache_label(sampler, steps)}", flush=True)
        grid = cache_settings() if args.full else focused_cache_settings()
        caches[(sampler, steps)] = tuned_and_reported(
            model, grid, replace(base, sampler=sampler, steps=steps, per_class=cache_per_class), judge)
    seconds = time.perf_counter() - start
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / f"{stem}.json").write_text(json.dumps(
        {"config": {**base.__dict__, "model": name, "weights": str(weights), "samplers": args.samplers,
                    "runs": args.runs, "grid": "full" if args.full else "focused",
                    "tune_seed": TUNE_SEED, "floor_seeds": FLOOR_SEEDS, "seconds": round(seconds)},
         "samplers": {s: run.report for s, run in sections.items()},
         "tuning": {s: run.tune for s, run in sections.items()},
         "floors": {s: run.floor.__dict__ for s, run in sections.items()},
         "long_run": long_run, "experts": experts,
         "caches": {cache_label(*key): run.report for key, run in caches.items()},
         "caches_tuning": {cache_label(*key): run.tune for key, run in caches.items()},
         "caches_floors": {cache_label(*key): run.floor.__dict__ for key, run in caches.items()}}, indent=1))
    (args.out_dir / f"{stem}.md").write_text(report_text(sections, experts, long_run, base, judge, command, seconds,
                                                         caches, core_note, stem))
    for i, (sampler, run) in enumerate(sections.items()):
        plot_pareto(run.report, args.out_dir / plot_name(stem, i, sampler),
                    f"{name}, {run.steps} {sampler} steps, cfg {base.cfg}, {len(base.labels())} samples, "
                    f"seed {REPORT_SEED}", floor=run.floor)
        print(f"\n{name}, {sampler}\n{markdown_table(run.report)}")
    if experts:
        print(f"\ntwo experts\n{markdown_table(experts)}")
    for (sampler, steps), run in caches.items():
        target = CACHE_TARGETS.get((sampler, steps), 0.0)
        plot_cache_front(run.report, args.out_dir / cache_plot_name(stem, sampler, steps),
                         f"{name} with a step cache, {steps} {sampler} steps, cfg {base.cfg}, "
                         f"{classes * cache_per_class} samples each alone, seed {REPORT_SEED}", target, run.floor)
        print(f"\n{name}, step caches, {cache_label(sampler, steps)}\n{markdown_table(run.report)}")
    print(f"wrote {args.out_dir / (stem + '.md')} and its plots ({seconds:.0f} s)", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not start_script():
        return 2
    command = " ".join(["bash benchmarks/quality.sh"] + (argv if argv is not None else sys.argv[1:]))
    for harness in args.models:
        run_model(harness, args.weights or harness.weights, args, command)
    return 0


if __name__ == "__main__":
    sys.exit(main())
