"""What the ledger shows of each step beside its counts, taken on the device and read back once, at the end: the
guidance's relative size and agreement on the step's first full call, and whether every output was finite."""
from __future__ import annotations

import torch

from .ledger import Ledger


class StepMeasures:
    def __init__(self):
        self._guidance: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._finite: dict[int, list[torch.Tensor]] = {}  # per step, whether each call's output was finite

    def guidance(self, step: int, relative_difference: torch.Tensor, agreement: torch.Tensor) -> None:
        """The step's first full call is the one the ledger shows."""
        self._guidance.setdefault(step, (relative_difference, agreement))

    def output(self, step: int, output: torch.Tensor) -> torch.Tensor:
        """Notes whether the output is finite, without waiting for the device."""
        with torch.no_grad():
            self._finite.setdefault(step, []).append(torch.isfinite(output).all())
        return output

    def write(self, ledger: Ledger) -> None:
        for step, (rel, agree) in self._guidance.items():
            ledger.steps[step].relative_difference = float(rel.mean())
            ledger.steps[step].agreement = float(agree.min())
        ledger.not_finite_from = next((step for step, flags in sorted(self._finite.items())
                                       if not all(bool(f) for f in flags)), None)
        self._guidance.clear()
        self._finite.clear()
