"""The per-step record of one sampling run: what ran, what was cached, and what it saved.

Words, used the same way in the log line, the step strip, the events and the benchmarks:
- a **model call** is one branch of CFG (the positive or the negative prompt) evaluated by the
  network over the whole batch. ``model_calls`` counts those the network actually ran;
  ``model_calls_cached`` those a step cache (core EasyCache or LazyCache) answered instead: **cached**
  calls, the one word for them.
- a **sampler call** is one call of the guided model by the sampler (several per step for heun,
  dpmpp_2s_ancestral, ...). Full CFG costs two model calls per sampler call.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Optional

from .keep import ReuseGuidance
from .plan import REFRESHED

MODEL_CALLS_PER_FULL_CFG_CALL = 2
# A step's kind, as the step strip colours it, is its calls' (plan.py: full, refresh, or the keep mode's kind),
# or this when a step cache answered every call of it.
CACHED = "cached"


@dataclass
class StepRecord:
    index: int
    sigma: float
    sampler_calls: int = 0
    model_calls: int = 0  # branches the network ran in this step
    model_calls_cached: int = 0  # branches the rules asked for that a step cache answered instead
    full: Optional[bool] = None  # None until the sampler calls the model in this step
    planned: Optional[str] = None  # the kind of its latest call (plan.py)
    kept: Optional[str] = None  # on truncated steps: the keep mode's name
    reasons: tuple[str, ...] = ()  # the rules that truncated the step (or would have, on a refreshed one)
    reused_from: Optional[int] = None  # keep = reuse: the full step whose guidance this step reused
    refreshed: Optional[str] = None  # a step the rules truncate that ran full CFG anyway, and why
    note: Optional[str] = None  # what happened instead of the usual (no guidance yet, a branch from a cache)
    expert: Optional[str] = None  # two-expert models: "high", "low", or "high+low" if its calls straddle
    relative_difference: Optional[float] = None  # |c - u| / |c|, batch mean, first full call of the step
    agreement: Optional[float] = None  # cosine(c, u), batch minimum, first full call of the step

    @property
    def kind(self) -> Optional[str]:
        """The step's cell in the strip; None while the sampler has not called the model in it."""
        if self.sampler_calls == 0:
            return None
        if self.model_calls == 0 and self.model_calls_cached > 0:
            return CACHED
        return self.planned

    def to_dict(self) -> dict:
        return {**asdict(self), "kind": self.kind}


@dataclass
class Ledger:
    steps: list[StepRecord]
    notes: list[str] = field(default_factory=list)
    adaptive_latched_at: Optional[int] = None  # the step at which an adaptive rule latched, as a record

    @classmethod
    def for_schedule(cls, schedule: list[float]) -> "Ledger":
        return cls(steps=[StepRecord(index=i, sigma=schedule[i]) for i in range(max(len(schedule) - 1, 0))])

    @property
    def sampler_calls(self) -> int:
        return sum(s.sampler_calls for s in self.steps)

    @property
    def model_calls(self) -> int:
        return sum(s.model_calls for s in self.steps)

    @property
    def model_calls_cached(self) -> int:
        return sum(s.model_calls_cached for s in self.steps)

    @property
    def model_calls_full_cfg(self) -> int:
        """What the same sampler calls cost with both branches run on every one."""
        return MODEL_CALLS_PER_FULL_CFG_CALL * self.sampler_calls

    def steps_of_kind(self, *kinds: str) -> list[int]:
        return [s.index for s in self.steps if s.kind in kinds]

    @property
    def truncated_steps(self) -> list[int]:
        return [s.index for s in self.steps if s.full is False]

    @property
    def saved_fraction(self) -> float:
        total = self.model_calls_full_cfg
        return 0.0 if total == 0 else 1.0 - self.model_calls / total

    def summary(self) -> str:
        text = (f"{len(self.steps)} steps, {len(self.truncated_steps)} truncated, "
                f"model calls {self.model_calls} / {self.model_calls_full_cfg} "
                f"({100.0 * self.saved_fraction:.1f} % saved)")
        reused, refreshed, cached = (self.steps_of_kind(k) for k in (ReuseGuidance.kind, REFRESHED, CACHED))
        if reused or refreshed:
            text += f", guidance reused on {len(reused)} steps, refreshed on {len(refreshed)}"
        if self.model_calls_cached:
            text += f", {self.model_calls_cached} model calls cached ({len(cached)} whole steps)"
        return text

    def to_dict(self) -> dict:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
            "adaptive_latched_at": self.adaptive_latched_at,
            "sampler_calls": self.sampler_calls,
            "model_calls": self.model_calls,
            "model_calls_cached": self.model_calls_cached,
            "model_calls_full_cfg": self.model_calls_full_cfg,
            "truncated_steps": self.truncated_steps,
            "saved_fraction": self.saved_fraction,
        }
