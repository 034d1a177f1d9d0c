"""The per-step record of one sampling run: what ran, and what it saved.

The sum of ``branches`` over steps is the number of branch evaluations the model actually ran
(a branch is the conditional or the unconditional half of CFG over the whole batch); benchmarks,
logs and the UI report exactly this.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

BRANCHES_PER_FULL_CALL = 2


@dataclass
class StepRecord:
    index: int
    sigma: float
    calls: int = 0
    branches: int = 0
    full: Optional[bool] = None  # None until the sampler calls the model in this step
    kept: Optional[str] = None  # on truncated steps: "cond", "uncond" or "reuse"
    reasons: tuple[str, ...] = ()  # the rules that truncated the step (or would have, on a refreshed one)
    reused_from: Optional[int] = None  # keep = reuse: the full step whose guidance this step reused
    refreshed: Optional[str] = None  # a step the rules truncate that ran full CFG anyway, and why
    expert: Optional[str] = None  # two-expert models: "high", "low", or "high+low" if its calls straddle
    relative_difference: Optional[float] = None  # |c - u| / |c|, batch mean, first full call of the step
    agreement: Optional[float] = None  # cosine(c, u), batch minimum, first full call of the step


@dataclass
class Ledger:
    steps: list[StepRecord]
    notes: list[str] = field(default_factory=list)
    adaptive_latched_at: Optional[int] = None

    @classmethod
    def for_schedule(cls, schedule: list[float]) -> "Ledger":
        return cls(steps=[StepRecord(index=i, sigma=schedule[i]) for i in range(max(len(schedule) - 1, 0))])

    @property
    def calls(self) -> int:
        return sum(s.calls for s in self.steps)

    @property
    def branches(self) -> int:
        return sum(s.branches for s in self.steps)

    @property
    def branches_full_cfg(self) -> int:
        """What the same calls cost with both branches on every call."""
        return BRANCHES_PER_FULL_CALL * self.calls

    @property
    def truncated_steps(self) -> list[int]:
        return [s.index for s in self.steps if s.full is False]

    @property
    def full_steps(self) -> list[int]:
        return [s.index for s in self.steps if s.full is True]

    @property
    def reused_steps(self) -> list[int]:
        """Truncated steps that reused the guidance of a full step (keep = reuse)."""
        return [s.index for s in self.steps if s.full is False and s.kept == "reuse"]

    @property
    def refreshed_steps(self) -> list[int]:
        return [s.index for s in self.steps if s.full is True and s.refreshed]

    @property
    def saved_fraction(self) -> float:
        total = self.branches_full_cfg
        return 0.0 if total == 0 else 1.0 - self.branches / total

    def summary(self) -> str:
        text = (f"{len(self.steps)} steps, {len(self.truncated_steps)} truncated, "
                f"branch evaluations {self.branches} / {self.branches_full_cfg} "
                f"({100.0 * self.saved_fraction:.1f} % saved)")
        if self.reused_steps or self.refreshed_steps:
            text += (f", guidance reused on {len(self.reused_steps)} steps, "
                     f"refreshed on {len(self.refreshed_steps)}")
        return text

    def to_dict(self) -> dict:
        return {
            "steps": [asdict(s) for s in self.steps],
            "notes": list(self.notes),
            "adaptive_latched_at": self.adaptive_latched_at,
            "calls": self.calls,
            "branches": self.branches,
            "branches_full_cfg": self.branches_full_cfg,
            "truncated_steps": self.truncated_steps,
            "reused_steps": self.reused_steps,
            "refreshed_steps": self.refreshed_steps,
            "saved_fraction": self.saved_fraction,
        }
