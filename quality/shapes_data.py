"""Procedural shapes on a 64x64 canvas, the harness's second model's data: real spatial extent, and classes
that need guidance.

A picture is one soft-edged shape (disc, square, ring, cross, triangle) at a random place, of random
brightness, on a dim background with a random gentle gradient. The class is the shape and its size, small or
large: radii drawn from two overlapping bell curves, so about one real picture in ten has the other size's
radius and no judge reads every real picture's class; a generator has to be guided to keep both what (detail)
and how large (layout) its prompt asks for.

Not which half of the canvas, as a first version had it: Wan's only positions are rotary, relative ones, so
its attention cannot tell left from right, and a model trained on that class left both halves equally likely
at every cfg (0.50 of its samples on their class's side, 1500 steps, 2026-12-03).

ComfyUI runs a Wan model on 16-channel latents; the 64x64 pixels, in [-1, 1], are packed space-to-depth,
4x4 blocks into 16 channels, as for the digits: a (16, 1, 16, 16) latent, which Wan's 2x2 patches make 64
tokens. Pictures are made by arithmetic from a seeded generator, so any number of them can be drawn and the
generator, the judge and the report never share a picture.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .digits_data import CHANNELS, hadamard_rows

SIDE = 64
PACK = 4
LATENT_SIDE = SIDE // PACK
SHAPES = ("disc", "square", "ring", "cross", "triangle")
SIZES = ("small", "large")
CLASSES = len(SHAPES) * len(SIZES)
NULL_CLASS = CLASSES
SIZE_RADII = (0.12, 0.19)  # the radius each size is drawn around, in canvas widths
RADIUS_SPREAD = 0.027  # its standard deviation: about one picture in ten past the middle (0.155)
RADIUS_RANGE = (0.07, 0.26)
EDGE = 0.8  # pixels over which an edge goes from background to shape
# Seeds of the three disjoint picture streams: what the generator learns from, what the judge learns
# from, and the real pictures everything is compared with.
GENERATOR_DATA_SEED, JUDGE_DATA_SEED, REAL_DATA_SEED = 100, 200, 300


def label_of(shape: int, size: int) -> int:
    return shape * len(SIZES) + size


def class_name(label: int) -> str:
    return f"{SHAPES[label // len(SIZES)]}, {SIZES[label % len(SIZES)]}"


def _signed_distance(shape: torch.Tensor, dx: torch.Tensor, dy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Pixels inside minus outside the edge, per shape index: positive inside."""
    radius = torch.sqrt(dx ** 2 + dy ** 2)
    disc = r - radius
    square = 0.85 * r - torch.maximum(dx.abs(), dy.abs())
    ring_width = 0.4 * r
    ring = ring_width / 2 - (radius - (r - ring_width / 2)).abs()
    arm = 0.32 * r
    cross = torch.maximum(torch.minimum(r - dx.abs(), arm - dy.abs()), torch.minimum(r - dy.abs(), arm - dx.abs()))
    # An upright triangle as three half-planes: the base, and two sides at 60 degrees.
    cos30, sin30 = math.cos(math.pi / 6), math.sin(math.pi / 6)
    triangle = torch.minimum(torch.minimum(0.5 * r - dy, dy * sin30 + dx * cos30 + 0.5 * r),
                             dy * sin30 - dx * cos30 + 0.5 * r)
    options = torch.stack([disc, square, ring, cross, triangle])  # (shape, n, H, W)
    return options.gather(0, shape.view(1, -1, 1, 1).expand(1, *dx.shape))[0]


def draw(labels, generator: torch.Generator) -> torch.Tensor:
    """(n,) class labels -> (n, 64, 64) pictures in [-1, 1], every free attribute drawn from ``generator``."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if labels.numel() and (labels.min() < 0 or labels.max() >= CLASSES):
        raise ValueError(f"shape classes are 0..{CLASSES - 1}; got {sorted(set(labels.tolist()))}")
    n = labels.shape[0]
    shape, size = labels // len(SIZES), labels % len(SIZES)

    def uniform(low, high):
        return low + (high - low) * torch.rand(n, generator=generator)

    r = (torch.tensor(SIZE_RADII)[size] + RADIUS_SPREAD * torch.randn(n, generator=generator)).clamp(*RADIUS_RANGE)
    cx, cy = uniform(r + 0.02, 1 - r - 0.02), uniform(r + 0.02, 1 - r - 0.02)
    brightness = uniform(0.4, 1.0)
    background = uniform(-0.85, -0.6)
    tilt = uniform(0.0, 2 * math.pi)
    slope = uniform(0.0, 0.2)
    grid = (torch.arange(SIDE, dtype=torch.float32) + 0.5) / SIDE
    ys, xs = grid.view(1, -1, 1), grid.view(1, 1, -1)
    per = lambda v: v.view(-1, 1, 1)  # noqa: E731 - one value per picture, broadcast over its pixels
    dx, dy = (xs - per(cx)) * SIDE, (ys - per(cy)) * SIDE
    inside = torch.sigmoid(_signed_distance(shape, dx.expand(n, SIDE, SIDE), dy.expand(n, SIDE, SIDE),
                                            per(r) * SIDE) / EDGE)
    floor = per(background) + per(slope) * ((xs - 0.5) * per(torch.cos(tilt)) + (ys - 0.5) * per(torch.sin(tilt)))
    return floor + (per(brightness) - floor) * inside


def balanced_labels(per_class: int) -> np.ndarray:
    return np.repeat(np.arange(CLASSES), per_class)


def real_set(per_class: int, seed: int) -> tuple[torch.Tensor, np.ndarray]:
    """(pictures, labels): ``per_class`` real pictures of every class, the same for the same seed."""
    labels = balanced_labels(per_class)
    return draw(labels, torch.Generator().manual_seed(seed)), labels


def to_model_space(pictures: torch.Tensor) -> torch.Tensor:
    """(n, 64, 64) pictures in [-1, 1] -> (n, 16, 1, 16, 16) float32 latents."""
    pictures = torch.as_tensor(pictures, dtype=torch.float32)
    if pictures.ndim != 3 or tuple(pictures.shape[1:]) != (SIDE, SIDE):
        raise ValueError(f"expected pictures of shape (n, {SIDE}, {SIDE}), got {tuple(pictures.shape)}")
    return torch.nn.functional.pixel_unshuffle(pictures[:, None], PACK)[:, :, None]


def from_model_space(x: torch.Tensor) -> torch.Tensor:
    """(n, 16, 1, 16, 16) latents -> (n, 64, 64) pictures clipped to [-1, 1]."""
    if x.ndim != 5 or tuple(x.shape[1:]) != (CHANNELS, 1, LATENT_SIDE, LATENT_SIDE):
        raise ValueError(f"expected samples of shape (n, {CHANNELS}, 1, {LATENT_SIDE}, {LATENT_SIDE}), "
                         f"got {tuple(x.shape)}")
    return torch.nn.functional.pixel_shuffle(x[:, :, 0].float(), PACK)[:, 0].clamp(-1.0, 1.0)


def class_context(labels) -> torch.Tensor:
    """(n,) class indices, NULL_CLASS for none -> (n, 1, 4096) prompts: Hadamard rows, as the digits' are,
    starting after the digits' rows so the two models' prompts never coincide."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if labels.numel() and (labels.min() < 0 or labels.max() > NULL_CLASS):
        raise ValueError(f"shape labels must be 0..{CLASSES - 1}, or {NULL_CLASS} for none; got {labels.tolist()}")
    return hadamard_rows(labels + 16)[:, None, :]
