"""scikit-learn's bundled 8x8 digits as a Wan-architecture model sees them.

ComfyUI runs a Wan model on 16-channel latents (its Wan21 latent format). A digit's 8x8 pixels,
scaled to [-1, 1], are packed space-to-depth, 4x4 blocks into 16 channels (as a VAE with 4x
downsampling packs pixels into channels): one 2x2 latent frame, exactly the 64 numbers of the
picture, so the model spends nothing on empty channels and the noise level a sigma means is that
of the picture itself. Wan's 2x2 patches make it one token. The class is a "prompt" of
one token in Wan's 4096-wide text space: row k + 1 of the 4096 x 4096 Sylvester-Hadamard matrix
for class k (entries +-1, so the embedding is as strong as a real text encoder's, orthogonal to
every other class, and fixed by arithmetic, not by a random generator). Class 10 is "no class",
the unconditional branch the model learns through label dropout.
"""
from __future__ import annotations

import numpy as np
import torch

CHANNELS = 16  # ComfyUI's Wan21 latent format
TEXT_DIM = 4096  # ComfyUI's WanModel text width (UMT5-XXL)
SIDE = 8
CLASSES = 10
NULL_CLASS = CLASSES
PIXEL_MAX = 16.0  # digits pixels are whole numbers 0..16
SPLIT_SEED = 0
PACK = 4  # pixels per latent pixel along each side
LATENT_SIDE = SIDE // PACK
TEST_FRACTION = 0.3


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train images, train labels, test images, test labels): a fixed stratified 70/30 split.

    Images are float arrays (n, 8, 8) in 0..16. The generator and the judge learn from the train
    part only; the distribution distance is taken against the test part.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images, labels = digits.images.astype(np.float64), digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        images, labels, test_size=TEST_FRACTION, random_state=SPLIT_SEED, stratify=labels)
    return x_train, y_train, x_test, y_test


def to_model_space(images: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(n, 8, 8) pixels in 0..16 -> (n, 16, 1, 2, 2) float32 latents."""
    pixels = torch.as_tensor(np.asarray(images), dtype=torch.float32)
    if pixels.ndim != 3 or tuple(pixels.shape[1:]) != (SIDE, SIDE):
        raise ValueError(f"expected digits of shape (n, {SIDE}, {SIDE}), got {tuple(pixels.shape)}")
    scaled = pixels / (PIXEL_MAX / 2) - 1.0
    return torch.nn.functional.pixel_unshuffle(scaled[:, None], PACK)[:, :, None]


def from_model_space(x: torch.Tensor) -> np.ndarray:
    """(n, 16, 1, 2, 2) latents -> (n, 8, 8) pixels clipped to 0..16, as float64 for scikit-learn."""
    if x.ndim != 5 or x.shape[1:] != (CHANNELS, 1, LATENT_SIDE, LATENT_SIDE):
        raise ValueError(f"expected samples of shape (n, {CHANNELS}, 1, {LATENT_SIDE}, {LATENT_SIDE}), "
                         f"got {tuple(x.shape)}")
    scaled = torch.nn.functional.pixel_shuffle(x[:, :, 0].double(), PACK)[:, 0]
    return ((scaled + 1.0) * (PIXEL_MAX / 2)).clamp(0.0, PIXEL_MAX).cpu().numpy()


def hadamard_rows(rows: torch.Tensor, width: int = TEXT_DIM) -> torch.Tensor:
    """Rows of the Sylvester-Hadamard matrix: H[r, j] = (-1) ** popcount(r & j)."""
    parity = torch.zeros(rows.shape[0], width, dtype=torch.long)
    overlap = rows[:, None] & torch.arange(width)[None, :]
    for bit in range(width.bit_length()):
        parity ^= (overlap >> bit) & 1
    return 1.0 - 2.0 * parity.float()


def class_context(labels) -> torch.Tensor:
    """(n,) class indices, NULL_CLASS for none -> (n, 1, 4096) prompts."""
    labels = torch.as_tensor(np.asarray(labels), dtype=torch.long).reshape(-1)
    if labels.numel() and (labels.min() < 0 or labels.max() > NULL_CLASS):
        raise ValueError(f"class labels must be 0..{CLASSES - 1}, or {NULL_CLASS} for none; got {labels.tolist()}")
    return hadamard_rows(labels + 1)[:, None, :]
