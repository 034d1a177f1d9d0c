"""The shapes model's judge: a small convolutional classifier trained on real pictures the generator never saw.

It learns from the judge's own stream of real pictures (``shapes_data.JUDGE_DATA_SEED``) and is measured on
the real set (``REAL_DATA_SEED``), where about one picture in ten has a radius nearer the other size's: its
accuracy on real pictures is well below 1, so a setting that loses layout or shape
shows as lost accuracy instead of vanishing under a saturated judge. The Fréchet distance is taken in its
last hidden layer (as FID takes it in Inception's), against the real set. Training is deterministic for a given
torch version, thread count and CPU; its weights ship beside the harness models (``WEIGHTS``), because drawing
its 20,000 pictures and training takes half a minute that every test run and benchmark would pay.

Retrain them: ``python -m quality.shapes_judge`` (about 30 s on 2 cores; prints the digest to compare).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

from . import shapes_data
from .judge import Scores, frechet_distance, mean_pairwise_distance
from .training import DIGEST_KEY, state_digest

FEATURES = 32
TRAIN_PER_CLASS = 2000
EPOCHS = 4
REAL_PER_CLASS = 200
WEIGHTS = Path(__file__).resolve().parent / "weights" / "shapes_judge.safetensors"


class ShapesClassifier(torch.nn.Module):
    def __init__(self, classes: int = shapes_data.CLASSES):
        super().__init__()
        conv = torch.nn.Conv2d
        self.body = torch.nn.Sequential(
            conv(1, 16, 5, stride=2, padding=2), torch.nn.ReLU(),
            conv(16, 32, 3, stride=2, padding=1), torch.nn.ReLU(),
            conv(32, 64, 3, stride=2, padding=1), torch.nn.ReLU(),
            # Pooled to a 4x4 grid, not to one value: how far a shape reaches is part of its class.
            torch.nn.AdaptiveAvgPool2d(4), torch.nn.Flatten(),
            torch.nn.Linear(64 * 16, FEATURES), torch.nn.ReLU())
        self.head = torch.nn.Linear(FEATURES, classes)

    def forward(self, pictures: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.body(pictures[:, None])
        return self.head(features), features


def _flat(pictures: np.ndarray) -> np.ndarray:
    return np.asarray(pictures, dtype=np.float64).reshape(len(pictures), -1)


def train_classifier(seed: int = 0, threads: int = 2, data=shapes_data, per_class: int = TRAIN_PER_CLASS,
                     epochs: int = EPOCHS) -> ShapesClassifier:
    """The judge's classifier trained from scratch on ``per_class`` pictures per class of the judge's stream."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        gen = torch.Generator().manual_seed(data.JUDGE_DATA_SEED + seed)
        labels = torch.as_tensor(data.balanced_labels(per_class))
        pictures = data.draw(labels, gen)
        torch.manual_seed(seed)  # the layers' own initialisation
        model = ShapesClassifier(data.CLASSES)
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        for _ in range(epochs):
            order = torch.randperm(len(labels), generator=gen)
            for batch in order.split(128):
                loss = torch.nn.functional.cross_entropy(model(pictures[batch])[0], labels[batch])
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
    finally:
        torch.set_num_threads(before)
    return model.eval().requires_grad_(False)


def load_classifier(path: Path = WEIGHTS) -> ShapesClassifier:
    """The shipped classifier, its tensors checked against the digest written beside them."""
    import safetensors

    if not path.is_file():
        raise FileNotFoundError(f"no shapes judge weights at {path}: write them with `python -m quality.shapes_judge "
                                f"--out {path}`")
    with safetensors.safe_open(str(path), "pt") as handle:
        expected = (handle.metadata() or {}).get(DIGEST_KEY)
        state = {key: handle.get_tensor(key) for key in handle.keys()}
    if expected != state_digest(state):
        raise ValueError(f"{path}: its tensors do not match the digest in its metadata ({expected}); the file is "
                         "damaged or was edited: retrain it with `python -m quality.shapes_judge`")
    model = ShapesClassifier()
    model.load_state_dict(state)
    return model.eval().requires_grad_(False)


class ShapesJudge:
    """``classifier``: the shipped one when left out (``train_classifier`` makes another). ``data``: the pictures'
    module (shapes_data, or another of its interface: CLASSES, SIDE, draw, real_set, balanced_labels and the
    JUDGE_DATA_SEED and REAL_DATA_SEED streams)."""

    def __init__(self, classifier: ShapesClassifier | None = None, data=shapes_data):
        self.data = data
        self.classifier = classifier if classifier is not None else load_classifier()
        real, labels = data.real_set(REAL_PER_CLASS, data.REAL_DATA_SEED)
        logits, features = self._run(real)
        # ReLU units that never fire on a real picture carry no distance and make the covariance singular.
        self.live = features.std(axis=0) > 1e-9
        self.real_features = features[:, self.live]
        self.real_accuracy = float((logits.argmax(1) == labels).mean())
        rows = _flat(real.numpy())
        self.real_spread = {c: mean_pairwise_distance(rows[labels == c]) for c in range(data.CLASSES)}
        # The floor for frechet: two real sets of the same size.
        other, _ = data.real_set(REAL_PER_CLASS, data.REAL_DATA_SEED + 1)
        self.real_frechet = frechet_distance(self._run(other)[1], self.real_features)

    def _run(self, pictures) -> tuple[np.ndarray, np.ndarray]:
        with torch.inference_mode():
            logits, features = self.classifier(torch.as_tensor(np.asarray(pictures), dtype=torch.float32))
        features = features.double().numpy()
        return logits.numpy(), features if not hasattr(self, "live") else features[:, self.live]

    def describe(self) -> str:
        """What it measures, for the report."""
        return (f"Judge: a small convolutional classifier trained on {TRAIN_PER_CLASS} real pictures per class of "
                f"its own stream reads {self.real_accuracy:.3f} of the real set's classes (about one real picture in "
                f"ten has the other size's radius). Fréchet is measured in its last hidden layer "
                f"({int(self.live.sum())} live features) against the real set (another real set of the same size: "
                f"{self.real_frechet:.2f}). Diversity is the mean distance between samples of a class over the same "
                "for real pictures (1.0 = as varied as the real ones).")

    def score(self, pictures: np.ndarray, labels: np.ndarray) -> Scores:
        pictures, labels = np.asarray(pictures), np.asarray(labels)
        side = self.data.SIDE
        if pictures.shape[1:] != (side, side):
            raise ValueError(f"expected pictures of shape (n, {side}, {side}), "
                             f"got {pictures.shape}")
        if pictures.shape[0] != labels.shape[0]:
            raise ValueError(f"{pictures.shape[0]} samples but {labels.shape[0]} labels")
        if not np.isfinite(pictures).all():
            raise ValueError("generated samples contain NaN or infinity")
        logits, features = self._run(pictures)
        accuracy = float((logits.argmax(1) == labels).mean())
        frechet = frechet_distance(features, self.real_features)
        rows = _flat(pictures)
        present = [c for c in range(self.data.CLASSES) if (labels == c).sum() >= 2]
        diversity = float(np.mean([mean_pairwise_distance(rows[labels == c]) / self.real_spread[c] for c in present]))
        return Scores(accuracy, frechet, diversity)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Train the shapes judge's classifier and write its weights.")
    parser.add_argument("--out", type=Path, default=WEIGHTS)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="pinned: float sums depend on the thread count")
    parser.add_argument("--check", action="store_true",
                        help="write nothing: retrain and say whether the result equals the shipped weights")
    args = parser.parse_args(argv)
    import safetensors.torch

    classifier = train_classifier(args.seed, args.threads)
    state = {k: v.contiguous() for k, v in classifier.state_dict().items()}
    digest = state_digest(state)
    if args.check:
        shipped = state_digest(load_classifier().state_dict())
        print(f"retrained: {digest}\nshipped:   {shipped}\n" + (
            "equal" if shipped == digest else
            "different (the digest depends on torch's version, the thread count and the CPU)"))
        return 0 if shipped == digest else 1
    meta = {DIGEST_KEY: digest, "truncated_cfg.trained_with": (
        f"python -m quality.shapes_judge --seed {args.seed} --threads {args.threads}; {TRAIN_PER_CLASS} pictures per "
        f"class, {EPOCHS} epochs; torch {torch.__version__}")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state, str(args.out), metadata=meta)
    judge = ShapesJudge(classifier)
    print(f"wrote {args.out}, weights sha256 {digest}; it reads {judge.real_accuracy:.3f} of the real set")
    return 0


if __name__ == "__main__":
    sys.exit(main())
