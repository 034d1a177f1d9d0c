import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.plan import BOTH, NEGATIVE, POSITIVE
from sampling.policy import TruncationPolicy
from sampling.run import TruncationRun

SCHEDULE = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
CFG = 4.0


def full_call(run, sigma, cond, uncond, x=None):
    """One sampler call at ``sigma`` that the network ran as planned; ``cond``/``uncond`` are model outputs."""
    plan = run.plan(sigma, CFG)
    x = torch.zeros_like(cond) if x is None else x
    # ComfyUI hands x0 predictions; the run measures on x - x0.
    run.complete(plan, x, torch.tensor([sigma]), [x - cond, x - uncond], plan.branches)
    return plan


def test_adaptive_latches_after_the_first_agreeing_step_and_truncates_every_later_one():
    run = TruncationRun(TruncationPolicy(adaptive_threshold=0.99), SCHEDULE)
    c = torch.randn(2, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    far = torch.stack([c[0], -c[1]])  # sample 1 disagrees
    assert full_call(run, 1.0, c, far).full
    assert full_call(run, 0.8, c, c * 1.5).full  # both samples agree (cosine 1): latch here
    assert run.latch.latched_at == run.ledger.adaptive_latched_at == 1
    later = [run.plan(s, CFG) for s in (0.6, 0.4, 0.2)]
    assert [p.full for p in later] == [False] * 3
    assert all(p.reasons == ("adaptive",) and p.keep.name == "cond" and p.scale == 1.0 for p in later)
    assert run.plan(0.8, CFG).full  # the latching step itself stays full for its remaining calls


def test_adaptive_waits_for_every_sample_of_the_batch():
    run = TruncationRun(TruncationPolicy(adaptive_threshold=0.99), SCHEDULE)
    c = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    full_call(run, 1.0, c, torch.stack([c[0], c[1] * -1]))
    assert run.latch.latched_at is None
    assert run.plan(0.8, CFG).full


def test_adaptive_measures_model_outputs_not_x0():
    # Same x0 agreement, different model-output agreement: x shifts x0 but not x - x0.
    run = TruncationRun(TruncationPolicy(adaptive_threshold=0.99), SCHEDULE)
    x = torch.full((1, 8), 100.0)
    cond = torch.ones(1, 8)
    uncond = -torch.ones(1, 8)
    plan = run.plan(1.0, CFG)
    run.complete(plan, x, torch.tensor([1.0]), [x - cond, x - uncond], BOTH)  # x0s nearly parallel, outputs opposite
    assert run.latch.latched_at is None


def test_a_new_run_starts_with_a_fresh_latch_and_ledger():
    policy = TruncationPolicy(adaptive_threshold=0.5)
    first = TruncationRun(policy, SCHEDULE)
    c = torch.ones(1, 8)
    full_call(first, 1.0, c, c)
    assert first.latch.latched_at == 0
    second = TruncationRun(policy, SCHEDULE)
    assert second.latch.latched_at is None and second.ledger.sampler_calls == 0
    assert second.plan(0.6, CFG).full


def test_ledger_counts_sampler_calls_model_calls_and_savings():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=2, keep="uncond"), SCHEDULE)
    c = torch.randn(1, 8, generator=torch.Generator().manual_seed(2))
    for sigma in SCHEDULE[:-1]:
        full_call(run, sigma, c, c * 0.5)
    ledger = run.finish()
    assert ledger.truncated_steps == [3, 4] and [s.index for s in ledger.steps if s.full] == [0, 1, 2]
    assert (ledger.sampler_calls, ledger.model_calls, ledger.model_calls_core) == (5, 8, 10)
    assert ledger.saved_fraction == pytest.approx(0.2)
    assert [s.kept for s in ledger.steps] == [None, None, None, "uncond", "uncond"]
    assert ledger.steps[0].relative_difference == pytest.approx(0.5, rel=1e-6)
    assert ledger.steps[0].agreement == pytest.approx(1.0, abs=1e-6)
    assert ledger.steps[4].relative_difference is None
    assert "5 steps, 2 truncated, model calls 8 / 10 (20.0 % saved)" == ledger.summary()
    as_dict = ledger.to_dict()
    assert as_dict["truncated_steps"] == [3, 4] and as_dict["model_calls"] == 8
    assert [s["kind"] for s in as_dict["steps"]] == ["full"] * 3 + ["uncond"] * 2


def test_more_truncated_steps_than_the_schedule_says_so_once():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=9), SCHEDULE)
    assert run.ledger.notes == [
        "cfg_truncate_steps = 9 is more than the 5 steps of this schedule: every step is truncated"]
    assert all(not run.plan(s, CFG).full for s in SCHEDULE[:-1])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=20.0), min_size=2, max_size=30),
       st.integers(min_value=0, max_value=40), st.floats(min_value=0.0, max_value=1.0),
       st.lists(st.floats(min_value=-1.0, max_value=25.0), min_size=1, max_size=50))
def test_every_call_gets_one_plan_and_is_counted(schedule, n, ratio, calls):
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=n, cfg_trunc_ratio=ratio), schedule)
    x = torch.zeros(1, 2)
    for sigma in calls:
        plan = run.plan(sigma, CFG)
        assert 0 <= plan.step < len(schedule) - 1
        assert plan == run.plan(sigma, CFG)  # the same call plans the same way
        run.complete(plan, x, torch.tensor([1.0]), [x, x], plan.branches)
    ledger = run.finish()
    assert ledger.sampler_calls == len(calls)
    assert ledger.model_calls == sum(2 if s.full else 1 for s in ledger.steps for _ in range(s.sampler_calls))
    # Keeping cond, the negative branch runs on full calls only; core would run it on every call (cfg is not 1).
    assert ledger.negative_calls == sum(s.sampler_calls for s in ledger.steps if s.full)
    assert ledger.negative_calls_core == len(calls)


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
        plan = run.plan(sigma, CFG)
    except ValueError as exc:
        assert ("no steps" in str(exc) and len(schedule) < 2) or ("NaN" in str(exc) and sigma != sigma)
        return
    assert 0 <= plan.step < len(schedule) - 1


def test_a_zero_length_schedule_has_an_empty_ledger():
    ledger = TruncationRun(TruncationPolicy(cfg_truncate_steps=3), [1.0]).finish()
    assert ledger.steps == [] and ledger.summary() == "0 steps, 0 truncated, model calls 0 / 0 (0.0 % saved)"


X = torch.zeros(2, 4)
COND = torch.randn(2, 4, generator=torch.Generator().manual_seed(3))
UNCOND = torch.randn(2, 4, generator=torch.Generator().manual_seed(4))
EXTRA = torch.ones(2, 4)  # calc_cond_batch hands on anything past the two slots untouched


def sigma(value):
    return torch.full((2,), value)


def test_a_full_plan_runs_both_branches_at_the_scale_and_hands_the_sampler_what_ran():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=1), SCHEDULE)
    plan = run.plan(1.0, CFG)
    assert (plan.full, plan.branches, plan.scale, plan.keep) == (True, BOTH, CFG, None)
    slots = run.complete(plan, X, sigma(1.0), [COND, UNCOND, EXTRA], BOTH)
    assert slots[0] is COND and slots[1] is UNCOND and slots[2] is EXTRA


@pytest.mark.parametrize("keep, branch, slot", [("cond", POSITIVE, 0), ("uncond", NEGATIVE, 1)])
def test_a_kept_plan_runs_one_branch_at_scale_1_and_puts_it_in_both_slots(keep, branch, slot):
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=5, keep=keep), SCHEDULE)
    plan = run.plan(0.6, CFG)
    assert (plan.full, plan.branches, plan.scale, plan.keep.name) == (False, (branch,), 1.0, keep)
    outputs = [COND, UNCOND]
    outputs[1 - slot] = torch.zeros(2, 4)  # ComfyUI's placeholder for the branch that did not run
    slots = run.complete(plan, X, sigma(0.6), outputs + [EXTRA], (branch,))
    kept = (COND, UNCOND)[slot]
    assert torch.equal(slots[0], kept) and torch.equal(slots[1], kept) and slots[0] is not slots[1]
    assert slots[2] is EXTRA and run.ledger.steps[2].model_calls == 1


def test_a_reuse_plan_runs_the_positive_branch_at_the_scale_with_the_reused_difference_in_the_negative_slot():
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse"), SCHEDULE)
    run.complete(run.plan(1.0, CFG), X, sigma(1.0), [COND, UNCOND], BOTH)
    plan = run.plan(0.8, CFG)
    assert (plan.branches, plan.scale, plan.keep.name, plan.reused_from) == ((POSITIVE,), CFG, "reuse", 0)
    now = COND * 2
    slots = run.complete(plan, X, sigma(0.8), [now, torch.zeros(2, 4)], (POSITIVE,))
    assert slots[0] is now
    torch.testing.assert_close(slots[1], now - (COND - UNCOND) * 0.8, rtol=0, atol=1e-6)


def test_the_low_noise_expert_is_guided_at_cfg_low_noise_and_truncated_calls_at_1():
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse", cfg_low_noise=3.0), SCHEDULE, boundary=0.7)
    high = run.plan(1.0, CFG)
    run.complete(high, X, sigma(1.0), [COND, UNCOND], BOTH)
    assert (high.expert, high.scale) == ("high", CFG)
    assert run.plan(0.8, CFG).scale == CFG  # reuse on the high-noise expert
    after_switch = run.plan(0.6, CFG)  # step 2: full anyway, on the low-noise expert
    assert (after_switch.expert, after_switch.full, after_switch.scale) == ("low", True, 3.0)
    run.complete(after_switch, X, sigma(0.6), [COND, UNCOND], BOTH)
    assert run.plan(0.4, CFG).scale == 3.0  # a reuse call on the low-noise expert
    plain = TruncationRun(TruncationPolicy(cfg_truncate_steps=2, cfg_low_noise=3.0), SCHEDULE, boundary=0.7)
    assert [plain.plan(s, CFG).scale for s in (1.0, 0.6, 0.4, 0.2)] == [CFG, 3.0, 1.0, 1.0]
    assert TruncationRun(TruncationPolicy(cfg_low_noise=3.0), SCHEDULE).plan(0.2, CFG).scale == CFG  # one model


def test_a_full_step_with_a_branch_from_a_step_cache_counts_it_as_cached_and_teaches_no_guidance():
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse"), SCHEDULE)
    run.complete(run.plan(1.0, CFG), X, sigma(1.0), [COND, UNCOND], BOTH)
    run.complete(run.plan(0.8, CFG), X, sigma(0.8), [COND, COND], (POSITIVE,))
    served = run.plan(0.6, CFG)
    assert served.full
    run.complete(served, X, sigma(0.6), [COND, UNCOND * 5], (POSITIVE,), (NEGATIVE,))
    step = run.ledger.steps[2]
    assert (step.model_calls, step.model_calls_cached, step.kind) == (1, 1, "full")
    assert step.note == "negative cached by a step cache: guidance of step 0 kept"
    assert run.plan(0.4, CFG).reused_from == 0
    assert run.ledger.model_calls == 2 + 1 + 1 and run.ledger.model_calls_cached == 1


def test_a_call_a_step_cache_answered_whole_counts_no_model_call_and_shows_as_cached():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=2), SCHEDULE)
    run.complete(run.plan(1.0, CFG), X, sigma(1.0), [COND, UNCOND], BOTH)
    served = torch.randn(2, 4)
    assert run.guided(run.plan(0.8, CFG), X, sigma(0.8), served, call_cached=True) is served  # independent
    ledger = run.finish()
    step = ledger.steps[1]
    assert (step.sampler_calls, step.model_calls, step.model_calls_cached, step.kind) == (1, 0, 2, "cached")
    assert (ledger.model_calls, ledger.model_calls_core, ledger.steps_of_kind("cached")) == (2, 4, [1])
    assert ledger.summary() == ("5 steps, 0 truncated, model calls 2 / 4 (0.0 % saved), "
                                "2 model calls cached (1 whole steps)")


def output_x0(x, output, s):
    """The x0 prediction of a model output (noise or velocity) at sigma ``s``: x - s * output."""
    return x - output * s


def test_coordinating_full_calls_and_the_first_call_on_an_expert_must_reach_the_network():
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse"), SCHEDULE, boundary=0.7, coordinating=True)
    first = run.plan(1.0, CFG)
    assert run.must_reach_network(first)
    run.complete(first, X, sigma(1.0), [COND, UNCOND], BOTH)
    assert not run.must_reach_network(run.plan(0.8, CFG))  # reuse on the expert the network just ran
    run.complete(run.plan(0.8, CFG), X, sigma(0.8), [COND, COND], (POSITIVE,))
    assert run.must_reach_network(run.plan(0.6, CFG))  # full CFG (and the low-noise expert's first call)
    plain = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse"), SCHEDULE)
    assert not plain.must_reach_network(plain.plan(1.0, CFG))  # not coordinating: the cache decides alone


def test_coordinating_a_served_branch_gets_its_latest_outputs_extrapolated_in_model_output_space():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=3), SCHEDULE, coordinating=True)
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(5))
    v0, v1 = torch.randn(2, 4), torch.randn(2, 4)
    for s, v in ((1.0, v0), (0.8, v1)):  # two full calls the network ran
        run.complete(run.plan(s, CFG), x, sigma(s), [output_x0(x, v, s), output_x0(x, -v, s)], BOTH)
    plan = run.plan(0.6, CFG)  # truncated, keep cond; a cache answers the positive branch
    slots = run.complete(plan, x, sigma(0.6), [torch.zeros(2, 4), torch.zeros(2, 4)], (), (POSITIVE,))
    expected = v1 + (v1 - v0) / (0.8 - 1.0) * (0.6 - 0.8)  # one span ahead of the latest
    torch.testing.assert_close(slots[0], output_x0(x, expected, 0.6), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(slots[1], slots[0])
    far = run.complete(run.plan(0.2, CFG), x, sigma(0.2), [torch.zeros(2, 4)] * 2, (), (POSITIVE,))
    beyond = v1 + (v1 - v0) / (0.8 - 1.0) * (0.6 - 0.8)  # no further than one span: held after
    torch.testing.assert_close(far[0], output_x0(x, beyond, 0.2), rtol=1e-5, atol=1e-5)


def test_coordinating_a_call_a_cache_answered_whole_gets_the_guided_output_carried_not_the_caches():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=1), SCHEDULE, coordinating=True)
    x = torch.randn(2, 4, generator=torch.Generator().manual_seed(6))
    guided = torch.randn(2, 4)
    plan = run.plan(1.0, CFG)
    run.complete(plan, x, sigma(1.0), [COND, UNCOND], BOTH)
    assert run.guided(plan, x, sigma(1.0), output_x0(x, guided, 1.0), call_cached=False) is not None
    cache_answer = torch.full((2, 4), 7.0)  # what core LazyCache hands back: x + (x0 - x) of then
    got = run.guided(run.plan(0.8, CFG), x, sigma(0.8), cache_answer, call_cached=True)
    torch.testing.assert_close(got, output_x0(x, guided, 0.8), rtol=1e-5, atol=1e-5)
    assert run.ledger.steps[1].model_calls_cached == 2


def test_coordinating_never_carries_an_output_across_a_wan_expert_switch():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=4), SCHEDULE, boundary=0.7, coordinating=True)
    run.complete(run.plan(1.0, CFG), X, sigma(1.0), [COND, UNCOND], BOTH)  # high-noise expert
    low = run.plan(0.6, CFG)
    answer = torch.full((2, 4), 3.0)
    slots = run.complete(low, X, sigma(0.6), [answer, answer], (), (POSITIVE,))
    assert slots[0] is answer  # nothing of this expert to carry: the cache's own answer stands


def test_at_scale_1_core_runs_one_branch_so_the_ledger_counts_one_and_claims_no_saving():
    run = TruncationRun(TruncationPolicy(), SCHEDULE)
    for s in SCHEDULE[:-1]:
        plan = run.plan(s, 1.0)
        assert (plan.full, plan.branches, plan.core_calls, plan.kind) == (True, (POSITIVE,), 1, "cfg1")
        run.complete(plan, X, sigma(s), [COND, torch.zeros(2, 4)], plan.branches)
    ledger = run.finish()
    assert (ledger.model_calls, ledger.model_calls_core, ledger.model_calls_saved) == (5, 5, 0)
    assert ledger.nothing_to_skip and ledger.summary() == (
        "5 steps, 0 truncated, model calls 5 / 5 (0.0 % saved; at cfg 1 ComfyUI runs no negative branch, so there "
        "is none to skip)")


def test_with_cfg1_optimisation_off_core_runs_both_branches_at_scale_1():
    plan = TruncationRun(TruncationPolicy(), SCHEDULE).plan(1.0, 1.0, skips_negative_at_1=False)
    assert (plan.branches, plan.core_calls, plan.kind) == (BOTH, 2, "full")


def test_a_low_noise_scale_of_1_counts_one_core_call_there_and_truncation_saves_only_above_it():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=1, cfg_low_noise=1.0), SCHEDULE, boundary=0.7)
    plans = [run.plan(s, 4.0) for s in SCHEDULE[:-1]]
    assert [p.core_calls for p in plans] == [2, 2, 1, 1, 1]
    assert [p.kind for p in plans] == ["full", "full", "cfg1", "cfg1", "cond"]
    for s, plan in zip(SCHEDULE[:-1], plans, strict=True):
        run.complete(plan, X, sigma(s), [COND, UNCOND], plan.branches)
    ledger = run.finish()
    assert (ledger.model_calls, ledger.model_calls_core, ledger.model_calls_saved) == (7, 7, 0)


def test_a_scale_another_node_set_replans_the_call_at_that_scale():
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep="reuse"), SCHEDULE)
    full = run.plan(1.0, 4.0)
    assert run.at_cfg(full, 1.0).kind == "cfg1" and run.at_cfg(full, 1.0).branches == (POSITIVE,)
    assert run.at_cfg(full, 7.0).scale == 7.0 and run.at_cfg(full, 7.0).core_calls == 2
    run.complete(full, X, sigma(1.0), [COND, UNCOND], BOTH)
    reuse = run.plan(0.8, 4.0)
    assert (run.at_cfg(reuse, 6.0).scale, run.at_cfg(reuse, 6.0).kind) == (6.0, "reuse")
    assert run.at_cfg(reuse, 1.0).core_calls == 1
    kept = TruncationRun(TruncationPolicy(cfg_truncate_steps=5), SCHEDULE).plan(1.0, 4.0)
    assert run.at_cfg(kept, 6.0).scale == 1.0 and run.at_cfg(kept, 6.0).core_calls == 2


def test_forwards_other_nodes_add_count_as_model_calls_core_runs_too():
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=2), SCHEDULE)
    plan = run.plan(1.0, 4.0)
    run.complete(plan, X, sigma(1.0), [COND, UNCOND], BOTH)
    run.extra_model_calls(plan, 1)
    step = run.finish().steps[0]
    assert (step.model_calls, step.model_calls_core) == (3, 3)


def test_the_first_step_whose_output_was_not_finite_is_marked():
    run = TruncationRun(TruncationPolicy(), SCHEDULE)
    for s, value in zip(SCHEDULE[:3], (1.0, float("nan"), 2.0), strict=True):
        plan = run.plan(s, 4.0)
        run.guided(plan, X, sigma(s), torch.full((2, 4), value), call_cached=False)
    ledger = run.finish()
    assert ledger.not_finite_from == 1 and ledger.summary().endswith("output not finite from step 2")
    clean = TruncationRun(TruncationPolicy(), SCHEDULE)
    clean.guided(clean.plan(1.0, 4.0), X, sigma(1.0), torch.ones(2, 4), call_cached=False)
    assert clean.finish().not_finite_from is None


def test_a_cfg_schedule_guides_each_step_at_its_scale_and_its_steps_at_1_cost_one_call():
    run = TruncationRun(TruncationPolicy(cfg_schedule="5, 3.5, 1"), SCHEDULE)
    c = torch.randn(1, 8, generator=torch.Generator().manual_seed(5))
    plans = [full_call(run, sigma, c, c * 0.5) for sigma in SCHEDULE[:-1]]
    assert [(p.full, p.scale, p.branches) for p in plans] == [
        (True, 5.0, BOTH), (True, 3.5, BOTH), (False, 1.0, (POSITIVE,)), (False, 1.0, (POSITIVE,)),
        (False, 1.0, (POSITIVE,))]
    ledger = run.finish()
    assert ledger.truncated_steps == [2, 3, 4] and ledger.steps[2].reasons == ("cfg_schedule",)
    assert (ledger.model_calls, ledger.model_calls_core) == (7, 10)  # against core at the sampler's cfg 4
    assert ledger.notes == ["cfg_schedule has 3 scales for the 5 steps of this schedule: the last holds to the end"]


def test_a_cfg_schedule_sets_the_scale_a_reuse_step_reuses_at_and_core_overrides_still_win():
    run = TruncationRun(TruncationPolicy(cfg_schedule="4, 6, 6, 1, 6", cfg_every=2, keep="reuse"), SCHEDULE)
    c = torch.randn(1, 8, generator=torch.Generator().manual_seed(6))
    plans = [full_call(run, sigma, c, c * 0.5) for sigma in SCHEDULE[:-1]]
    assert [(p.full, p.scale, p.kind) for p in plans] == [
        (True, 4.0, "full"), (False, 6.0, "reuse"), (True, 6.0, "full"), (False, 1.0, "reuse"), (True, 6.0, "full")]
    assert plans[3].reasons == ("cfg_every", "cfg_schedule")
    assert TruncationRun.at_cfg(plans[2], 2.5).scale == 2.5  # core's CFGOverride sets the guider's cfg after us
    longer = TruncationRun(TruncationPolicy(cfg_schedule="4, 4, 4, 4, 4, 4, 4"), SCHEDULE)
    assert longer.ledger.notes == ["cfg_schedule has 7 scales for the 5 steps of this schedule: the last 2 are not "
                                   "used"]


def test_at_sampler_cfg_1_a_scheduled_full_step_counts_both_calls_core_would_run_at_its_scale():
    run = TruncationRun(TruncationPolicy(cfg_schedule="4, 1"), SCHEDULE)
    first, second = run.plan(1.0, 1.0), run.plan(0.8, 1.0)
    assert (first.full, first.branches, first.core_calls) == (True, BOTH, 2)
    assert (second.full, second.branches, second.core_calls) == (False, (POSITIVE,), 1)
