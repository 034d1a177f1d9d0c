"""The pack's main job on an embedded default, through ComfyUI's real executor.

Builds (or reuses: devtools/test_cache.py keeps it outside the checkout, shared with the tests) a small
models/ tree with the file names of the example workflows, links it into out/comfy/, starts ComfyUI with
the pack, and runs every example workflow with full CFG on every step and as published (truncated or
reusing guidance), after a short warm-up that loads its models; ``--rounds`` interleaves more rounds and
keeps the best, for timings on a busy machine. Prints, per run, steps, truncated and reused steps, model
calls, the whole graph's time and the sampling's alone, and the savings; the images and videos land in
out/comfy/output/. Prints its own time at the end.

The models are real ComfyUI architectures with random weights and the text encoders are stand-ins
(real ones cannot be built here), so the pictures are noise: the numbers show what truncation
does to the work, not to quality. Then the pack's digits model (quality/weights), which does make
pictures, runs through the Truncated CFG Guider with full CFG, truncated, reusing guidance and at
cfg 1; an independent judge scores each run and a grid of samples lands in out/digits_samples.png.

usage: python demo/run_demo.py [--steps 12] [--side 64] [--wan-side 64] [--wan-frames 5] [--rounds 1]
                              [--workflows NAME,...]
"""
from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import PACK_ROOT, host_version, import_host  # noqa: E402

WORK_DIR = PACK_ROOT / "out" / "comfy"
NOISY = 0.15  # full-CFG runs of one workflow further apart than this: the machine was busy


def reseeded(prompt: dict, offset: int) -> dict:
    """The same graph with other noise seeds, so ComfyUI's cache cannot skip the sampling."""
    changed = copy.deepcopy(prompt)
    for node in changed.values():
        for key in ("noise_seed", "seed"):
            if key in node["inputs"]:
                node["inputs"][key] += offset
    return changed


def model_files(prompt: dict) -> set:
    """The model files a graph loads (every input naming a .safetensors file)."""
    return {value for node in prompt.values() for value in node["inputs"].values()
            if isinstance(value, str) and value.endswith(".safetensors")}


def saved_under(prompt: dict, folder: str) -> dict:
    """The same graph saving its outputs under ``folder``/ (the warm-up's, apart from the measured ones)."""
    changed = copy.deepcopy(prompt)
    for node in changed.values():
        if "filename_prefix" in node["inputs"]:
            node["inputs"]["filename_prefix"] = f"{folder}/{node['inputs']['filename_prefix']}"
    return changed


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=12, help="sampling steps per run")
    parser.add_argument("--side", type=int, default=64, help="Lumina 2 image size in pixels")
    parser.add_argument("--wan-side", type=int, default=64, help="Wan video frame size in pixels")
    parser.add_argument("--wan-frames", type=int, default=5, help="Wan video frames (1 + 4k)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="interleaved full / published rounds; the best is kept (2 or more for timings)")
    parser.add_argument("--workflows", default="",
                        help="comma-separated example workflow names to run (default: every one but those slow on "
                             "a CPU, which it names)")
    args = parser.parse_args(argv)
    from devtools.workflow_specs import SLOW_ON_CPU, WORKFLOWS

    args.workflows = ([name for name in args.workflows.split(",") if name]
                      or [name for name in WORKFLOWS if name not in SLOW_ON_CPU])
    unknown = [name for name in args.workflows if name not in WORKFLOWS]
    if unknown:
        parser.error(f"no example workflow named {', '.join(unknown)}; the workflows: {', '.join(WORKFLOWS)}")
    return args


def main(argv=None) -> int:
    started = time.monotonic()
    args = parse_args(argv)
    host, reason = import_host()
    if host is None:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    from devtools.comfy_server import ComfyServer
    from devtools.test_cache import link_model_tree
    from devtools.workflow_runs import load_api, run, shrink, without_truncation
    from devtools.workflow_specs import not_on_this_host

    from devtools.workflow_specs import SLOW_ON_CPU

    for name in SLOW_ON_CPU.keys() - set(args.workflows):
        print(f"  {name}: left out by default, {SLOW_ON_CPU[name]} (--workflows {name} runs it)", flush=True)
    print("building or reusing the small models ...", flush=True)
    link_model_tree(WORK_DIR)
    server = ComfyServer(host, WORK_DIR).start()
    results, loaded = {}, set()
    try:
        for name in args.workflows:
            reason = not_on_this_host(name)
            if reason is not None:
                print(f"  {name}: left out, {reason}", flush=True)
                continue
            wan = name.startswith("wan")
            size = (args.wan_side, args.wan_frames) if wan else (args.side, 1)
            published = shrink(load_api(name), args.steps, *size)
            full = without_truncation(published)
            # Warm-up: the same graph at a quarter of the steps (at least 5: both Wan experts run) loads every model,
            # so every measured run finds them loaded; not needed where the last workflow loaded the same files.
            files = model_files(published)
            if files != loaded:
                warm_up = without_truncation(shrink(load_api(name), min(args.steps, max(5, args.steps // 4)), *size))
                run(server, saved_under(reseeded(warm_up, 1000), "warmup"))
                loaded = files
            # A workflow published at full CFG (Qwen-Image's official rescale) is the same prompt twice: ComfyUI
            # would answer the second from its cache, so it runs once and both rows show that run.
            variants = (("full CFG", full),) if full == published else (("full CFG", full), ("published", published))
            for round_ in range(args.rounds):
                for label, prompt in variants:
                    result = run(server, reseeded(prompt, round_) if round_ else prompt)
                    results.setdefault((name, label), []).append(result)
                    print(f"  {name}: {label} round {round_ + 1}: graph {result.seconds:.2f} s, sampling "
                          f"{result.sampling_seconds:.2f} s", flush=True)
            if len(variants) == 1:
                results[(name, "published")] = results[(name, "full CFG")]
    finally:
        server.stop()
    print_table(results, args, host)
    digits_run(args.steps)
    print(f"\nthe main job took {time.monotonic() - started:.0f} s")
    return 0


def print_table(results: dict, args, host: Path) -> None:
    rounds = (f"best of {args.rounds} interleaved rounds" if args.rounds > 1
              else "one round (--rounds 2 or more for timings)")
    print(f"\n{args.steps} steps; Lumina 2 at {args.side} px, Wan at {args.wan_side} px x {args.wan_frames} frames; "
          f"ComfyUI {host_version(host)} at {host}; small random-weight models on this machine; "
          f"{rounds}\n")
    header = (f"{'workflow':36} {'run':10} {'steps':>5} {'trunc':>5} {'reused':>6} {'model calls':>11} {'graph s':>8} "
              f"{'sampling s':>10} {'saved':>6} {'sampling time':>13}")
    print(header)
    print("-" * len(header))
    noisy = []
    for (name, label), runs in results.items():
        best = min(runs, key=lambda r: r.sampling_seconds)
        full_best = min(r.sampling_seconds for r in results[(name, "full CFG")])
        if label == "full CFG" and len(runs) > 1:
            spread = (max(r.sampling_seconds for r in runs) - full_best) / statistics.median(
                [r.sampling_seconds for r in runs])
            if spread > NOISY:
                noisy.append(f"{name} ({spread:.0%})")
        print(f"{name:36} {label:10} {best.steps:>5} {best.truncated:>5} {best.reused:>6} "
              f"{best.model_calls:>6} / {best.model_calls_core:<3} {best.seconds:8.2f} {best.sampling_seconds:10.2f} "
              f"{best.saved_percent:5.1f}% {best.sampling_seconds / full_best:13.2f}")
    print("\ngraph s: the whole prompt as ComfyUI's executor timed it (text encoding, sampling, VAE decoding, "
          "saving; the models were loaded by the warm-up). sampling s: the sampler node alone, as the pack timed "
          "it. sampling time: against full CFG's, best run of each.")
    if noisy:
        print(f"note: the full-CFG runs of {', '.join(noisy)} differed by more than {NOISY:.0%} between rounds: the "
              "machine was busy, and those ratios are noisy")
    print(f"\noutputs in {WORK_DIR / 'output'} (the warm-up's under warmup/):")
    for (_, label), runs in results.items():
        for output in runs[0].outputs:
            print(f"  {label:10} {output}")


def digits_run(steps: int, per_class: int = 20) -> None:
    """The digits model through the Truncated CFG Guider and SamplerCustomAdvanced: pictures, judged."""
    from devtools.host import start_script

    if not start_script():
        raise RuntimeError("the ComfyUI host imported for the workflows no longer imports")
    from quality.judge import Judge
    from quality.report import save_sample_grid
    from quality.settings import (FULL, LAST_N, NO_CFG, REUSE_EXTRAPOLATED, STACKED_COORDINATED, Setting,
                                  StepCacheSetting)
    from quality.sweep import DEFAULT_WEIGHTS, SweepConfig, load_harness_model, measure

    config = SweepConfig(per_class=per_class, steps=steps)
    every = max(2, steps // 5)
    settings = [Setting(FULL, "full CFG"),
                Setting(LAST_N, f"last {steps // 2} truncated", {"cfg_truncate_steps": steps // 2}),
                Setting(REUSE_EXTRAPOLATED, f"every {every}, reuse_extrapolated",
                        {"cfg_every": every, "keep": "reuse_extrapolated"}),
                # The README's recommendation with a step cache: core LazyCache coordinated with the pack.
                Setting(STACKED_COORDINATED, "every 8 + LazyCache 0.3", {"cfg_every": 8, "keep": "reuse_extrapolated"},
                        cache=StepCacheSetting("LazyCache", 0.3)),
                Setting(NO_CFG, "cfg 1 (no guidance)", cfg_one=True)]
    model, judge, labels = load_harness_model(DEFAULT_WEIGHTS, config.shift), Judge(), config.labels()
    print(f"\ndigits model ({DEFAULT_WEIGHTS.name}), {steps} {config.sampler} steps, cfg {config.cfg}, "
          f"{len(labels)} samples; judge: scikit-learn SVM, {judge.real_accuracy:.3f} on real digits\n")
    print(f"{'run':30} {'model calls / image':>19} {'saved':>6} {'accuracy':>9} {'drift':>7} {'Fréchet':>8}")
    grid, reference = {}, None
    for setting in settings:
        row, images = measure(model, setting, config, judge, reference)
        reference = images if reference is None else reference
        print(f"{setting.label:30} {row['model_calls']:19.1f} {row['model_calls_saved']:6.1%} {row['accuracy']:9.3f} "
              f"{row['drift']:7.4f} {row['frechet']:8.2f}")
        grid[f"{setting.label}: accuracy {row['accuracy']:.3f}, drift {row['drift']:.3f}"] = (images, labels)
    print("\ndrift: mean |pixel - full CFG's pixel| / 16 from the same noise (0 = full CFG's digits)")
    path = save_sample_grid(grid, PACK_ROOT / "out" / "digits_samples.png")
    print(f"samples: {path}")


if __name__ == "__main__":
    sys.exit(main())
