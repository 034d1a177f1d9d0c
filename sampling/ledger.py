"""The per-step record of one sampling run: what ran, what was cached, and what the pack saved.

Words, used the same way in the log line, the step strip, the events and the benchmarks:
- a **model call** is one branch of CFG (the positive or the negative prompt) evaluated by the
  network over the whole batch. ``model_calls`` counts those the network actually ran (an extra
  forward another node runs in the same sampler call, such as SkipLayerGuidanceDiT's, included);
  ``model_calls_cached`` those a step cache (core EasyCache or LazyCache) answered instead: **cached**
  calls, the one word for them.
- ``model_calls_core`` is what ComfyUI's own CFGGuider would have run for the same sampler calls: one
  model call at guidance scale 1 (it skips the negative branch itself), two otherwise, and the same
  extra forwards. What the pack **saved** is that, less what it asked for (ran or cached): never the
  saving of core's own cfg-1 skip, nor a cache's.
- a **sampler call** is one call of the guided model by the sampler (several per step for heun,
  dpmpp_2s_ancestral, ...).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Collection, Optional

from .keep import ReuseGuidance
from .plan import CFG_ONE, NEGATIVE, REFRESHED, CallPlan

MIXED_EXPERTS = "high+low"
# A step's kind, as the step strip colours it, is its calls' (plan.py: full, refresh, cfg1, or the keep mode's
# kind), or this when a step cache answered every call of it.
CACHED = "cached"


@dataclass
class StepRecord:
    index: int
    sigma: float
    sampler_calls: int = 0
    model_calls: int = 0  # model calls the network ran in this step
    model_calls_cached: int = 0  # model calls the plan asked for that a step cache answered instead
    model_calls_core: int = 0  # what ComfyUI's CFGGuider would have run for this step's sampler calls
    negative_calls: int = 0  # of model_calls, the negative branch's (a second model's, with model_negative)
    full: Optional[bool] = None  # None until the sampler calls the model in this step
    planned: Optional[str] = None  # the kind of its latest call (plan.py)
    kept: Optional[str] = None  # on truncated steps: the keep mode's name
    reasons: tuple[str, ...] = ()  # the rules that truncated the step (or would have, on a refreshed one)
    reused_from: Optional[int] = None  # keep = reuse: the full step whose guidance this step reused
    refreshed: Optional[str] = None  # a step the rules truncate that ran full CFG anyway, and why
    note: Optional[str] = None  # what happened instead of the usual (no guidance yet, a branch cached)
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
    not_finite_from: Optional[int] = None  # the first step whose output had a NaN or an infinity

    @classmethod
    def for_schedule(cls, schedule: list[float]) -> "Ledger":
        return cls(steps=[StepRecord(index=i, sigma=schedule[i]) for i in range(max(len(schedule) - 1, 0))])

    def record(self, plan: CallPlan, ran: Collection[str], cached: Collection[str],
               guidance_from: Optional[int] = None) -> None:
        """One sampler call: the branches the network ran, those a step cache answered, what core would have run.
        ``guidance_from``: the full step whose guidance a full call keeps when a cache answered part of it."""
        rec = self.steps[plan.step]
        rec.sampler_calls += 1
        rec.model_calls += len(ran)
        rec.negative_calls += NEGATIVE in ran
        rec.model_calls_cached += len(cached)
        rec.model_calls_core += plan.core_calls
        rec.full = plan.full
        rec.planned = plan.kind
        rec.kept = None if plan.keep is None else plan.keep.name
        rec.reasons = plan.reasons
        rec.reused_from = plan.reused_from
        rec.refreshed = plan.refreshed
        rec.note = plan.note
        if plan.full and cached and guidance_from is not None:
            rec.note = f"{' and '.join(sorted(cached))} cached by a step cache: guidance of step {guidance_from} kept"
        if plan.expert is not None:
            # A multi-stage step can straddle the boundary: its calls then name both experts.
            rec.expert = plan.expert if rec.expert in (None, plan.expert) else MIXED_EXPERTS

    def record_extra(self, step: int, count: int) -> None:
        """Forwards another node ran in a sampler call beyond the plan's (SkipLayerGuidanceDiT's): core runs them
        too."""
        self.steps[step].model_calls += count
        self.steps[step].model_calls_core += count

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
    def model_calls_core(self) -> int:
        return sum(s.model_calls_core for s in self.steps)

    @property
    def negative_calls(self) -> int:
        return sum(s.negative_calls for s in self.steps)

    @property
    def negative_calls_core(self) -> int:
        """The negative branch's calls under core: one per sampler call it guides (none at scale 1)."""
        return self.model_calls_core - self.sampler_calls

    @property
    def model_calls_saved(self) -> int:
        """What the pack saved: what core would have run, less what the pack asked for (ran or cached)."""
        return self.model_calls_core - self.model_calls - self.model_calls_cached

    @property
    def nothing_to_skip(self) -> bool:
        """Every sampler call was at scale 1, where core runs no negative branch: there was none to skip."""
        return self.sampler_calls > 0 and all(s.planned == CFG_ONE for s in self.steps if s.sampler_calls)

    def steps_of_kind(self, *kinds: str) -> list[int]:
        return [s.index for s in self.steps if s.kind in kinds]

    @property
    def truncated_steps(self) -> list[int]:
        return [s.index for s in self.steps if s.full is False]

    @property
    def saved_fraction(self) -> float:
        total = self.model_calls_core
        return 0.0 if total == 0 else self.model_calls_saved / total

    def summary(self) -> str:
        saved = f"{100.0 * self.saved_fraction:.1f} % saved"
        if self.nothing_to_skip:
            saved += "; at cfg 1 ComfyUI runs no negative branch, so there is none to skip"
        text = (f"{len(self.steps)} steps, {len(self.truncated_steps)} truncated, "
                f"model calls {self.model_calls} / {self.model_calls_core} ({saved})")
        reused, refreshed, cached = (self.steps_of_kind(k) for k in (ReuseGuidance.kind, REFRESHED, CACHED))
        if reused or refreshed:
            text += f", guidance reused on {len(reused)} steps, refreshed on {len(refreshed)}"
        if self.model_calls_cached:
            text += f", {self.model_calls_cached} model calls cached ({len(cached)} whole steps)"
        if self.not_finite_from is not None:
            text += f", output not finite from step {self.not_finite_from + 1}"
        return text

    def to_dict(self) -> dict:
        return {
            "steps": [s.to_dict() for s in self.steps],
            "notes": list(self.notes),
            "adaptive_latched_at": self.adaptive_latched_at,
            "not_finite_from": self.not_finite_from,
            "sampler_calls": self.sampler_calls,
            "model_calls": self.model_calls,
            "model_calls_cached": self.model_calls_cached,
            "model_calls_core": self.model_calls_core,
            "model_calls_saved": self.model_calls_saved,
            "negative_calls": self.negative_calls,
            "negative_calls_core": self.negative_calls_core,
            "nothing_to_skip": self.nothing_to_skip,
            "truncated_steps": self.truncated_steps,
            "saved_fraction": self.saved_fraction,
        }
