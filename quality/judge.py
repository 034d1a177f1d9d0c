"""The independent judge: scores generated digits against the real ones with scikit-learn alone.

It never sees the generator: a support-vector classifier trained on the real train split gives the
class accuracy; a Fréchet distance in a PCA space fitted on the real digits measures how far the
generated set lies from the real test split; diversity compares the spread within each class to
the real digits' spread. Everything is deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import digits_data

PCA_COMPONENTS = 16


@dataclass(frozen=True)
class Scores:
    accuracy: float  # share of samples the judge assigns the class they were asked for
    frechet: float  # Fréchet distance to the real test digits in the judge's PCA space (0 = same Gaussian)
    diversity: float  # within-class mean pairwise distance, generated / real (1 = as varied as real)

    def as_dict(self) -> dict[str, float]:
        return {"accuracy": self.accuracy, "frechet": self.frechet, "diversity": self.diversity}


def _flat(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[1:] != (digits_data.SIDE, digits_data.SIDE):
        raise ValueError(f"expected digits of shape (n, 8, 8), got {images.shape}")
    return images.reshape(images.shape[0], -1)


def frechet_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to the rows of a and b (as FID does)."""
    from scipy import linalg

    if a.shape[0] < 2 or b.shape[0] < 2:
        raise ValueError("a Fréchet distance needs at least two samples on each side")
    mu_a, mu_b = a.mean(axis=0), b.mean(axis=0)
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(cov_a @ cov_b)
    if np.iscomplexobj(covmean):  # round-off makes tiny imaginary parts; larger ones mean a broken input
        if not np.allclose(covmean.imag, 0.0, atol=1e-6 * max(1.0, np.abs(covmean).max())):
            raise ValueError("covariance product has a large imaginary square root; are the samples finite?")
        covmean = covmean.real
    # Mathematically >= 0; identical inputs can round to a hair below.
    return max(0.0, float(((mu_a - mu_b) ** 2).sum() + np.trace(cov_a + cov_b - 2.0 * covmean)))


def mean_pairwise_distance(rows: np.ndarray) -> float:
    if rows.shape[0] < 2:
        raise ValueError("diversity needs at least two samples of a class")
    sq = (rows ** 2).sum(axis=1)
    d2 = np.maximum(sq[:, None] + sq[None, :] - 2.0 * rows @ rows.T, 0.0)
    n = rows.shape[0]
    return float(np.sqrt(d2)[np.triu_indices(n, k=1)].mean())


class Judge:
    def __init__(self):
        from sklearn.decomposition import PCA
        from sklearn.svm import SVC

        x_train, y_train, x_test, y_test = digits_data.load_split()
        train, test = _flat(x_train), _flat(x_test)
        self.classifier = SVC(gamma=0.001, C=10.0).fit(train, y_train)
        self.real_accuracy = float((self.classifier.predict(test) == y_test).mean())
        self.pca = PCA(n_components=PCA_COMPONENTS, random_state=0).fit(train)
        self.test_features = self.pca.transform(test)
        self.real_spread = {c: mean_pairwise_distance(test[y_test == c]) for c in range(digits_data.CLASSES)}
        # The floor for frechet: real train vs real test, both real.
        self.real_frechet = frechet_distance(self.pca.transform(train), self.test_features)

    def describe(self) -> str:
        """What it measures, for the report."""
        return (f"Judge: an RBF SVM on the real train split scores {self.real_accuracy:.3f} on the real test split. "
                f"Fréchet is measured in a {self.pca.n_components_}-component PCA of the real digits against the "
                f"real test split (real train vs real test: {self.real_frechet:.2f}). Diversity is the mean distance "
                "between samples of a class over the same for real digits (1.0 = as varied as the real ones).")

    def score(self, images: np.ndarray, labels: np.ndarray) -> Scores:
        rows, labels = _flat(images), np.asarray(labels)
        if rows.shape[0] != labels.shape[0]:
            raise ValueError(f"{rows.shape[0]} samples but {labels.shape[0]} labels")
        if not np.isfinite(rows).all():
            raise ValueError("generated samples contain NaN or infinity")
        accuracy = float((self.classifier.predict(rows) == labels).mean())
        frechet = frechet_distance(self.pca.transform(rows), self.test_features)
        present = [c for c in range(digits_data.CLASSES) if (labels == c).sum() >= 2]
        diversity = float(np.mean([mean_pairwise_distance(rows[labels == c]) / self.real_spread[c] for c in present]))
        return Scores(accuracy, frechet, diversity)
