"""What the ledger counts against: what ComfyUI's own CFGGuider runs for the same graph (one model call at cfg 1,
the forwards other nodes add), the scale another node sets per step (core's CFGOverride), a guidance scale that is
not a number, and the first step whose output stopped being finite. Rows are counted at the network's first layer.
"""
import logging

import pytest
import torch
from hostenv import require_host

require_host()

import comfy_extras.nodes_custom_sampler  # noqa: E402
from comfy_extras.nodes_slg import SkipLayerGuidanceDiT  # noqa: E402
from sampling_support import (CFG, count_rows, ksampler, patched_model, sample_custom_advanced, schedule,  # noqa: E402
                              truncated_guider)

from devtools.core_nodes import cfg_guider  # noqa: E402
from truncated_cfg.nodes.guider import TruncatedCFGGuider  # noqa: E402
from sampling_support import controller_of  # noqa: E402

STEPS = 6
CFGOverride = getattr(comfy_extras.nodes_custom_sampler, "CFGOverride", None)
needs_cfg_override = pytest.mark.skipif(CFGOverride is None, reason="this ComfyUI has no CFGOverride node (0.3.64 "
                                        "predates it)")


def core_rows(model, conds, cfg=CFG, sampler="euler"):
    with count_rows(model) as rows:
        out = sample_custom_advanced(cfg_guider(model, *conds, cfg), sampler, 1, schedule(model, STEPS))
    return sum(rows), out


@pytest.mark.parametrize("node", ["guider", "patch"])
def test_at_cfg_1_with_every_rule_off_the_pack_claims_no_saving(wan_model, wan_conds, caplog, node):
    rows, expected = core_rows(wan_model, wan_conds, cfg=1.0)
    with caplog.at_level(logging.INFO), count_rows(wan_model) as ours:
        if node == "guider":
            guider = truncated_guider(wan_model, wan_conds, cfg=1.0)
            out = sample_custom_advanced(guider, "euler", 1, schedule(wan_model, STEPS))
            ledger = guider.controller.last_ledger
        else:
            model = patched_model(wan_model)
            out = ksampler(model, wan_conds, cfg=1.0, steps=STEPS)
            ledger = controller_of(model).last_ledger
    assert sum(ours) == rows == STEPS and ledger.model_calls == ledger.model_calls_core == STEPS
    assert ledger.model_calls_saved == 0 and set(ledger.steps_of_kind("cfg1")) == set(range(STEPS))
    line = next(r.getMessage() for r in caplog.records if "[Truncated CFG]" in r.getMessage())
    assert "model calls 6 / 6 (0.0 % saved; at cfg 1 ComfyUI runs no negative branch, so there is none to skip)" in line
    if node == "guider":
        assert torch.equal(out, expected)


def test_truncation_at_cfg_1_saves_nothing_and_changes_nothing(wan_model, wan_conds):
    rows, expected = core_rows(wan_model, wan_conds, cfg=1.0)
    guider = truncated_guider(wan_model, wan_conds, cfg=1.0, cfg_truncate_steps=3)
    with count_rows(wan_model) as ours:
        out = sample_custom_advanced(guider, "euler", 1, schedule(wan_model, STEPS))
    ledger = guider.controller.last_ledger
    assert torch.equal(out, expected) and sum(ours) == rows
    assert (ledger.model_calls, ledger.model_calls_core, ledger.model_calls_saved) == (STEPS, STEPS, 0)


def override(model, cfg, start, end):
    return CFGOverride.execute(model, cfg, start, end).result[0]


@needs_cfg_override
@pytest.mark.parametrize("placement", ["override first", "patch first"])
def test_a_cfg_override_range_is_planned_at_its_scale(wan_model, wan_conds, placement):
    """CFGOverride at cfg 1 over the second half: those steps are ComfyUI's own cfg-1 steps, counted as such."""
    with_override = override(wan_model, 1.0, 0.5, 1.0)
    reference = cfg_guider(with_override, *wan_conds, CFG)
    with count_rows(wan_model) as core:
        expected = sample_custom_advanced(reference, "euler", 1, schedule(wan_model, STEPS))
    model = (patched_model(with_override) if placement == "override first"
             else override(patched_model(wan_model), 1.0, 0.5, 1.0))
    with count_rows(wan_model) as ours:
        out = ksampler(model, wan_conds, steps=STEPS)
    ledger = controller_of(model).last_ledger
    kinds = [s.kind for s in ledger.steps]
    assert "cfg1" in kinds and "full" in kinds and kinds.index("cfg1") > kinds.index("full")
    assert sum(ours) == sum(core) == ledger.model_calls == ledger.model_calls_core
    assert ledger.model_calls_saved == 0
    assert torch.equal(out, ksampler(with_override, wan_conds, steps=STEPS)) and out.shape == expected.shape


@needs_cfg_override
def test_a_cfg_override_on_reuse_steps_mixes_the_reused_guidance_at_its_scale(wan_model, wan_conds):
    model = override(patched_model(wan_model, cfg_every=2, keep="reuse"), 7.0, 0.0, 1.0)
    ksampler(model, wan_conds, steps=STEPS)
    ledger = controller_of(model).last_ledger
    assert ledger.steps_of_kind("reuse") == [1, 3, 5] and ledger.model_calls_core == 2 * STEPS
    assert ledger.model_calls == 3 * 2 + 3


def test_skip_layer_guidance_forwards_are_counted_as_model_calls_core_runs_too(wan_model, wan_conds):
    slg = SkipLayerGuidanceDiT.execute(wan_model, 3.0, 0.0, 1.0, double_layers="1").result[0]
    rows, _ = core_rows(slg, wan_conds)
    model = patched_model(slg, cfg_truncate_steps=2)
    with count_rows(wan_model) as ours:
        ksampler(model, wan_conds, steps=STEPS)
    ledger = controller_of(model).last_ledger
    assert sum(ours) == ledger.model_calls and ledger.model_calls_core == rows
    assert rows > 2 * STEPS and ledger.model_calls_saved == 2


@pytest.mark.parametrize("cfg", [float("nan"), float("inf")])
def test_a_guidance_scale_that_is_not_a_number_is_refused_by_name_before_sampling(wan_model, wan_conds, cfg):
    assert "cfg is" in TruncatedCFGGuider.validate_inputs(cfg=cfg)
    assert "cfg_low_noise is" in TruncatedCFGGuider.validate_inputs(cfg=4.0, cfg_low_noise=cfg)
    with pytest.raises(ValueError, match="cfg is"):
        truncated_guider(wan_model, wan_conds, cfg=cfg)
    with pytest.raises(ValueError, match=r"cfg is (nan|inf): give the sampler a finite guidance scale"):
        ksampler(patched_model(wan_model), wan_conds, cfg=cfg, steps=2)


def test_the_first_step_whose_output_went_non_finite_is_marked_and_the_run_goes_on(wan_model, wan_conds, caplog):
    sigmas = schedule(wan_model, STEPS)
    poisoned_from = float(sigmas[3])

    def poison(args):
        return args["denoised"] * float("nan") if float(args["sigma"].flatten()[0]) <= poisoned_from else \
            args["denoised"]

    sick = wan_model.clone()
    sick.set_model_sampler_post_cfg_function(poison)
    model = patched_model(sick, cfg_truncate_steps=1)
    with caplog.at_level(logging.INFO):
        out = ksampler(model, wan_conds, steps=STEPS)
    ledger = controller_of(model).last_ledger
    assert ledger.not_finite_from == 3 and not torch.isfinite(out).all() and ledger.sampler_calls == STEPS
    assert any("output not finite from step 4" in r.getMessage() for r in caplog.records)


def test_a_model_split_over_gpus_by_core_multigpu_cfg_split_gets_a_note_that_savings_are_gpu_time(wan_model, wan_conds,
                                                                                                  caplog):
    """Core's node needs more than one GPU to add its clones; the test puts one clone where it would."""
    split = wan_model.clone()
    split.set_additional_models("multigpu", [wan_model.clone()])
    with caplog.at_level(logging.INFO):
        ksampler(patched_model(split, cfg_truncate_steps=2), wan_conds, steps=2)
        ksampler(patched_model(wan_model, cfg_truncate_steps=2), wan_conds, steps=2)
    notes = [r.getMessage() for r in caplog.records if "MultiGPU CFG Split" in r.getMessage()]
    assert len(notes) == 1 and "does not take less wall time" in notes[0] and "2 GPUs" in notes[0]
