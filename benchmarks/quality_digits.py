"""What each truncation setting costs in quality, measured on the digits model through ComfyUI's real sampler.

The digits model (quality/weights, trained by quality/train_digits.py) is sampled once per setting of
the sweep (every policy of the pack over a grid: keep cond, uncond, reuse and reuse_extrapolated, the
refresh, the adaptive latches, CFG Renorm, full CFG and cfg 1 as the two ends), from the same noise,
once per sampler. An independent scikit-learn judge scores each run, and the drift says how far its
digits moved from full CFG's. Then the reused guidance at a Wan expert switch, on a two-expert digits
model, and core's step caches (LazyCache, EasyCache) alone, stacked with the pack independently and
coordinated with it. Writes docs/quality.md (tables and picks), docs/quality.json and one Pareto plot
per sampler and per step-cache run, and prints the tables.

usage: python benchmarks/quality_digits.py [--per-class 200] [--steps 20] [--cfg 2.0] [--samplers euler,uni_pc]
                                           [--cache-runs euler:20,uni_pc:40] [--no-experts] [--out-dir docs]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
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


def parse_args(argv=None):
    from quality.sweep import DEFAULT_WEIGHTS, SweepConfig

    d = SweepConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=d.per_class, help="samples per digit class")
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--cfg", type=float, default=d.cfg)
    parser.add_argument("--shift", type=float, default=d.shift, help="ModelSamplingSD3 shift")
    parser.add_argument("--samplers", default="euler,uni_pc", help="comma-separated; the first is the headline")
    parser.add_argument("--scheduler", default=d.scheduler)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--no-experts", action="store_true", help="skip the two-expert section")
    parser.add_argument("--cache-runs", default="euler:20,uni_pc:40",
                        help="sampler:steps runs of the step-cache section, comma-separated; empty to skip it")
    parser.add_argument("--no-long-run", action="store_true",
                        help=f"skip the reuse settings at {LONG_RUN[1]} {LONG_RUN[0]} steps")
    parser.add_argument("--out-dir", type=Path, default=PACK_ROOT / "docs")
    args = parser.parse_args(argv)
    if args.per_class < 2:
        parser.error("--per-class must be at least 2 (diversity compares samples within a class)")
    args.samplers = [s for s in args.samplers.split(",") if s]
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


def sampler_section(sampler: str, rows, plot_name: str) -> list[str]:
    from quality.report import (SAME_PICTURE_ACCURACY, SAME_PICTURE_DRIFT, TOLERANCE, markdown_table, picks,
                                reference_row, same_picture_picks)

    ref = reference_row(rows)
    quarter = [r for r in rows if r["model_calls_saved"] >= 0.25 - 1e-9 and r["drift"] > 0]
    lowest = min(quarter, key=lambda r: r["drift"]) if quarter else None
    lines = [f"## {sampler}", "",
             f"Full CFG: accuracy {ref['accuracy']:.3f}. The picture full CFG makes (accuracy within "
             f"{SAME_PICTURE_ACCURACY} of it, drift at most {SAME_PICTURE_DRIFT}) with the most calls saved:", ""]
    lines += [f"- **{r['label']}** ({r['family']}): {r['model_calls_saved']:.1%} of model calls saved, "
              f"accuracy {r['accuracy']:.3f}, drift {r['drift']:.4f}" for r in same_picture_picks(rows)] or ["- none"]
    if lowest is not None:
        lines += ["", f"Lowest drift saving at least 25 %: **{lowest['label']}**, "
                      f"{lowest['model_calls_saved']:.1%} saved, drift {lowest['drift']:.4f}, "
                      f"accuracy {lowest['accuracy']:.3f}."]
    lines += ["", f"Settings saving the most calls within {TOLERANCE:.0%} (absolute) of full CFG's accuracy:", ""]
    lines += [f"- **{r['label']}** ({r['family']}): {r['model_calls_saved']:.1%} saved, accuracy {r['accuracy']:.3f} "
              f"({r['accuracy'] - ref['accuracy']:+.3f}), drift {r['drift']:.4f}" for r in picks(rows)] or ["- none"]
    lines += ["", f"![calls saved vs accuracy, drift and Fréchet, {sampler}]({plot_name})", "",
              markdown_table(rows), ""]
    return lines


def cache_label(sampler: str, steps: int) -> str:
    return f"{sampler}, {steps} steps"


def cache_plot_name(sampler: str, steps: int) -> str:
    return f"quality_caches_{sampler}_{steps}.png"


def cache_section(caches: dict) -> list[str]:
    """The step caches: per run, the most saved at full CFG's picture by family, the target, the table."""
    from quality.report import SAME_PICTURE_ACCURACY, SAME_PICTURE_DRIFT, markdown_table, same_picture_picks_by_family

    lines = ["## With a step cache (core LazyCache and EasyCache)", "",
             "Each core cache node on the model over its reuse_threshold (start 0.15, end 0.95), alone under core "
             "CFGGuider; the pack alone (reuse_extrapolated every k steps); and both stacked, the cache deciding "
             "alone (`step_cache` independent) or coordinated with the pack (coordinate: every full-CFG step "
             "runs at the network, and a call or branch the cache answers gets the network's latest outputs "
             "carried in model-output space). Model calls saved count the branches the network ran (at its first "
             "layer), against full CFG's two a step.", ""]
    if not any(r["label"].startswith("EasyCache") for rows in caches.values() for r in rows):
        lines += ["EasyCache is left out: on this ComfyUI it adds each branch's cache to the whole batch and fails "
                  "for more than one image, even without the pack.", ""]
    for (sampler, steps), rows in caches.items():
        target = CACHE_TARGETS.get((sampler, steps))
        lines += [f"### {cache_label(sampler, steps)}", "",
                  f"The most model calls saved at full CFG's picture (accuracy within {SAME_PICTURE_ACCURACY} of "
                  f"it, drift at most {SAME_PICTURE_DRIFT}), per family" +
                  (f"; the target is {target:.0%}:" if target else ":"), ""]
        for family, picked in same_picture_picks_by_family(rows).items():
            best = picked[0] if picked else None
            met = "" if best is None or target is None else (" (target met)" if best["model_calls_saved"] >=
                                                             target - 1e-9 else " (below the target)")
            lines.append(f"- {family}: " + ("none" if best is None else
                         f"**{best['label']}**, {best['model_calls_saved']:.1%} saved, accuracy "
                         f"{best['accuracy']:.3f}, drift {best['drift']:.4f}{met}"))
        workflow = [r for r in rows if r["label"] == WORKFLOW_CACHE]
        if workflow:
            r = workflow[0]
            lines += ["", f"The example workflow `wan22_t2v_a14b_reuse_cache`'s settings ({WORKFLOW_CACHE}): "
                          f"{r['model_calls_saved']:.1%} saved, accuracy {r['accuracy']:.3f}, drift {r['drift']:.4f}."]
        lines += ["", f"![model calls saved vs drift, {cache_label(sampler, steps)}]"
                      f"({cache_plot_name(sampler, steps)})", "", markdown_table(rows), ""]
    return lines


def report_text(sections: dict, experts, long_run, config, judge, command: str, seconds: float,
                caches: dict) -> str:
    import torch

    from quality.report import markdown_table

    lines = [
        "# Quality harness: digits",
        "",
        "What this is: a small class-conditional flow model in ComfyUI's WanModel architecture, trained on "
        "scikit-learn's 8x8 digits (quality/train_digits.py), sampled through ComfyUI's SamplerCustomAdvanced "
        "with the Truncated CFG Guider. It is not Lumina 2 or Wan 2.2; it shows how truncation trades calls "
        "for quality on a model where both can be measured, not what a 14B model will do.",
        "",
        f"Run: `{command}`: {config.per_class} samples per class, {config.steps} steps ({config.scheduler}) with "
        f"each of {', '.join(sections)}, cfg {config.cfg}, shift {config.shift}, seed {config.seed}; torch "
        f"{torch.__version__}; {seconds:.0f} s.",
        "",
        f"Judge: an RBF SVM on the real train split scores {judge.real_accuracy:.3f} on the real test split. "
        "Drift is the mean |pixel − full CFG's pixel| / 16 for the same noise: 0 is full CFG's picture. "
        f"Fréchet is measured in a {judge.pca.n_components_}-component PCA of the real digits against the real "
        f"test split (real train vs real test: {judge.real_frechet:.2f}). Diversity is the mean distance between "
        "samples of a class over the same for real digits (1.0 = as varied as the real ones). Model calls are "
        "the branches of CFG the network ran per image (full CFG: two a step), counted at its first layer.",
        "",
    ]
    for i, (sampler, rows) in enumerate(sections.items()):
        lines += sampler_section(sampler, rows, plot_name(i, sampler))
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
        lines += cache_section(caches)
    return "\n".join(lines)


def plot_name(index: int, sampler: str) -> str:
    return "quality_pareto.png" if index == 0 else f"quality_pareto_{sampler}.png"


def main(argv=None) -> int:
    args = parse_args(argv)
    if not start_script():
        return 2
    from dataclasses import replace

    from quality.judge import Judge
    from quality.report import markdown_table, plot_cache_front, plot_pareto
    from quality.settings import cache_settings, sweep_settings
    from quality.sweep import (SweepConfig, load_two_experts, run_settings, run_sweep, second_expert_weights,
                               step_caches_that_sample_batches)

    command = " ".join(["bash benchmarks/quality.sh"] + (argv if argv is not None else sys.argv[1:]))
    base = SweepConfig(per_class=args.per_class, steps=args.steps, cfg=args.cfg, shift=args.shift,
                       sampler=args.samplers[0], scheduler=args.scheduler, seed=args.seed)
    start = time.perf_counter()
    judge = Judge()
    sections = {}
    for sampler in args.samplers:
        print(f"== {sampler}", flush=True)
        sections[sampler] = run_sweep(sweep_settings(base.steps), replace(base, sampler=sampler), args.weights, judge)
    long_run = []
    if not args.no_long_run:
        print(f"== {LONG_RUN[1]} {LONG_RUN[0]} steps", flush=True)
        long_config = replace(base, sampler=LONG_RUN[0], steps=LONG_RUN[1])
        long_run = run_sweep(long_run_settings(LONG_RUN[1]), long_config, args.weights, judge)
    experts = []
    if not args.no_experts:
        print("== two experts", flush=True)
        model = load_two_experts(args.weights, second_expert_weights(CACHE_DIR), base.shift, EXPERT_BOUNDARY)
        experts = run_settings(model, expert_settings(), base, judge)
    caches = {}
    for sampler, steps in args.cache_runs:
        print(f"== step caches, {cache_label(sampler, steps)}", flush=True)
        caches[(sampler, steps)] = run_sweep(cache_settings(step_caches_that_sample_batches()),
                                             replace(base, sampler=sampler, steps=steps), args.weights, judge)
    seconds = time.perf_counter() - start
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "quality.json").write_text(json.dumps(
        {"config": {**base.__dict__, "samplers": args.samplers}, "samplers": sections, "long_run": long_run,
         "experts": experts, "caches": {cache_label(*run): rows for run, rows in caches.items()}}, indent=1))
    (args.out_dir / "quality.md").write_text(report_text(sections, experts, long_run, base, judge, command, seconds,
                                                         caches))
    for i, (sampler, rows) in enumerate(sections.items()):
        plot_pareto(rows, args.out_dir / plot_name(i, sampler),
                    f"digits, {base.steps} {sampler} steps, cfg {base.cfg}, {len(base.labels())} samples")
        print(f"\n{sampler}\n{markdown_table(rows)}")
    if experts:
        print(f"\ntwo experts\n{markdown_table(experts)}")
    for (sampler, steps), rows in caches.items():
        target = CACHE_TARGETS.get((sampler, steps), 0.0)
        plot_cache_front(rows, args.out_dir / cache_plot_name(sampler, steps),
                         f"digits with a step cache, {steps} {sampler} steps, cfg {base.cfg}, "
                         f"{len(base.labels())} samples", target)
        print(f"\nstep caches, {cache_label(sampler, steps)}\n{markdown_table(rows)}")
    print(f"wrote {args.out_dir / 'quality.md'} and its plots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
