"""Train the digits model (quality/training.py) on scikit-learn's 8x8 digits.

usage: python quality/train_digits.py [--out quality/weights/digits_wan.safetensors] [--steps 800]
"""
from __future__ import annotations

import sys
from pathlib import Path

import torch

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))

from quality import digits_data  # noqa: E402
from quality import training  # noqa: E402
from quality.training import TrainingData, train_and_save  # noqa: E402
from quality.training import state_digest, train as train_on  # noqa: E402,F401 - the tests' entry points

DEFAULT_OUT = PACK_ROOT / "quality" / "weights" / "digits_wan.safetensors"
ARCH = dict(dim=128, ffn_dim=256, num_heads=1, num_layers=3)


def parse_args(argv=None):
    return training.parse_args(__doc__.split("\n\n")[0], DEFAULT_OUT, argv,
                               steps=800, batch=128, lr=1e-3, label_dropout=0.15)


def training_data() -> TrainingData:
    x_train, y_train, _, _ = digits_data.load_split()
    data, labels = digits_data.to_model_space(x_train), torch.as_tensor(y_train)

    def batches(gen: torch.Generator, batch: int):
        idx = torch.randint(0, data.shape[0], (batch,), generator=gen)
        return data[idx], labels[idx]

    return TrainingData("digits", ARCH, batches, digits_data.class_context, digits_data.NULL_CLASS,
                        "scikit-learn load_digits(), stratified 70% train split (random_state 0)")


def train(args, log=print):
    return train_on(training_data(), args, log)


def main(argv=None) -> int:
    return train_and_save(training_data(), parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
