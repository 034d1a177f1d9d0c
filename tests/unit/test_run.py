import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.policy import TruncationPolicy
from sampling.run import TruncationRun

SCHEDULE = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]


def full_call(run, sigma, cond, uncond, x=None):
    decision = run.decide(sigma)
    x = torch.zeros_like(cond) if x is None else x
    # ComfyUI hands x0 predictions; the run measures on x - x0.
    run.record(decision, 2 if decision.full else 1, x, torch.tensor([sigma]), x - cond, x - uncond)
    return decision


def test_adaptive_latches_after_the_first_agreeing_step_and_truncates_every_later_one():
    run = TruncationRun(TruncationPolicy(adaptive_threshold=0.99), SCHEDULE)
    c = torch.randn(2, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    far = torch.stack([c[0], -c[1]])  # sample 1 disagrees
    assert full_call(run, 1.0, c, far).full
    assert full_call(run, 0.8, c, c * 1.5).full  # both samples agree (cosine 1): latch here
    assert run.ledger.adaptive_latched_at == 1
    later = [run.decide(s) for s in (0.6, 0.4, 0.2)]
    assert [d.full for d in later] == [False] * 3
    assert all(d.reasons == ("adaptive",) and d.keep == "cond" for d in later)
    assert run.decide(0.8).full  # the latching step itself stays full for its remaining calls


def test_adaptive_waits_for_every_sample_of_the_batch():
    run = TruncationRun(TruncationPolicy(adaptive_threshold=0.99), SCHEDULE)
    c = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    full_call(run, 1.0, c, torch.stack([c[0], c[1] * -1]))
    assert run.ledger.adaptive_latched_at is None
    assert run.decide(0.8).full


def test_adaptive_measures_model_outputs_not_x0():
    # Same x0 agreement, different model-output agreement: x shifts x0 but not x - x0.
    run = TruncationRun(TruncationPolicy(adaptive_threshold=0.99), SCHEDULE)
    x = torch.full((1, 8), 100.0)
    cond = torch.ones(1, 8)
    uncond = -torch.ones(1, 8)
    decision = run.decide(1.0)
    run.record(decision, 2, x, torch.tensor([1.0]), x - cond, x - uncond)  # x0s nearly parallel, outputs opposite
    assert run.ledger.adaptive_latched_at is None


def test_a_new_run_starts_with_a_fresh_latch_and_ledger():
    policy = TruncationPolicy(adaptive_threshold=0.5)
    first = TruncationRun(policy, SCHEDULE)
    c = torch.ones(1, 8)
    full_call(first, 1.0, c, c)
    assert first.ledger.adaptive_latched_at == 0
    second = TruncationRun(policy, SCHEDULE)
    assert second.ledger.adaptive_latched_at is None and second.ledger.calls == 0
    assert second.decide(0.6).full


def test_ledger_counts_calls_branches_and_savings():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=2, keep="uncond"), SCHEDULE)
    c = torch.randn(1, 8, generator=torch.Generator().manual_seed(2))
    for sigma in SCHEDULE[:-1]:
        full_call(run, sigma, c, c * 0.5)
    ledger = run.finish()
    assert ledger.truncated_steps == [3, 4] and ledger.full_steps == [0, 1, 2]
    assert (ledger.calls, ledger.branches, ledger.branches_full_cfg) == (5, 8, 10)
    assert ledger.saved_fraction == pytest.approx(0.2)
    assert [s.kept for s in ledger.steps] == [None, None, None, "uncond", "uncond"]
    assert ledger.steps[0].relative_difference == pytest.approx(0.5, rel=1e-6)
    assert ledger.steps[0].agreement == pytest.approx(1.0, abs=1e-6)
    assert ledger.steps[4].relative_difference is None
    assert "5 steps, 2 truncated, branch evaluations 8 / 10 (20.0 % saved)" == ledger.summary()
    assert ledger.to_dict()["truncated_steps"] == [3, 4]


def test_more_truncated_steps_than_the_schedule_says_so_once():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=9), SCHEDULE)
    assert run.ledger.notes == [
        "cfg_truncate_steps = 9 is more than the 5 steps of this schedule: every step is truncated"]
    assert all(not run.decide(s).full for s in SCHEDULE[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=2, max_size=30),
       st.integers(min_value=0, max_value=40), st.floats(min_value=0.0, max_value=1.0),
       st.lists(st.floats(min_value=-1.0, max_value=25.0), min_size=1, max_size=50))
def test_every_call_gets_one_decision_and_is_counted(schedule, n, ratio, calls):
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=n, cfg_trunc_ratio=ratio), schedule)
    for sigma in calls:
        decision = run.decide(sigma)
        assert 0 <= decision.step < len(schedule) - 1
        assert decision.full == (run.decide(sigma).full)  # the same call decides the same way
        run.record(decision, 2 if decision.full else 1)
    ledger = run.finish()
    assert ledger.calls == len(calls)
    assert ledger.branches == sum(2 if s.full else 1 for s in ledger.steps for _ in range(s.calls))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=-5, max_value=50) | st.just(math.nan), min_size=0, max_size=12),
       st.floats(min_value=-5, max_value=50) | st.just(math.nan))
def test_any_schedule_and_sigma_either_decides_or_says_what_is_wrong(schedule, sigma):
    """Random, NaN-bearing, duplicate, rising and empty schedules: a decision or a named ValueError."""
    try:
        run = TruncationRun(TruncationPolicy(cfg_truncate_steps=1, adaptive_threshold=0.9), schedule)
    except ValueError as exc:
        assert "NaN at position" in str(exc) and any(s != s for s in schedule)
        return
    try:
        decision = run.decide(sigma)
    except ValueError as exc:
        assert ("no steps" in str(exc) and len(schedule) < 2) or ("NaN" in str(exc) and sigma != sigma)
        return
    assert 0 <= decision.step < len(schedule) - 1


def test_a_zero_length_schedule_has_an_empty_ledger():
    ledger = TruncationRun(TruncationPolicy(cfg_truncate_steps=3), [1.0]).finish()
    assert ledger.steps == [] and ledger.summary() == "0 steps, 0 truncated, branch evaluations 0 / 0 (0.0 % saved)"
