"""keep = reuse, cfg_every, the refresh and the decay latch: the pure-torch parts (sampling/reuse.py, run.py)."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.guidance import relative_change
from sampling.plan import BOTH
from sampling.policy import TruncationPolicy
from sampling.reuse import GuidanceMemory, extrapolated_difference, held_difference
from sampling.keep import NO_GUIDANCE_YET, REFRESH_EXPERT_SWITCH, REFRESH_MOVED
from sampling.run import TruncationRun

SCHEDULE = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
G = torch.Generator().manual_seed(0)
X = torch.randn(2, 4, 1, 6, 6, generator=G)
COND = torch.randn(2, 4, 1, 6, 6, generator=G)
UNCOND = torch.randn(2, 4, 1, 6, 6, generator=G)


def sigma(value, batch=2):
    return torch.full((batch,), value)


def remembered(estimate=held_difference, step=0, s=0.8, expert=None):
    memory = GuidanceMemory(estimate, track_drift=True)
    memory.remember(step, X, sigma(s), COND, UNCOND, expert)
    return memory


def test_reuse_holds_the_model_output_difference():
    memory = remembered(held_difference, s=0.8)
    cond_now = torch.randn(2, 4, 1, 6, 6, generator=G)
    uncond = memory.estimate_uncond(sigma(0.4), cond_now)
    # In x0 terms the difference shrinks with sigma: delta_now = delta_then * 0.4 / 0.8.
    torch.testing.assert_close(uncond, cond_now - (COND - UNCOND) * 0.5, rtol=0, atol=1e-6)


def test_extrapolation_is_exact_for_a_linear_difference_one_span_ahead_then_holds():
    memory = GuidanceMemory(extrapolated_difference)
    d0, d1 = torch.randn(2, 3, generator=G), torch.randn(2, 3, generator=G)
    slope = (d1 - d0) / (0.6 - 0.8)

    def delta_at(s):  # model-output difference, linear in sigma
        return d1 + slope * (s - 0.6)

    for step, s in ((0, 0.8), (1, 0.6)):
        memory.remember(step, torch.zeros(2, 3), sigma(s), delta_at(s) * s, torch.zeros(2, 3))
    estimated = memory.estimate_uncond(sigma(0.45), torch.zeros(2, 3))
    torch.testing.assert_close(estimated, -delta_at(0.45) * 0.45, rtol=1e-5, atol=1e-6)
    # No further than the two full steps lie apart (0.2 below 0.6): held at D(0.4) beyond.
    beyond = memory.estimate_uncond(sigma(0.1), torch.zeros(2, 3))
    torch.testing.assert_close(beyond, -delta_at(0.4) * 0.1, rtol=1e-5, atol=1e-6)
    # With one full step only it falls back to holding the difference.
    single = remembered(extrapolated_difference, s=0.8)
    torch.testing.assert_close(single.estimate_uncond(sigma(0.4), COND), COND - (COND - UNCOND) * 0.5,
                               rtol=0, atol=1e-6)


def test_each_sample_keeps_its_own_difference():
    memory = remembered(held_difference, s=0.5)
    swapped = memory.estimate_uncond(sigma(0.5), COND.flip(0))
    torch.testing.assert_close(swapped[0], COND[1] - (COND[0] - UNCOND[0]), rtol=0, atol=1e-6)


def test_a_difference_from_the_other_expert_is_not_usable_and_a_new_expert_starts_over():
    memory = remembered(expert="high")
    assert memory.usable_for("high") and not memory.usable_for("low")
    memory.remember(4, X, sigma(0.5), COND, COND, "low")
    assert [e.step for e in memory.history] == [4] and memory.usable_for("low")


def test_drift_is_the_largest_relative_change_of_the_positive_output_since_the_full_call():
    memory = remembered(s=0.5)
    then = (X - COND) / 0.5
    moved = COND.clone()
    moved[1] += 0.5  # sample 1 moves further
    memory.observe(1, X, sigma(0.5), moved)
    expected = relative_change((X - moved) / 0.5, then).max()
    assert float(memory.drift) == pytest.approx(float(expected)) and float(memory.drift) > 0
    memory.remember(2, X, sigma(0.4), COND, UNCOND)
    assert memory.drift is None


def full_call(run, s, cond=COND, uncond=UNCOND):
    """One sampler call at ``s`` that the network ran as planned (x0 predictions ``cond``, ``uncond``)."""
    plan = run.plan(s, 4.0)
    run.complete(plan, X, sigma(s), [cond, uncond if plan.full else torch.zeros_like(cond)], plan.branches)
    return plan


def test_cfg_every_guides_every_kth_step_and_reuse_names_its_source():
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse"), SCHEDULE)
    plans = [full_call(run, s) for s in SCHEDULE[:-1]]
    assert [p.full for p in plans] == [True, False, True, False, True]
    assert [p.reused_from for p in plans] == [None, 0, None, 2, None]
    assert all(p.reasons == ("cfg_every",) for p in plans if not p.full)
    assert run.ledger.steps_of_kind("reuse") == [1, 3]


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 60), k=st.integers(0, 12))
def test_cfg_every_truncates_exactly_the_steps_off_the_multiples_of_k(n, k):
    schedule = [1.0 - i / n for i in range(n + 1)]
    policy = TruncationPolicy(cfg_every=k)
    truncated = [i for i in range(n) if policy.static_reasons(i, schedule)]
    assert truncated == ([i for i in range(n) if i % k] if k > 1 else [])


def test_reuse_before_any_full_step_keeps_cond_and_says_why():
    run = TruncationRun(TruncationPolicy(sigma_high=0.5, keep="reuse"), SCHEDULE)
    first = run.plan(1.0, 4.0)
    assert (first.full, first.keep.name, first.note, first.scale) == (False, "cond", NO_GUIDANCE_YET, 1.0)


def test_after_an_expert_switch_the_first_reuse_step_runs_full_cfg():
    run = TruncationRun(TruncationPolicy(cfg_every=3, keep="reuse"), SCHEDULE, boundary=0.7)
    full_call(run, 1.0)  # step 0, high-noise expert
    assert run.plan(0.8, 4.0).keep.name == "reuse"  # still the high-noise expert
    after = run.plan(0.6, 4.0)  # step 2: the low-noise expert
    assert (after.full, after.keep, after.refreshed) == (True, None, REFRESH_EXPERT_SWITCH)


def test_the_refresh_fires_once_the_positive_prediction_moved_beyond_the_threshold():
    run = TruncationRun(TruncationPolicy(cfg_trunc_ratio=0.2, keep="reuse", reuse_refresh=0.1), SCHEDULE)
    full_call(run, 1.0)
    output = X - COND  # the positive model output (x - x0) / sigma at sigma 1
    assert full_call(run, 0.8, cond=X - 0.8 * output).keep.name == "reuse"  # the same output: no drift
    assert full_call(run, 0.6, cond=X - 0.6 * (output + 5.0)).keep.name == "reuse"  # decided before this call moved
    refreshed = run.plan(0.4, 4.0)
    assert refreshed.full and refreshed.refreshed == REFRESH_MOVED and refreshed.reasons == ("cfg_trunc_ratio",)
    run.complete(refreshed, X, sigma(0.4), [COND, UNCOND], BOTH)
    assert run.plan(0.2, 4.0).keep.name == "reuse" and run.ledger.steps_of_kind("refresh") == [3]


def test_decay_latch_waits_for_the_guidance_to_fall_below_its_fraction_of_the_peak():
    run = TruncationRun(TruncationPolicy(adaptive_decay=0.3), SCHEDULE)
    # Guidance difference of the denoised predictions: 1, 2 (the peak), 1, 0.5 (<= 0.3 * 2).
    for step, (s, size) in enumerate(zip(SCHEDULE[:4], [1.0, 2.0, 1.0, 0.5], strict=True)):
        full_call(run, s, COND, COND - size)
        assert run.latch.latched_at == (3 if step == 3 else None), step
    assert run.plan(0.2, 4.0).reasons == ("adaptive",)


def test_decay_latch_compares_denoised_predictions_not_model_outputs():
    run = TruncationRun(TruncationPolicy(adaptive_decay=0.5), SCHEDULE)
    # A model-output (velocity) difference that stays constant moves the denoised prediction less and
    # less as sigma falls: 0.6 of its peak at sigma 0.6, 0.4 (<= 0.5) at sigma 0.4.
    for s in SCHEDULE[:4]:
        full_call(run, s, COND, COND - s)
    assert run.latch.latched_at == run.ledger.adaptive_latched_at == 3
