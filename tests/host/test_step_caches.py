"""The pack with ComfyUI's own step caches on the same model (core EasyCache and LazyCache).

Each run counts batch rows at the network's first layer, which runs only when the network computes
(its forward is entered even for a call EasyCache answers), and compares them with the ledger.
"""
import logging

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.patcher_extension  # noqa: E402
from sampling_support import (CFG, count_rows, ksampler, patched_model, sample_custom_advanced, schedule,  # noqa: E402
                              truncated_guider)
from devtools.core_nodes import cfg_guider as core_guider  # noqa: E402

from quality.settings import StepCacheSetting  # noqa: E402
from quality.sweep import with_step_cache  # noqa: E402
from truncated_cfg.nodes.step_caches import easycache, step_cache_of  # noqa: E402
from sampling_support import controller_of  # noqa: E402

CACHES = ("EasyCache", "LazyCache")
# Thresholds high enough that the tiny random model's caches skip within 8 steps, from the first step on.
SKIPPING = dict(reuse_threshold=3.0, start_percent=0.0, end_percent=1.0)
STEPS = 8
EVERY_2 = dict(cfg_every=2, keep="reuse_extrapolated")
EVERY_8 = dict(cfg_every=8, keep="reuse_extrapolated")  # the README's recommendation (step 0 full of 8)
# ComfyUI 0.3.64's EasyCache fails by itself at batch > 1 (it adds every branch's cache to the whole batch).
BATCH = {"EasyCache": 1, "LazyCache": 2}


def with_cache(model, name):
    return with_step_cache(model, StepCacheSetting(name, **SKIPPING))


def cached_patched(model, name, placement, **policy):
    """The cache node before the pack's model patch node (as it sits on the loader's output) or after it."""
    if placement == "cache first":
        return patched_model(with_cache(model, name), **policy)
    return with_cache(patched_model(model, **policy), name)


@pytest.mark.parametrize("policy", [EVERY_2, EVERY_8], ids=["every 2", "every 8"])
@pytest.mark.parametrize("mode", ["independent", "coordinate"])
@pytest.mark.parametrize("sampler_name", ["euler", "uni_pc", "dpmpp_2m"])
@pytest.mark.parametrize("placement", ["cache first", "patch first"])
@pytest.mark.parametrize("name", sorted(CACHES))
def test_the_ledger_counts_what_the_network_ran_with_either_cache_before_or_after_the_patch(
        wan_model, wan_conds, name, placement, sampler_name, mode, policy):
    model = cached_patched(wan_model, name, placement, step_cache=mode, **policy)
    batch = BATCH[name]
    with count_rows(wan_model) as rows:
        out = ksampler(model, wan_conds, batch, sampler_name, steps=STEPS)
    ledger = controller_of(model).last_ledger
    assert torch.isfinite(out).all()
    assert sum(rows) == ledger.model_calls * batch
    if name == "EasyCache" and mode == "independent" and policy is EVERY_8:
        # Left alone, EasyCache watches the first branch of its first call: step 0's negative one, which no
        # later step runs, so it never skips.
        assert ledger.model_calls_cached == 0
    else:
        assert ledger.model_calls_cached > 0, "the cache answered nothing: the test would prove nothing"
    assert ledger.model_calls + ledger.model_calls_cached == sum(2 if s.full else 1 for s in ledger.steps
                                                                 for _ in range(s.sampler_calls))
    if mode == "coordinate":
        assert all(s.model_calls == 2 * s.sampler_calls for s in ledger.steps if s.full), "a full step was cached"


@pytest.mark.parametrize("name", sorted(CACHES))
def test_the_guider_counts_what_the_network_ran(wan_model, wan_conds, name):
    guider = truncated_guider(with_cache(wan_model, name), wan_conds, step_cache="independent", **EVERY_2)
    with count_rows(wan_model) as rows:
        sample_custom_advanced(guider, "euler", BATCH[name], schedule(wan_model, STEPS))
    ledger = guider.controller.last_ledger
    assert sum(rows) == ledger.model_calls * BATCH[name] and ledger.model_calls_cached > 0


@pytest.mark.parametrize("name", sorted(CACHES))
def test_independent_never_learns_guidance_from_a_branch_the_cache_cached(wan_model, wan_conds, name):
    model = cached_patched(wan_model, name, "cache first", step_cache="independent", **EVERY_2)
    ksampler(model, wan_conds, BATCH[name], "euler", steps=STEPS)
    ledger = controller_of(model).last_ledger
    cached_full = [s.index for s in ledger.steps if s.full and s.model_calls_cached]
    assert cached_full, "no full step was cached: the test would prove nothing"
    learnt = [s.index for s in ledger.steps if s.full and s.model_calls == 2]
    for step in ledger.steps:
        if step.reused_from is not None:
            assert step.reused_from in learnt, (step.index, step.reused_from, cached_full)
    for index in cached_full:
        note = ledger.steps[index].note
        assert note is None or "cached by a step cache: guidance of step" in note
    assert any(ledger.steps[i].note for i in cached_full if any(f < i for f in learnt))


@pytest.mark.parametrize("name", sorted(CACHES))
def test_coordinating_every_full_step_runs_at_the_network_and_the_cache_serves_between(wan_model, wan_conds, name):
    model = cached_patched(wan_model, name, "cache first", **EVERY_2)
    with count_rows(wan_model) as rows:
        ksampler(model, wan_conds, BATCH[name], "euler", steps=STEPS)
    ledger = controller_of(model).last_ledger
    assert [s.index for s in ledger.steps if s.full] == [0, 2, 4, 6]
    assert all(ledger.steps[i].model_calls == 2 for i in (0, 2, 4, 6))
    assert ledger.model_calls_cached > 0 and sum(rows) == ledger.model_calls * BATCH[name]
    assert all(s.reused_from in (0, 2, 4, 6) for s in ledger.steps if s.reused_from is not None)


@pytest.mark.parametrize("name", sorted(CACHES))
def test_without_truncation_independent_is_core_cfg_guider_with_the_cache_bit_for_bit(wan_model, wan_conds, name):
    sigmas = schedule(wan_model, STEPS)
    cached = with_cache(wan_model, name)
    expected = sample_custom_advanced(core_guider(cached, *wan_conds, CFG), "euler", 1, sigmas)
    guider = truncated_guider(cached, wan_conds, step_cache="independent")
    assert torch.equal(sample_custom_advanced(guider, "euler", 1, sigmas), expected)
    assert guider.controller.last_ledger.model_calls_cached > 0


@pytest.mark.parametrize("start", [0.0, 0.5])
@pytest.mark.parametrize("name", sorted(CACHES))
def test_coordinating_forces_only_the_calls_it_learns_from_and_no_mark_outlives_its_call(wan_model, wan_conds, name,
                                                                                        start):
    """keep cond and no adaptive rule: the cache decides every call but the run's first (nothing held yet); with
    reuse, the full calls are forced too. A call sees the cache's estimate past its threshold only where it is
    forced and inside the cache's window, never because an earlier call's mark was left behind."""
    entries = []

    def spy(executor, *args, **kwargs):
        holder = step_cache_of(executor.class_obj.model_options["transformer_options"]).holder
        entries.append((float(args[1].flatten()[0]), holder.cumulative_change_rate == float("inf"), holder.start_t))
        return executor(*args, **kwargs)

    spied = wan_model.clone()  # the spy before the cache node, so that it sees what LazyCache will decide on
    spied.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.PREDICT_NOISE, "spy", spy)
    cached = with_step_cache(spied, StepCacheSetting(name, 3.0, start, 1.0))
    for policy in (dict(cfg_truncate_steps=3), EVERY_2):
        entries.clear()
        guider = truncated_guider(cached, wan_conds, **policy)
        sample_custom_advanced(guider, "euler", 1, schedule(wan_model, STEPS))
        ledger = guider.controller.last_ledger
        forced = {0} | ({s.index for s in ledger.steps if s.full} if "keep" in policy else set())
        marked = {i for i, (sigma, inf, start_t) in enumerate(entries) if inf}
        in_window = {i for i, (sigma, inf, start_t) in enumerate(entries) if sigma <= start_t}
        assert marked == forced & in_window, (policy, marked, forced, in_window)
        if "keep" not in policy and start == 0.0:
            assert any(s.full and s.model_calls_cached for s in ledger.steps), "no full step cached"


def sigma_window_at_step(model, step):
    """sigma_high at a step's sigma: the steps before it keep cond, full CFG from it on."""
    return float(schedule(model, STEPS)[step])


def test_easycache_that_cannot_serve_an_unseen_branch_is_refused_at_the_start_or_coordinated(wan_model, wan_conds):
    """ComfyUI 0.3.64's EasyCache raises KeyError(UUID) when it skips a full step whose negative never ran:
    the first steps here keep cond (sigma_high), so they never run it. Independent, the pack refuses at
    the start of sampling, naming the cache, the setting and what to do; coordinating, it runs."""
    policy = dict(cfg_truncate_steps=0, sigma_high=sigma_window_at_step(wan_model, 3))
    cached = with_cache(wan_model, "EasyCache")
    holder = step_cache_of(cached.model_options["transformer_options"]).holder
    independent = truncated_guider(cached, wan_conds, step_cache="independent", **policy)
    if not easycache.ADAPTER.answers_unseen_branches(holder):  # ComfyUI 0.10.0 on: it computes such a call itself
        sample_custom_advanced(independent, "euler", 1, schedule(wan_model, STEPS))
    else:
        with pytest.raises(ValueError, match="EasyCache on this ComfyUI cannot skip a full-CFG step whose negative "
                                             r"branch never ran.*sigma_high.*set step_cache to coordinate"):
            sample_custom_advanced(independent, "euler", 1, schedule(wan_model, STEPS))
    coordinated = truncated_guider(cached, wan_conds, **policy)
    out = sample_custom_advanced(coordinated, "euler", 1, schedule(wan_model, STEPS))
    ledger = coordinated.controller.last_ledger
    assert torch.isfinite(out).all() and ledger.steps[3].full and ledger.steps[3].model_calls == 2


def test_a_step_cache_on_the_two_expert_model_sees_each_call_once_and_the_ledger_counts_both_networks(
        wan_experts, wan_conds):
    from truncated_cfg.nodes.models.wan_a14b import WanA14BExperts

    combined = WanA14BExperts.execute(wan_experts[0], wan_experts[1], "t2v", 0.7).result[0]
    model = patched_model(with_cache(combined, "EasyCache"), step_cache="independent", **EVERY_2)
    networks = [expert.model.diffusion_model for expert in wan_experts]
    with count_rows(wan_experts[0], networks) as rows:
        ksampler(model, wan_conds, 1, "euler", steps=STEPS)
    ledger = controller_of(model).last_ledger
    assert sum(rows) == ledger.model_calls and ledger.model_calls_cached > 0
    assert {s.expert for s in ledger.steps} == {"high", "low"}


@pytest.mark.parametrize("pack, keys", [("TeaCache", ("rel_l1_thresh", "coefficients")),
                                        ("MagCache", ("magcache_thresh", "mag_ratios"))])
def test_a_forward_cache_is_warned_about_once_per_run_where_its_rules_meet_it(wan_model, wan_conds, caplog, pack, keys):
    """TeaCache and MagCache cannot be installed here: their settings in transformer_options are what the pack
    recognises them by (read from their source), so the test puts those there. Both can answer a full step's
    negative branch from steps back, which matters with rules that run full CFG again after truncated steps;
    MagCache's parity-keyed variants are thrown off by any one-branch step."""
    marked = wan_model.clone()
    for key in keys:
        marked.model_options["transformer_options"][key] = 0.1
    runs = {}
    for label, policy in (("every 2", EVERY_2), ("last 2", dict(cfg_truncate_steps=2)), ("off", {})):
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            ksampler(patched_model(marked, **policy), wan_conds, 1, steps=4)
        runs[label] = [r.getMessage() for r in caplog.records if pack in r.getMessage()]
    assert len([w for w in runs["every 2"] if "several steps back" in w and "cfg_every" in w]) == 1
    assert not [w for w in runs["last 2"] if "several steps back" in w]
    parity = {label: [w for w in found if "parity" in w] for label, found in runs.items()}
    assert parity == ({"every 2": parity["every 2"], "last 2": parity["last 2"], "off": []} if pack == "MagCache"
                      else {"every 2": [], "last 2": [], "off": []})
    if pack == "MagCache":
        assert len(parity["every 2"]) == len(parity["last 2"]) == 1
    assert runs["off"] == []


@pytest.mark.parametrize("placement", ["cache first", "patch first"])
def test_the_pack_runs_outermost_at_predict_noise_and_innermost_at_the_network_whichever_node_came_first(
        wan_model, wan_conds, placement):
    model = cached_patched(wan_model, "EasyCache", placement, **EVERY_2)
    seen = {}

    def names(kind, options):
        return [getattr(w, "__name__", "") for w in comfy.patcher_extension.get_all_wrappers(kind, options)]

    def spy(executor, *args, **kwargs):
        options = executor.class_obj.model_options["transformer_options"]
        seen["predict_noise"] = names(comfy.patcher_extension.WrappersMP.PREDICT_NOISE, options)
        seen["diffusion_model"] = names(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, options)
        return executor(*args, **kwargs)

    model.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.PREDICT_NOISE, "spy", spy)
    ksampler(model, wan_conds, 1, steps=2)
    assert seen["predict_noise"][0] == "_predict_noise"
    assert seen["diffusion_model"] == ["easycache_forward_wrapper", "_at_network"]
