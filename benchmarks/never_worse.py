"""What the pack does to a graph that already caches: network calls per image and drift from full CFG's digits,
for core's CFGGuider with a core step cache against the Truncated CFG Guider on the same cache at its node
defaults, with every rule off (coordinate: the cache decides, its calls get the pack's cache answer) and at its
defaults with step_cache independent. The digits model through ComfyUI's sampler, the same noise for every row,
each image sampled alone (its own cache decisions).

usage: python benchmarks/never_worse.py [--per-class 2] [--steps 20] [--sampler euler]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import start_script  # noqa: E402

THRESHOLDS = (0.1, 0.2, 0.3, 0.5)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=2, help="images per digit class (10 classes)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--sampler", default="euler")
    args = parser.parse_args(argv)
    if not start_script():
        return 2
    from quality.judge import Judge
    from quality.settings import (CACHE_ALONE, CACHE_THRESHOLDS, FULL, STACKED_COORDINATED, STACKED_INDEPENDENT,
                                  Setting, StepCacheSetting)
    from quality.sweep import DEFAULT_WEIGHTS, SweepConfig, load_harness_model, measure
    from sampling.rules import INPUTS

    defaults = {row.name: row.default for row in INPUTS}
    config = SweepConfig(per_class=args.per_class, steps=args.steps, sampler=args.sampler)
    judge = Judge()
    model = load_harness_model(DEFAULT_WEIGHTS, config.shift)
    _, reference = measure(model, Setting(FULL, "full CFG"), config, judge)
    print(f"{args.sampler}, {args.steps} steps, {10 * args.per_class} images each sampled alone, cfg {config.cfg}: "
          f"network calls per image / drift from full CFG ({2 * args.steps} calls)")
    print(f"{'cache':14} {'core CFGGuider':>16} {'pack defaults':>16} {'every rule off':>16} {'independent':>16}")
    for node in CACHE_THRESHOLDS:
        for threshold in THRESHOLDS:
            cache = StepCacheSetting(node, threshold)
            rows = [Setting(CACHE_ALONE, "core", cache=cache, core_guider=True),
                    Setting(STACKED_COORDINATED, "defaults", defaults, cache=cache),
                    Setting(STACKED_COORDINATED, "off", {}, cache=cache),
                    Setting(STACKED_INDEPENDENT, "independent", {**defaults, "step_cache": "independent"}, cache=cache)]
            cells = []
            for setting in rows:
                row, _ = measure(model, setting, config, judge, reference)
                cells.append(f"{row['model_calls']:6.1f} / {row['drift']:.4f}")
            print(f"{cache.label:14} " + " ".join(f"{c:>16}" for c in cells), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
