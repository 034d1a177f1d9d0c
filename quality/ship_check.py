"""Whether a shapes model may ship: the bar of quality/weights/README.md, measured as the harness samples.

200 samples (20 per class) from the report seed, 20 euler steps at the model's shift, full CFG at cfg 1, 2 and
4, each scored by the shapes judge. The model ships when full CFG at cfg 2 reads at least cfg 1's accuracy + 0.10
and at most 0.95 (guidance matters, and the judge is not saturated) and its Fréchet distance is below cfg 1's.
Prints one line per cfg and the verdict; exits 0 when the bar is met, 1 when not.

usage: python quality/ship_check.py [--weights quality/weights/shapes_wan.safetensors] [--per-class 20]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))

from devtools.host import start_script  # noqa: E402

CFGS = (1.0, 2.0, 4.0)
GUIDED = 2.0  # the harness's full CFG
MIN_GAIN = 0.10  # accuracy full CFG must add over cfg 1
MAX_ACCURACY = 0.95  # above it the judge is near saturation


def verdict(scores: dict[float, dict]) -> list[str]:
    """What keeps the model from shipping (empty: it ships), from each cfg's accuracy and Fréchet distance."""
    guided, unguided = scores[GUIDED], scores[1.0]
    faults = []
    if guided["accuracy"] < unguided["accuracy"] + MIN_GAIN:
        faults.append(f"cfg {GUIDED:g} reads {guided['accuracy']:.3f}, less than cfg 1's {unguided['accuracy']:.3f} "
                      f"+ {MIN_GAIN:.2f}: guidance does not matter enough")
    if guided["accuracy"] > MAX_ACCURACY:
        faults.append(f"cfg {GUIDED:g} reads {guided['accuracy']:.3f}, above {MAX_ACCURACY}: the judge saturates")
    if not guided["frechet"] < unguided["frechet"]:
        faults.append(f"cfg {GUIDED:g}'s Fréchet {guided['frechet']:.2f} is not below cfg 1's "
                      f"{unguided['frechet']:.2f}")
    return faults


def main(argv=None) -> int:
    from quality.harness_models import SHAPES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--weights", type=Path, default=SHAPES.weights)
    parser.add_argument("--per-class", type=int, default=20)
    args = parser.parse_args(argv)
    if not start_script():
        return 2
    from quality.noise_floor import REPORT_SEED
    from quality.settings import FULL, Setting
    from quality.sweep import SweepConfig, load_harness_model, run_settings

    started = time.perf_counter()
    model = load_harness_model(args.weights, SHAPES.shift, SHAPES)
    judge = SHAPES.make_judge()
    scores = {}
    for cfg in CFGS:
        config = SweepConfig(per_class=args.per_class, cfg=cfg, shift=SHAPES.shift, seed=REPORT_SEED, model=SHAPES)
        row = run_settings(model, [Setting(FULL, "full CFG")], config, judge, log=lambda line: None)[0]
        scores[cfg] = row
        print(f"cfg {cfg:g}: accuracy {row['accuracy']:.3f}, Fréchet {row['frechet']:.2f} "
              f"({10 * args.per_class} samples, seed {REPORT_SEED}, 20 euler steps, shift {SHAPES.shift:g})",
              flush=True)
    faults = verdict(scores)
    print(f"{args.weights}: " + ("meets the bar" if not faults else "does not ship: " + "; ".join(faults))
          + f" ({time.perf_counter() - started:.0f} s)")
    return 0 if not faults else 1


if __name__ == "__main__":
    sys.exit(main())
