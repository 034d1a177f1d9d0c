"""The pack's main job on an embedded default, through ComfyUI's real executor.

Builds (or reuses, under out/comfy/) a small models/ tree with the file names of the example
workflows, starts ComfyUI with the pack, and runs every example workflow twice: with full CFG on
every step and as published (truncated). Prints, per run, steps, truncated steps, branch
evaluations, wall time and savings; the images and videos land in out/comfy/output/.

The models are real ComfyUI architectures with random weights and the text encoders are stand-ins
(real ones cannot be built here), so the pictures are noise: the numbers show what truncation
does to the work, not to quality. Then the pack's digits model (quality/weights), which does make
pictures, runs through the Truncated CFG Guider with full CFG, truncated and at cfg 1; an independent
judge scores each run and a grid of samples lands in out/digits_samples.png.

usage: python demo/run_demo.py [--steps 20] [--side 64]
"""
from __future__ import annotations

import argparse
import copy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import PACK_ROOT, import_host  # noqa: E402

WORK_DIR = PACK_ROOT / "out" / "comfy"


def reseeded(prompt: dict, offset: int) -> dict:
    """The same graph with other noise seeds, so ComfyUI's cache cannot skip the sampling."""
    changed = copy.deepcopy(prompt)
    for node in changed.values():
        for key in ("noise_seed", "seed"):
            if key in node["inputs"]:
                node["inputs"][key] += offset
    return changed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="sampling steps per run")
    parser.add_argument("--side", type=int, default=64, help="image / video frame size in pixels")
    args = parser.parse_args(argv)
    host, reason = import_host()
    if host is None:
        print(f"error: {reason}", file=sys.stderr)
        return 2
    from devtools import model_tree
    from devtools.comfy_server import ComfyServer
    from devtools.workflow_runs import load_api, run, shrink, without_truncation
    from devtools.workflow_specs import WORKFLOWS

    print(f"building or reusing the small models in {WORK_DIR / 'models'} ...", flush=True)
    model_tree.build(WORK_DIR / "models", WORK_DIR / "input")
    server = ComfyServer(host, WORK_DIR).start()
    rows = []
    try:
        for name in WORKFLOWS:
            published = shrink(load_api(name), args.steps, args.side)
            full = without_truncation(published)
            run(server, reseeded(full, 1000))  # warm-up: loads the models, so both measured runs find them loaded
            for label, prompt in (("full CFG", full), ("truncated", published)):
                result = run(server, prompt)
                rows.append((name, label, result))
                print(f"  {name}: {label} done in {result.seconds:.2f} s", flush=True)
    finally:
        server.stop()

    print(f"\n{args.steps} steps, {args.side} px, ComfyUI at {host}, small random-weight models on this machine\n")
    header = (f"{'workflow':38} {'run':10} {'steps':>5} {'trunc':>5} {'branches':>10} {'wall s':>7} {'saved':>7} "
              f"{'time':>6}")
    print(header)
    print("-" * len(header))
    full_seconds = {}
    for name, label, r in rows:
        if label == "full CFG":
            full_seconds[name] = r.seconds
        ratio = r.seconds / full_seconds[name] if full_seconds.get(name) else float("nan")
        print(f"{name:38} {label:10} {r.steps:>5} {r.truncated:>5} {r.branches:>4} / {r.branches_full:<3} "
              f"{r.seconds:7.2f} {r.saved_percent:6.1f}% {ratio:6.2f}")
    print(f"\noutputs in {WORK_DIR / 'output'}:")
    for _, label, r in rows:
        for output in r.outputs:
            print(f"  {label:10} {output}")
    digits_run(args.steps)
    return 0


def digits_run(steps: int, per_class: int = 20) -> None:
    """The digits model through the Truncated CFG Guider and SamplerCustomAdvanced: pictures, judged."""
    from devtools.host import start_script

    if not start_script():
        raise RuntimeError("the ComfyUI host imported for the workflows no longer imports")
    from quality.judge import Judge
    from quality.report import save_sample_grid
    from quality.settings import FULL, LAST_N, NO_CFG, Setting
    from quality.sweep import DEFAULT_WEIGHTS, SweepConfig, load_digits_model, measure

    config = SweepConfig(per_class=per_class, steps=steps)
    settings = [Setting(FULL, "full CFG"),
                Setting(LAST_N, f"last {2 * steps // 5} truncated", {"cfg_truncate_steps": 2 * steps // 5}),
                Setting(LAST_N, f"last {steps // 2} truncated", {"cfg_truncate_steps": steps // 2}),
                Setting(NO_CFG, "cfg 1 (no guidance)", cfg_one=True)]
    model, judge, labels = load_digits_model(DEFAULT_WEIGHTS, config.shift), Judge(), config.labels()
    print(f"\ndigits model ({DEFAULT_WEIGHTS.name}), {steps} {config.sampler} steps, cfg {config.cfg}, "
          f"{len(labels)} samples; judge: scikit-learn SVM, {judge.real_accuracy:.3f} on real digits\n")
    print(f"{'run':26} {'calls / image':>13} {'saved':>6} {'accuracy':>9} {'Fréchet':>8}")
    grid = {}
    for setting in settings:
        row, images = measure(model, setting, config, judge)
        print(f"{setting.label:26} {row['calls']:13.0f} {row['calls_saved']:6.0%} {row['accuracy']:9.3f} "
              f"{row['frechet']:8.2f}")
        grid[f"{setting.label}: accuracy {row['accuracy']:.3f}"] = (images, labels)
    path = save_sample_grid(grid, PACK_ROOT / "out" / "digits_samples.png")
    print(f"\nsamples: {path}")


if __name__ == "__main__":
    sys.exit(main())
