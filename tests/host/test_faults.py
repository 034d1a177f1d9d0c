"""Faults and awkward inputs: interrupts, model errors, partial schedules, masks, many conditionings."""
import pytest
import torch
from hostenv import require_host

require_host()

import comfy.model_management  # noqa: E402
import comfy.samplers  # noqa: E402
import nodes  # noqa: E402
from comfy_extras.nodes_apg import APG  # noqa: E402
from comfy_extras.nodes_model_advanced import RescaleCFG  # noqa: E402
from comfy_extras.nodes_slg import SkipLayerGuidanceDiT  # noqa: E402
from sampling_support import (CFG, SEED, STEPS, CfgSpy, ksampler, latent, patched_model,  # noqa: E402
                              sample_custom_advanced, schedule, truncated_guider)
from devtools.core_nodes import cfg_guider as core_guider  # noqa: E402

from sampling_support import controller_of  # noqa: E402


class Boom(RuntimeError):
    pass


def fail_at_call(model, n, error):
    """A forward hook that raises ``error`` at the n-th diffusion-model call."""
    calls = [0]

    def hook(module, args):
        calls[0] += 1
        if calls[0] == n:
            raise error
    return model.model.diffusion_model.register_forward_pre_hook(hook)


@pytest.mark.parametrize("error", [comfy.model_management.InterruptProcessingException(), Boom("model broke")])
def test_a_run_that_dies_leaves_nothing_behind(wan_model, wan_conds, error):
    sigmas = schedule(wan_model)
    guider = truncated_guider(wan_model, wan_conds, cfg_truncate_steps=4)
    handle = fail_at_call(wan_model, 6, error)  # inside a truncated step, where the guider runs at cfg 1
    try:
        with pytest.raises(type(error)) as raised:
            sample_custom_advanced(guider, "euler", 1, sigmas)
    finally:
        handle.remove()
    assert raised.value is error, "the model's exception must propagate unchanged"
    assert guider.cfg == CFG and guider.controller.last_ledger is None
    assert "truncated_cfg_run" not in guider.model_options.get("transformer_options", {})
    # The next run on the same guider is exactly a fresh guider's run, with a fresh ledger.
    again = sample_custom_advanced(guider, "euler", 1, sigmas)
    fresh = truncated_guider(wan_model, wan_conds, cfg_truncate_steps=4)
    assert torch.equal(again, sample_custom_advanced(fresh, "euler", 1, sigmas))
    assert guider.controller.last_ledger.sampler_calls == STEPS and len(guider.controller.history) == 1


def test_denoise_below_one_counts_steps_within_the_partial_schedule(wan_model, wan_conds):
    model = patched_model(wan_model, cfg_truncate_steps=2, sigma_low=0.0)
    ksampler(model, wan_conds, steps=8, denoise=0.5)
    ledger = controller_of(model).last_ledger
    assert len(ledger.steps) == 8 and ledger.truncated_steps == [6, 7]
    assert ledger.steps[0].sigma < 1.0  # the schedule starts part-way down


def test_sigma_window_gives_the_same_decisions_however_the_schedule_is_split(wan_model, wan_conds):
    model = patched_model(wan_model, sigma_low=0.6)
    ksampler(model, wan_conds, steps=10)
    whole = {round(s.sigma, 6): s.full for s in controller_of(model).last_ledger.steps}
    first = nodes.KSamplerAdvanced().sample(model, "enable", SEED, 10, CFG, "euler", "simple", wan_conds[0],
                                            wan_conds[1], latent(1), 0, 5, "enable")[0]
    halves = {round(s.sigma, 6): s.full for s in controller_of(model).last_ledger.steps}
    nodes.KSamplerAdvanced().sample(model, "disable", SEED, 10, CFG, "euler", "simple", wan_conds[0], wan_conds[1],
                                    first, 5, 10, "disable")
    halves.update({round(s.sigma, 6): s.full for s in controller_of(model).last_ledger.steps})
    assert halves == whole and set(whole.values()) == {True, False}


def test_latent_noise_mask_inpainting(wan_model, wan_conds):
    mask = torch.zeros(1, 8, 8)
    mask[:, :, 4:] = 1.0
    lat = nodes.SetLatentNoiseMask().set_mask(latent(1), mask)[0]
    model = patched_model(wan_model, cfg_truncate_steps=3)
    out = ksampler(model, wan_conds, lat=lat)
    assert torch.isfinite(out).all() and controller_of(model).last_ledger.truncated_steps == [5, 6, 7]


def test_several_conditionings_with_areas_strengths_ranges_and_an_empty_negative(wan_model, wan_conds):
    area = nodes.ConditioningSetArea().append(wan_conds[0], 32, 32, 0, 0, 0.8)[0]
    late = nodes.ConditioningSetTimestepRange().set_range(wan_conds[1], 0.5, 1.0)[0]
    positive = nodes.ConditioningCombine().combine(area, late)[0]
    positive = nodes.ConditioningCombine().combine(positive, wan_conds[0])[0]
    negative = nodes.ConditioningZeroOut().zero_out(wan_conds[1])[0]
    seen = []

    def record(apply_model, args):
        seen.append((float(args["timestep"].flatten()[0]), list(args["cond_or_uncond"])))
        return apply_model(args["input"], args["timestep"], **args["c"])

    model = patched_model(wan_model, cfg_truncate_steps=3)
    model.set_model_unet_function_wrapper(record)
    out = ksampler(model, (positive, negative))
    assert torch.isfinite(out).all()
    truncated = {round(s.sigma, 6) for s in controller_of(model).last_ledger.steps if not s.full}
    assert len(truncated) == 3
    for sigma, slots in seen:
        if round(sigma, 6) in truncated:
            assert set(slots) == {0}, "a truncated step evaluated the negative branch"
        else:
            assert {0, 1} <= set(slots)


@pytest.mark.parametrize("add", ["apg", "rescale", "slg"])
def test_composes_with_core_guidance_nodes(wan_model, wan_conds, add):
    spy = CfgSpy()
    model = patched_model(spy.attach(wan_model), cfg_truncate_steps=3)
    if add == "apg":
        model = APG.execute(model, 1.0, 0.0, 0.0).result[0]
    elif add == "rescale":
        model = RescaleCFG().patch(model, 0.7)[0]
    else:
        model = SkipLayerGuidanceDiT.execute(model, 3.0, 0.0, 1.0, double_layers="1").result[0]
    out = ksampler(model, wan_conds)
    assert torch.isfinite(out).all()
    assert controller_of(model).last_ledger.truncated_steps == [5, 6, 7]
    for post in spy.post[5:]:
        assert torch.equal(post["uncond_denoised"], post["cond_denoised"]) and post["cond_denoised"].abs().sum() > 0


def test_an_empty_schedule_samples_nothing_and_says_so(wan_model, wan_conds):
    guider = truncated_guider(wan_model, wan_conds, cfg_truncate_steps=2)
    lat = latent(1)
    out = sample_custom_advanced(guider, "euler", 1, torch.tensor([1.0]))
    assert out.shape == lat["samples"].shape
    ledger = guider.controller.last_ledger
    assert ledger.sampler_calls == 0 and ledger.summary() == "0 steps, 0 truncated, model calls 0 / 0 (0.0 % saved)"


def test_a_core_guider_after_a_patched_run_is_untouched(wan_model, wan_conds):
    # The patch lives on a clone: the original model samples exactly as before.
    sigmas = schedule(wan_model)
    before = sample_custom_advanced(core_guider(wan_model, *wan_conds, CFG), "euler", 1, sigmas)
    ksampler(patched_model(wan_model, cfg_truncate_steps=5), wan_conds)
    assert torch.equal(sample_custom_advanced(core_guider(wan_model, *wan_conds, CFG), "euler", 1, sigmas), before)
