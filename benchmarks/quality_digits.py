"""What each truncation setting costs in quality, measured on the digits model through ComfyUI's real sampler.

The digits model (quality/weights, trained by quality/train_digits.py) is sampled once per setting of
the sweep (every policy of the pack over a grid, keep cond and keep uncond, CFG Renorm on and off,
full CFG and cfg 1 as the two ends), from the same noise. An independent scikit-learn judge scores
each run. Writes docs/quality.md (the table and the picks) and docs/quality_pareto.png, and prints the
table.

usage: python benchmarks/quality_digits.py [--per-class 100] [--steps 20] [--cfg 3.0] [--shift 3.0] [--out-dir docs]
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


def parse_args(argv=None):
    from quality.sweep import DEFAULT_WEIGHTS, SweepConfig

    d = SweepConfig()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--per-class", type=int, default=d.per_class, help="samples per digit class")
    parser.add_argument("--steps", type=int, default=d.steps)
    parser.add_argument("--cfg", type=float, default=d.cfg)
    parser.add_argument("--shift", type=float, default=d.shift, help="ModelSamplingSD3 shift")
    parser.add_argument("--sampler", default=d.sampler)
    parser.add_argument("--scheduler", default=d.scheduler)
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS)
    parser.add_argument("--out-dir", type=Path, default=PACK_ROOT / "docs")
    args = parser.parse_args(argv)
    if args.per_class < 2:
        parser.error("--per-class must be at least 2 (diversity compares samples within a class)")
    return args


def report_text(rows, config, judge, command: str, seconds: float) -> str:
    import torch

    from quality.report import TOLERANCE, markdown_table, picks, reference_row

    ref = reference_row(rows)
    best = picks(rows)
    lines = [
        "# Quality harness: digits",
        "",
        "What this is: a small class-conditional flow model in ComfyUI's WanModel architecture, trained on "
        "scikit-learn's 8x8 digits (quality/train_digits.py), sampled through ComfyUI's SamplerCustomAdvanced "
        "with the Truncated CFG Guider. It is not Lumina 2 or Wan 2.2; it shows how truncation trades calls "
        "for quality on a model where both can be measured, not what a 14B model will do.",
        "",
        f"Run: `{command}`: {config.per_class} samples per class, "
        f"{config.steps} {config.sampler} steps ({config.scheduler}), cfg {config.cfg}, shift {config.shift}, "
        f"seed {config.seed}; torch {torch.__version__}; {seconds:.0f} s.",
        "",
        f"Judge: an RBF SVM on the real train split scores {judge.real_accuracy:.3f} on the real test split. "
        f"Fréchet is measured in a {judge.pca.n_components_}-component PCA of the real digits against the real "
        f"test split (real train vs real test: {judge.real_frechet:.2f}). Diversity is the mean distance between "
        "samples of a class over the same for real digits (1.0 = as varied as the real ones).",
        "",
        f"Full CFG: accuracy {ref['accuracy']:.3f}. Settings saving the most calls within {TOLERANCE:.0%} "
        "(absolute) of it:",
        "",
    ]
    lines += [f"- **{r['label']}** ({r['family']}): {r['calls_saved']:.0%} of calls saved, accuracy "
              f"{r['accuracy']:.3f} ({r['accuracy'] - ref['accuracy']:+.3f}), Fréchet {r['frechet']:.2f}"
              for r in best] or ["- none"]
    lines += ["", "![calls saved vs accuracy](quality_pareto.png)", "", markdown_table(rows), ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not start_script():
        return 2
    from quality.judge import Judge
    from quality.report import markdown_table, plot_pareto
    from quality.settings import sweep_settings
    from quality.sweep import SweepConfig, run_sweep

    command = " ".join(["bash benchmarks/quality.sh"] + (argv if argv is not None else sys.argv[1:]))
    config = SweepConfig(per_class=args.per_class, steps=args.steps, cfg=args.cfg, shift=args.shift,
                         sampler=args.sampler, scheduler=args.scheduler, seed=args.seed)
    start = time.perf_counter()
    judge = Judge()
    rows = run_sweep(sweep_settings(config.steps), config, args.weights, judge)
    seconds = time.perf_counter() - start
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "quality.json").write_text(json.dumps({"config": config.__dict__, "rows": rows}, indent=1))
    (args.out_dir / "quality.md").write_text(report_text(rows, config, judge, command, seconds))
    plot_pareto(rows, args.out_dir / "quality_pareto.png",
                f"digits, {config.steps} {config.sampler} steps, cfg {config.cfg}, {len(config.labels())} samples")
    print(markdown_table(rows))
    print(f"wrote {args.out_dir / 'quality.md'} and {args.out_dir / 'quality_pareto.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
