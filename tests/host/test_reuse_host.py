"""keep = reuse on ComfyUI's real samplers: the reused guidance, counted, checked against its formula."""
import pytest
import torch
from hostenv import require_host

require_host()

import comfy.model_management  # noqa: E402
import nodes  # noqa: E402
from sampling_support import (CFG, STEPS, CfgSpy, check_reuse_steps, count_rows, full_steps,  # noqa: E402
                              sample_custom_advanced, schedule, truncated_guider)
from devtools.core_nodes import cfg_guider as core_guider  # noqa: E402

from devtools.checkpoints import wan_conditioning  # noqa: E402
from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch  # noqa: E402
from sampling_support import controller_of  # noqa: E402

SAMPLERS = ["euler", "heun", "dpmpp_2m", "dpmpp_2s_ancestral", "res_multistep", "uni_pc", "euler_cfg_pp"]


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_reuse_with_every_rule_off_equals_cfgguider_bit_for_bit(wan_model, wan_conds, sampler_name, batch):
    sigmas = schedule(wan_model)
    expected = sample_custom_advanced(core_guider(wan_model, *wan_conds, CFG), sampler_name, batch, sigmas)
    guider = truncated_guider(wan_model, wan_conds, keep="reuse")
    assert torch.equal(sample_custom_advanced(guider, sampler_name, batch, sigmas), expected)
    assert guider.controller.last_ledger.steps_of_kind("reuse") == []


def reuse_run(model, conds, batch, keep_mode="reuse", **policy):
    """Euler through SamplerCustomAdvanced, the pairs every hook saw recorded; (spy, ledger, rows per call)."""
    spy = CfgSpy()
    guider = truncated_guider(spy.attach(model), conds, keep=keep_mode, **policy)
    with count_rows(model) as rows:
        sample_custom_advanced(guider, "euler", batch, schedule(model))
    return spy, guider.controller.last_ledger, rows


@pytest.mark.parametrize("batch", [1, 2])
def test_a_reuse_step_is_cond_plus_scaled_reused_difference_with_one_branch_at_the_network(wan_model, wan_conds,
                                                                                            batch):
    spy, ledger, rows = reuse_run(wan_model, wan_conds, batch, cfg_every=3)
    assert full_steps(ledger) == [0, 3, 6] and ledger.steps_of_kind("reuse") == [1, 2, 4, 5, 7]
    assert [ledger.steps[i].reused_from for i in ledger.steps_of_kind("reuse")] == [0, 0, 3, 3, 6]
    assert rows == [2 * batch if i in (0, 3, 6) else batch for i in range(STEPS)]
    assert check_reuse_steps(spy, ledger) == 5


def test_reuse_extrapolated_follows_the_line_through_the_latest_two_full_steps(wan_model, wan_conds):
    spy, ledger, rows = reuse_run(wan_model, wan_conds, 2, cfg_every=3, keep_mode="reuse_extrapolated")
    assert full_steps(ledger) == [0, 3, 6] and ledger.steps_of_kind("reuse") == [1, 2, 4, 5, 7]
    assert sum(rows) == ledger.model_calls * 2
    full = {i: (spy.pre[i][0], (spy.pre[i][1] - spy.pre[i][2]) / spy.pre[i][0]) for i in full_steps(ledger)}
    for step in ledger.steps_of_kind("reuse"):
        sigma_now, cond_now, estimated_uncond = spy.pre[step]
        latest = ledger.steps[step].reused_from
        sigma_1, d_1 = full[latest]
        if latest == 0:  # one full step so far: the difference is held, as keep = reuse
            d_hat = d_1
        else:
            sigma_0, d_0 = full[latest - 3]
            reach = max(sigma_now - sigma_1, -abs(sigma_1 - sigma_0))
            d_hat = d_1 + (d_1 - d_0) / (sigma_1 - sigma_0) * reach
        torch.testing.assert_close(estimated_uncond, cond_now - d_hat * sigma_now, rtol=0, atol=1e-5)
        torch.testing.assert_close(spy.post[step]["denoised"], cond_now + (CFG - 1.0) * d_hat * sigma_now,
                                   rtol=0, atol=1e-5)


def test_two_prompts_in_one_batch_keep_their_own_guidance(wan_model):
    # Two different prompts per batch: each sample's reuse carries its own difference.
    positive, negative = wan_conditioning(5, batch=2), wan_conditioning(6, batch=2)
    assert not torch.equal(positive[0][0][0], positive[0][0][1])
    spy, ledger, _ = reuse_run(wan_model, (positive, negative), 2, cfg_truncate_steps=4)
    deltas = spy.pre[3][1] - spy.pre[3][2]
    assert not torch.allclose(deltas[0], deltas[1], atol=1e-3), "the two prompts should guide differently"
    assert check_reuse_steps(spy, ledger) == 4


def test_before_the_first_full_step_a_reuse_step_keeps_cond(wan_model, wan_conds):
    # Guidance only from step 4 on: steps 0-3 have nothing to reuse and run as cfg = 1.
    spy, ledger, _ = reuse_run(wan_model, wan_conds, 1, sigma_high=float(schedule(wan_model)[4]) + 1e-6)
    assert [s.kept for s in ledger.steps[:4]] == ["cond"] * 4 and full_steps(ledger) == [4, 5, 6, 7]
    for post in spy.post[:4]:
        assert post["cond_scale"] == 1.0 and torch.equal(post["cond_denoised"], post["uncond_denoised"])


def test_the_model_patch_reuses_in_ksampler_and_reports_it(wan_model, wan_conds, caplog):
    model = TruncatedCFGModelPatch.execute(wan_model, cfg_truncate_steps=0, cfg_trunc_ratio=1.0, keep="reuse",
                                           cfg_every=2).result[0]
    with caplog.at_level("INFO"):
        nodes.KSampler().sample(model, 1, STEPS, CFG, "dpmpp_2m", "simple", wan_conds[0], wan_conds[1],
                                {"samples": torch.zeros(1, 16, 1, 8, 8)})
    ledger = controller_of(model).last_ledger
    assert ledger.steps_of_kind("reuse") == [1, 3, 5, 7]
    assert [s["kind"] for s in ledger.to_dict()["steps"]] == ["full", "reuse"] * 4
    assert "8 steps, 4 truncated, model calls 12 / 16 (25.0 % saved), guidance reused on 4 steps, " \
           "refreshed on 0" in caplog.text


def test_the_refresh_runs_full_cfg_where_the_positive_prediction_moved(wan_model, wan_conds):
    _, plain, _ = reuse_run(wan_model, wan_conds, 1, cfg_truncate_steps=7)
    spy, refreshed, rows = reuse_run(wan_model, wan_conds, 1, cfg_truncate_steps=7, reuse_refresh=0.05)
    assert full_steps(plain) == [0]
    assert len(refreshed.steps_of_kind("refresh")) >= 1 and refreshed.model_calls > plain.model_calls
    for step in refreshed.steps_of_kind("refresh"):
        assert refreshed.steps[step].refreshed == "prediction moved" and refreshed.steps[step].reasons
    assert sum(rows) == refreshed.model_calls  # a refresh costs its second branch, nothing more
    assert check_reuse_steps(spy, refreshed) == len(refreshed.steps_of_kind("reuse"))


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("error", [comfy.model_management.InterruptProcessingException(), Boom("model broke")])
def test_a_run_that_dies_while_reusing_leaves_no_guidance_behind(wan_model, wan_conds, error):
    sigmas = schedule(wan_model)
    guider = truncated_guider(wan_model, wan_conds, keep="reuse", cfg_every=2)
    calls = [0]

    def fail_at_sixth(module, args):
        calls[0] += 1
        if calls[0] == 6:  # step 5, a reuse step
            raise error

    handle = wan_model.model.diffusion_model.register_forward_pre_hook(fail_at_sixth)
    try:
        with pytest.raises(type(error)):
            sample_custom_advanced(guider, "euler", 1, sigmas)
    finally:
        handle.remove()
    assert guider.controller.last_ledger is None
    assert "truncated_cfg_run" not in guider.model_options.get("transformer_options", {})
    fresh = truncated_guider(wan_model, wan_conds, keep="reuse", cfg_every=2)
    assert torch.equal(sample_custom_advanced(guider, "euler", 1, sigmas),
                       sample_custom_advanced(fresh, "euler", 1, sigmas))
