"""Train the shapes model (quality/training.py) on procedural shapes (quality/shapes_data.py).

Not shipped yet. Its blocks start as the identity (quality/training.py): with Wan's random start the model
never got past predicting the mean picture (loss 1.04 at sigma 0.5 after 300 steps, 2026-12-02); with the
identity start it denoises (0.034 at sigma 0.5 after 1000 steps, 2026-12-03). It still does not use its class:
after 1000 steps its loss with the true class and with no class agree to four decimals at sigma 0.5, 0.8 and
0.95, and so they did when the classes were shape and brightness instead of shape and half. A working model
is what issue 24 waits for.

usage: python quality/train_shapes.py [--out quality/weights/shapes_wan.safetensors] [--steps 2500]
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


def parse_args(argv=None):
    return training.parse_args(__doc__.split("\n\n")[0], DEFAULT_OUT, argv,
                               steps=2500, batch=32, lr=1.5e-3, label_dropout=0.15)


def batches(gen: torch.Generator, batch: int):
    """Fresh pictures every step, from the generator's own stream (never the judge's or the report's)."""
    labels = torch.randint(0, shapes_data.CLASSES, (batch,), generator=gen)
    return shapes_data.to_model_space(shapes_data.draw(labels, gen)), labels


def training_data() -> TrainingData:
    return TrainingData("shapes", ARCH, batches, shapes_data.class_context, shapes_data.NULL_CLASS,
                        f"quality/shapes_data.py pictures drawn from the training seed's own generator "
                        f"(the judge's seed is {shapes_data.JUDGE_DATA_SEED}, "
                        f"the real set's {shapes_data.REAL_DATA_SEED})", identity_blocks_at_start=True)


def train(args, log=print):
    return train_on(training_data(), args, log)


def main(argv=None) -> int:
    return train_and_save(training_data(), parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
