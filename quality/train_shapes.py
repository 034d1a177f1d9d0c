"""Train the shapes model (quality/training.py) on procedural shapes (quality/shapes_data.py).

The shipped quality/weights/shapes_wan.safetensors is this script's defaults (18000 steps, 27 min on 2 CPU
threads; quality/weights/README.md). Three things make it learn (diagnostic runs on 2 threads, batch 32,
lr 1e-3, probed on 80 real pictures with fixed noise):
- its blocks start as the identity (quality/training.py): from Wan's random start it never got past
  predicting the mean picture (loss 1.04 at sigma 0.5 after 300 steps); from the identity it denoises
  (0.034 after 1000 steps);
- its training sigmas are shifted toward noise (SIGMA_SHIFT): unshifted, its loss with the true class and
  with no class still agreed to four decimals at sigma 0.5, 0.8 and 0.95 after 1000 steps. Shifted by 3, the
  class starts to count and keeps counting more: true against no class at sigma 0.95, 0.0936 against
  0.0958 after 1000 steps and 0.0876 against 0.0906 after 2000 (0.0516 against 0.0537 at sigma 0.8);
- its cross-attention output starts random and its prompt embedding stays frozen (the last paragraph).
After 2000 shifted steps its samples are still poor: 100 pictures (10 per class, 20 Euler steps shifted by 3)
read 0.22 / 0.25 / 0.29 of their class at cfg 1 / 2 / 4 (chance 0.10, real pictures 0.90), Frechet 212 / 93
/ 199 (real against real 3.35), and a class's half was never kept. The classes are now shape x size
(quality/shapes_data.py: Wan cannot tell left from right). After 3000 steps on them (2026-12-03) its
denoising at sigma 0.5 is fair, but its samples are fragments (each token's 8x8 pixels disagree with their
neighbours'): the judge reads 0.05 of their classes (shape at chance; size 0.51 at cfg 1, 0.62 at cfg 3),
Frechet 292 / 271.
Those fragments were the class never reaching the blocks (quality/training.py, init_for_training): with
cross-attention's output left random and the prompt embedding frozen, 2000 steps (2026-12-03, 6.5 min; judged
by full CFG through quality/sweep.py's measure, 10 samples per class, 20 Euler steps shifted by 3) give
one shape a picture, at its size: the judge reads 0.39 / 0.53 / 0.51 of 100 samples' classes at cfg 1 / 2 / 4
(real pictures 0.877, chance 0.10), Fréchet 118 / 128 / 2034 (real against real 1.12; at cfg 4 some
triangles come out blank). After 6000 steps (23 min; weights sha256 c0290f4e...) it reads 0.39 / 0.64 / 0.63,
Fréchet 109 / 60 / 520: rings and crosses start to show, cfg 2 is the best picture, and guidance matters.
After 18000 steps (2026-12-05, 27 min, the shipped weights) full CFG's 100 samples read 0.92 / 0.855 of
their classes at cfg 2 on seeds 0 / 1 (cfg 1: 0.71 / 0.69; cfg 4: 0.89 / 0.855), Fréchet 35 / 40 (cfg 1: 85
/ 101; cfg 4: 388 / 355): near real pictures' 0.877, not saturated, and guidance matters.

usage: python quality/train_shapes.py [--out quality/weights/shapes_wan.safetensors] [--steps 18000]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))

from quality import shapes_data  # noqa: E402
from quality import training  # noqa: E402
from quality.training import TrainingData, train as train_on, train_and_save  # noqa: E402

DEFAULT_OUT = PACK_ROOT / "quality" / "weights" / "shapes_wan.safetensors"
ARCH = dict(dim=128, ffn_dim=256, num_heads=1, num_layers=4)
SIGMA_SHIFT = 3.0


def parse_args(argv=None):
    return training.parse_args(__doc__.split("\n\n")[0], DEFAULT_OUT, argv,
                               steps=18000, batch=32, lr=1.5e-3, label_dropout=0.15)


def batches(gen: torch.Generator, batch: int):
    """Fresh pictures every step, from the generator's own stream (never the judge's or the report's)."""
    labels = torch.randint(0, shapes_data.CLASSES, (batch,), generator=gen)
    return shapes_data.to_model_space(shapes_data.draw(labels, gen)), labels


def training_data() -> TrainingData:
    return TrainingData("shapes", ARCH, batches, shapes_data.class_context, shapes_data.NULL_CLASS,
                        f"quality/shapes_data.py pictures drawn from the training seed's own generator "
                        f"(the judge's seed is {shapes_data.JUDGE_DATA_SEED}, "
                        f"the real set's {shapes_data.REAL_DATA_SEED})", identity_blocks_at_start=True,
                        sigma_shift=SIGMA_SHIFT, freeze_text_embedding=True)


def train(args, log=print):
    return train_on(training_data(), args, log)


def main(argv=None) -> int:
    return train_and_save(training_data(), parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
