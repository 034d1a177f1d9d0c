"""The quality harness's models: each a class-conditional flow model in ComfyUI's WanModel architecture, with
its data, its judge and its weights. The sweep (quality/sweep.py) samples every one the same way.

- digits: scikit-learn's 8x8 digits, a (16, 1, 2, 2) latent, one token; its judge is saturated (full CFG reads
  0.999 of its classes), so drift alone tells settings apart.
- shapes: procedural shapes on a 64x64 canvas, a (16, 1, 16, 16) latent, 64 tokens; a judge that reads 0.88 of
  real pictures and 0.86-0.92 of full CFG's samples at cfg 2, 0.69-0.71 at cfg 1 (quality/shapes_data.py,
  quality/shapes_judge.py, quality/train_shapes.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Callable

from . import digits_data, shapes_data

WEIGHTS = Path(__file__).resolve().parent / "weights"


@dataclass(frozen=True)
class HarnessModel:
    name: str
    # CLASSES, NULL_CLASS, CHANNELS, LATENT_SIDE, class_context(labels), from_model_space(latents)
    data: ModuleType
    weights: Path  # where its trainer writes it
    trainer: str  # the script that trains it
    pixel_span: float  # the range of its pictures' values: drift is mean |pixel - full CFG's pixel| / span
    shift: float  # ModelSamplingSD3's shift it is sampled with (the shapes model trained on sigmas shifted by 3)
    make_judge: Callable[[], object]  # score(pictures, labels) -> Scores, describe() -> str
    about: str  # what the model is, for the report
    # The benchmark's default samples per class (its main grid, batched) and per class in its step-cache rows (each
    # image sampled alone): the shapes model's 64 tokens cost far more a sample than the digits model's one.
    per_class: int = 200
    cache_per_class: int = 10

    def labels(self, per_class: int):
        import numpy as np

        return np.repeat(np.arange(self.data.CLASSES), per_class)


def _digits_judge():
    from .judge import Judge

    return Judge()


def _shapes_judge():
    from .shapes_judge import ShapesJudge

    return ShapesJudge()


DIGITS = HarnessModel(
    "digits", digits_data, WEIGHTS / "digits_wan.safetensors", "quality/train_digits.py", digits_data.PIXEL_MAX, 1.0,
    _digits_judge,
    "a small class-conditional flow model in ComfyUI's WanModel architecture, trained on scikit-learn's 8x8 "
    "digits (quality/train_digits.py): one token, so no spatial extent")
SHAPES = HarnessModel(
    "shapes", shapes_data, WEIGHTS / "shapes_wan.safetensors", "quality/train_shapes.py", 2.0, 3.0, _shapes_judge,
    "a class-conditional flow model in ComfyUI's WanModel architecture, trained on procedural shapes (five "
    "shapes at two overlapping sizes, anywhere on a 64x64 canvas; quality/train_shapes.py): 64 tokens",
    per_class=20)
MODELS = {m.name: m for m in (DIGITS, SHAPES)}
