"""Truncated CFG Guider and model patch on ComfyUI's real samplers, on a small Wan checkpoint."""
import logging
import re

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import nodes  # noqa: E402
from comfy_extras.nodes_cfg import CFGNorm, CFGZeroStar  # noqa: E402
from comfy_extras.nodes_custom_sampler import SamplerCustom  # noqa: E402
from comfy_extras.nodes_perpneg import Guider_PerpNeg  # noqa: E402
from bad_policy_inputs import BAD_POLICY_INPUTS  # noqa: E402
from sampling_support import (ALL_OFF, CFG, SEED, STEPS, CfgSpy, ReferenceGuider, count_rows, ksampler,  # noqa: E402
                              latent, patched_model, sample_custom_advanced, schedule, truncated_guider)
from devtools.core_nodes import cfg_guider as core_guider  # noqa: E402

from truncated_cfg.nodes.guider import TruncatedCFGGuider  # noqa: E402
from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch  # noqa: E402
from sampling_support import controller_of  # noqa: E402

SAMPLERS = ["euler", "heun", "dpmpp_2m", "dpmpp_2s_ancestral", "res_multistep", "uni_pc", "euler_cfg_pp"]
PLAIN_SAMPLERS = [s for s in SAMPLERS if not s.endswith("_cfg_pp")]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_guider_with_every_rule_off_equals_cfgguider_bit_for_bit(wan_model, wan_conds, sampler_name, batch):
    sigmas = schedule(wan_model)
    expected = sample_custom_advanced(core_guider(wan_model, *wan_conds, CFG), sampler_name, batch, sigmas)
    guider = truncated_guider(wan_model, wan_conds)
    with count_rows(wan_model) as rows:
        got = sample_custom_advanced(guider, sampler_name, batch, sigmas)
    assert torch.equal(got, expected)
    ledger = guider.controller.last_ledger
    assert ledger.truncated_steps == []
    assert sum(rows) == ledger.model_calls * batch == ledger.model_calls_core * batch


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_patch_with_every_rule_off_leaves_ksampler_bit_identical(wan_model, wan_conds, sampler_name, batch):
    expected = ksampler(wan_model, wan_conds, batch, sampler_name)
    assert torch.equal(ksampler(patched_model(wan_model), wan_conds, batch, sampler_name), expected)


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("sampler_name", PLAIN_SAMPLERS)
def test_truncated_steps_equal_core_cfg1_steps_bit_for_bit(wan_model, wan_conds, sampler_name, batch):
    sigmas = schedule(wan_model)
    reference = ReferenceGuider(wan_model, *wan_conds, CFG, sigmas, truncated_steps=[5, 6, 7])
    expected = sample_custom_advanced(reference, sampler_name, batch, sigmas)
    guider = truncated_guider(wan_model, wan_conds, cfg_truncate_steps=3)
    with count_rows(wan_model) as rows:
        got = sample_custom_advanced(guider, sampler_name, batch, sigmas)
    assert torch.equal(got, expected)
    ledger = guider.controller.last_ledger
    assert ledger.truncated_steps == [5, 6, 7]
    assert sum(rows) == ledger.model_calls * batch < ledger.model_calls_core * batch
    assert all(s.model_calls == s.sampler_calls for s in ledger.steps if s.index >= 5)


@pytest.mark.parametrize("sampler_name", ["euler", "heun"])
def test_every_step_truncated_is_comfyui_at_cfg_1(wan_model, wan_conds, sampler_name):
    sigmas = schedule(wan_model)
    expected = sample_custom_advanced(core_guider(wan_model, *wan_conds, 1.0), sampler_name, 2, sigmas)
    got = sample_custom_advanced(truncated_guider(wan_model, wan_conds, cfg_trunc_ratio=0.0), sampler_name, 2, sigmas)
    assert torch.equal(got, expected)


def test_keep_uncond_returns_the_negative_prediction_alone(wan_model, wan_conds):
    sigmas = schedule(wan_model)
    negative = wan_conds[1]
    expected = sample_custom_advanced(core_guider(wan_model, negative, negative, 1.0), "euler", 2, sigmas)
    guider = truncated_guider(wan_model, wan_conds, cfg_trunc_ratio=0.0, keep="uncond")
    with count_rows(wan_model) as rows:
        got = sample_custom_advanced(guider, "euler", 2, sigmas)
    assert torch.equal(got, expected)
    assert sum(rows) == STEPS * 2
    assert {s.kept for s in guider.controller.last_ledger.steps} == {"uncond"}


def test_hooks_get_the_kept_prediction_in_both_slots_never_zeros(wan_model, wan_conds):
    spy = CfgSpy()
    guider = truncated_guider(spy.attach(wan_model), wan_conds, cfg_trunc_ratio=0.5)
    sample_custom_advanced(guider, "euler", 2, schedule(wan_model))
    assert guider.controller.last_ledger.truncated_steps == [4, 5, 6, 7]
    assert len(spy.pre) == len(spy.post) == STEPS
    for step, ((_, cond, uncond), post) in enumerate(zip(spy.pre, spy.post, strict=True)):
        if step < 4:
            assert not torch.equal(cond, uncond) and post["cond_scale"] == CFG
        else:
            assert torch.equal(cond, uncond) and cond.abs().sum() > 0
            assert torch.equal(post["cond_denoised"], post["uncond_denoised"]) and post["cond_scale"] == 1.0
            assert torch.equal(post["denoised"], post["cond_denoised"])


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("sampler_name", ["euler_cfg_pp", "dpmpp_2m_cfg_pp"])
def test_cfg_pp_samplers_skip_the_branch_and_read_the_kept_prediction(wan_model, wan_conds, sampler_name, batch):
    sigmas = schedule(wan_model)
    spy = CfgSpy()
    guider = truncated_guider(spy.attach(wan_model), wan_conds, cfg_truncate_steps=4)
    with count_rows(wan_model) as rows:
        got = sample_custom_advanced(guider, sampler_name, batch, sigmas)
    ledger = guider.controller.last_ledger
    assert ledger.truncated_steps == [4, 5, 6, 7] and sum(rows) == ledger.model_calls * batch == 12 * batch
    assert torch.isfinite(got).all()
    for post in spy.post[4:]:
        assert torch.equal(post["uncond_denoised"], post["cond_denoised"])
    # Same maths as a CFG++ run that evaluates the positive prompt in both slots on those steps
    # (batched there, one branch here: equal up to matmul blocking).
    reference = ReferenceGuider(wan_model, *wan_conds, CFG, sigmas, [4, 5, 6, 7], positive_in_both_slots=True)
    expected = sample_custom_advanced(reference, sampler_name, batch, sigmas)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)


def test_patch_works_in_ksampler_ksampler_advanced_and_sampler_custom(wan_model, wan_conds):
    model = patched_model(wan_model, cfg_truncate_steps=2)
    controller = controller_of(model)
    ksampler(model, wan_conds, 1)
    assert controller.last_ledger.truncated_steps == [6, 7]
    nodes.KSamplerAdvanced().sample(model, "enable", SEED, STEPS, CFG, "euler", "simple", wan_conds[0], wan_conds[1],
                                    latent(1), 0, 5, "enable")
    # Step rules count within the sigmas that sampler node runs: 5 steps here, the last 2 truncated.
    assert controller.last_ledger.truncated_steps == [3, 4] and len(controller.last_ledger.steps) == 5
    with count_rows(wan_model) as rows:
        SamplerCustom().sample(model, True, SEED, CFG, wan_conds[0], wan_conds[1],
                               comfy.samplers.sampler_object("dpmpp_2m"), schedule(wan_model), latent(2))
    assert controller.last_ledger.truncated_steps == [6, 7] and sum(rows) == 2 * controller.last_ledger.model_calls


def test_each_run_gets_its_own_ledger(wan_model, wan_conds):
    model = patched_model(wan_model, adaptive_threshold=0.2)
    controller = controller_of(model)
    ksampler(model, wan_conds, 1, steps=6)
    ksampler(model, wan_conds, 1, steps=4)
    first, second = list(controller.history)[-2:]
    assert len(first.steps) == 6 and len(second.steps) == 4
    assert first is not second and first.adaptive_latched_at == 0 and second.adaptive_latched_at == 0
    assert second.sampler_calls == 4


def test_composes_with_core_post_cfg_nodes_without_a_zero_branch(wan_model, wan_conds):
    spy = CfgSpy()
    model = patched_model(spy.attach(wan_model), cfg_trunc_ratio=0.5)
    model = CFGZeroStar.execute(model).result[0]
    model = CFGNorm.execute(model, 1.0).result[0]
    out = ksampler(model, wan_conds, 2)
    assert torch.isfinite(out).all()
    assert controller_of(model).last_ledger.truncated_steps == [4, 5, 6, 7]
    for post in spy.post[4:]:
        assert torch.equal(post["uncond_denoised"], post["cond_denoised"]) and post["uncond_denoised"].abs().sum() > 0


def test_guider_on_a_patched_model_replaces_the_patch_policy(wan_model, wan_conds, caplog):
    model = patched_model(wan_model, cfg_truncate_steps=5)
    with caplog.at_level(logging.WARNING):
        guider = truncated_guider(model, wan_conds, cfg_truncate_steps=1)
    assert "replaces it" in caplog.text
    sample_custom_advanced(guider, "euler", 1, schedule(wan_model))
    assert guider.controller.last_ledger.truncated_steps == [7]
    assert controller_of(model).last_ledger is None  # the patch's own policy never ran


def test_guiders_with_their_own_guidance_pass_through_untouched(wan_model, wan_conds, caplog):
    empty = [[torch.zeros_like(wan_conds[1][0][0]), {}]]

    def perp_neg(model):
        guider = Guider_PerpNeg(model)
        guider.set_conds(wan_conds[0], wan_conds[1], empty)
        guider.set_cfg(CFG, 1.0)
        return guider

    sigmas = schedule(wan_model)
    expected = sample_custom_advanced(perp_neg(wan_model), "euler", 1, sigmas)
    with caplog.at_level(logging.WARNING):
        got = sample_custom_advanced(perp_neg(patched_model(wan_model, cfg_truncate_steps=4)), "euler", 1, sigmas)
    assert torch.equal(got, expected)
    assert "Guider_PerpNeg computes guidance its own way" in caplog.text


def test_more_truncated_steps_than_the_schedule_is_said_once(wan_model, wan_conds, caplog):
    guider = truncated_guider(wan_model, wan_conds, cfg_truncate_steps=50)
    with caplog.at_level(logging.INFO):
        sample_custom_advanced(guider, "heun", 1, schedule(wan_model))
    notes = [r for r in caplog.records if "every step is truncated" in r.getMessage()]
    assert len(notes) == 1 and "50 is more than the 8 steps" in notes[0].getMessage()
    summary = [r.getMessage() for r in caplog.records if "model calls" in r.getMessage()]
    assert len(summary) == 1
    assert re.fullmatch(r"\[Truncated CFG\] 8 steps, 8 truncated, model calls 15 / 30 \(50\.0 % saved\); "
                        r"sampling \d+\.\d\d s", summary[0])


@pytest.mark.parametrize("bad, message", BAD_POLICY_INPUTS)
def test_bad_input_fails_at_the_node_with_the_input_named(wan_model, wan_conds, bad, message):
    settings = {**ALL_OFF, **bad}
    with pytest.raises(ValueError, match=message):
        TruncatedCFGGuider.execute(wan_model, wan_conds[0], wan_conds[1], CFG, **settings)
    with pytest.raises(ValueError, match=message):
        TruncatedCFGModelPatch.execute(wan_model, **settings)
