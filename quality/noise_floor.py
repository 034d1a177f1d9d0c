"""Which noise picks a setting and which reports it, and how far full CFG moves by itself from one noise to another.

The grid picks its settings on the tuning seed; every table users read comes from the report seed, which no
pick has seen. Full CFG sampled from other seeds gives its own spread (the noise floor): a setting is "at full
CFG's picture" only when its accuracy stays within that spread of full CFG's from the same noise, its Fréchet
distance no more than that spread above full CFG's, and its pictures within ``SAME_PICTURE_DRIFT`` of full
CFG's from the same noise (drift compares the same noise, so it has no seed-to-seed floor). A Fréchet distance
below full CFG's is no fault: it is measured against the real pictures, which cfg 1 is nearer than full CFG.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

TUNE_SEED = 0
REPORT_SEED = 1
FLOOR_SEEDS = (2, 3, 4, 5)  # full CFG alone, beside the tuning and report seeds' own
SAME_PICTURE_DRIFT = 0.010


@dataclass(frozen=True)
class NoiseFloor:
    """Full CFG's scores from several seeds (the tuning and report seeds' among them)."""
    accuracies: tuple[float, ...]
    frechets: tuple[float, ...]

    def __post_init__(self):
        if len(self.accuracies) < 2 or len(self.accuracies) != len(self.frechets):
            raise ValueError("a noise floor needs full CFG's accuracy and Fréchet distance from at least two seeds, "
                             f"got {len(self.accuracies)} accuracies and {len(self.frechets)} distances")

    @classmethod
    def of(cls, full_cfg_rows: Sequence[Mapping]) -> "NoiseFloor":
        """From full CFG's rows, one per seed."""
        return cls(tuple(r["accuracy"] for r in full_cfg_rows), tuple(r["frechet"] for r in full_cfg_rows))

    @property
    def accuracy_spread(self) -> float:
        """How far full CFG's accuracy moves from one seed to another (largest minus smallest)."""
        return max(self.accuracies) - min(self.accuracies)

    @property
    def frechet_spread(self) -> float:
        """How far full CFG's Fréchet distance moves from one seed to another."""
        return max(self.frechets) - min(self.frechets)

    def holds(self, row: Mapping, reference: Mapping) -> bool:
        """Whether ``row`` is within full CFG's spread of ``reference`` (full CFG from the same noise)."""
        return (abs(row["accuracy"] - reference["accuracy"]) <= self.accuracy_spread + 1e-12
                and row["frechet"] <= reference["frechet"] + self.frechet_spread + 1e-12
                and row["drift"] <= SAME_PICTURE_DRIFT + 1e-12)

    def describe(self) -> str:
        return (f"full CFG from {len(self.accuracies)} seeds: accuracy {min(self.accuracies):.3f} to "
                f"{max(self.accuracies):.3f} (spread {self.accuracy_spread:.3f}), Fréchet "
                f"{min(self.frechets):.2f} to {max(self.frechets):.2f} (spread {self.frechet_spread:.2f})")


def reported(picked: Sequence[Mapping], report_rows: Sequence[Mapping]) -> list[Mapping]:
    """The report seed's rows of the settings picked on the tuning seed, in the order picked."""
    by_label = {r["label"]: r for r in report_rows}
    missing = [r["label"] for r in picked if r["label"] not in by_label]
    if missing:
        raise ValueError(f"the report run has no row for {', '.join(missing)}: run the same settings on both seeds")
    return [by_label[r["label"]] for r in picked]
