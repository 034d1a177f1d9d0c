"""The pack's main job on an embedded default, through ComfyUI's real executor.

Builds (or reuses, under out/comfy/) a small models/ tree with the file names of the example
workflows, starts ComfyUI with the pack, and runs every example workflow twice: with full CFG on
every step and as published (truncated). Prints, per run, steps, truncated steps, branch
evaluations, wall time and savings; the images and videos land in out/comfy/output/.

The models are real ComfyUI architectures with random weights and the text encoders are stand-ins
(real ones cannot be built here), so the pictures are noise: the numbers show what truncation
does to the work, not to quality.

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
    return 0


if __name__ == "__main__":
    sys.exit(main())
