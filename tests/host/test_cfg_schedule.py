"""cfg_schedule on the real sampler nodes: each step guided at its own scale as a per-step cfg loop does it
(WanVideoWrapper's list, KJNodes' schedule), the steps at 1 one model call each and counted as truncated, and a
schedule the pack cannot read refused by POST /prompt's validation with what is wrong."""
import pytest
import torch
from hostenv import require_host

require_host()

import comfy.samplers  # noqa: E402
from sampling_support import (CFG, count_rows, design_step, ksampler, patched_model, sample_custom_advanced,  # noqa: E402
                              schedule, truncated_guider)

from truncated_cfg.nodes.guider import TruncatedCFGGuider  # noqa: E402
from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch  # noqa: E402
from sampling_support import controller_of  # noqa: E402

STEPS = 6
SCALES = [5.0, 3.5, 1.0, 2.0, 1.0]  # the last holds for step 5


class PerStepCfgGuider(comfy.samplers.CFGGuider):
    """A per-step cfg loop written plainly: core's sampling function at the step's scale from the list."""

    def __init__(self, model, positive, negative, sigmas, scales):
        super().__init__(model)
        self.set_conds(positive, negative)
        self.set_cfg(scales[0])
        self.reference_sigmas, self.scales = sigmas, scales

    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 (core's signature)
        step = design_step(self.reference_sigmas, float(timestep.flatten()[0]))
        scale = self.scales[min(step, len(self.scales) - 1)]
        return comfy.samplers.sampling_function(self.inner_model, x, timestep, self.conds.get("negative"),
                                                self.conds.get("positive"), scale, model_options=model_options,
                                                seed=seed)


@pytest.mark.parametrize("sampler", ["euler", "heun"])
def test_the_guider_equals_a_per_step_cfg_loop_and_saves_the_steps_at_1(wan_model, wan_conds, sampler):
    sigmas = schedule(wan_model, STEPS)
    with count_rows(wan_model) as rows:
        expected = sample_custom_advanced(PerStepCfgGuider(wan_model, *wan_conds, sigmas, SCALES), sampler, 1, sigmas)
    guider = truncated_guider(wan_model, wan_conds, cfg=CFG, cfg_schedule=", ".join(map(str, SCALES)))
    with count_rows(wan_model) as ours:
        out = sample_custom_advanced(guider, sampler, 1, sigmas)
    ledger = guider.controller.last_ledger
    assert torch.equal(out, expected) and sum(ours) == sum(rows) == ledger.model_calls
    assert ledger.truncated_steps == [2, 4, 5] and ledger.steps[2].reasons == ("cfg_schedule",)
    assert ledger.model_calls_saved == sum(ledger.steps[i].sampler_calls for i in (2, 4, 5))
    assert ledger.sampler_calls == (STEPS if sampler == "euler" else 2 * STEPS - 1)
    assert ledger.notes == ["cfg_schedule has 5 scales for the 6 steps of this schedule: the last holds to the end"]


def test_the_model_patch_runs_the_schedule_under_ksampler_against_its_cfg(wan_model, wan_conds):
    model = patched_model(wan_model, cfg_schedule="[4.0, 4.0, 1.0, 1.0, 1.0, 1.0]")
    with count_rows(wan_model) as ours:
        out = ksampler(model, wan_conds, steps=STEPS)
    sigmas = schedule(wan_model, STEPS)
    reference = PerStepCfgGuider(wan_model, *wan_conds, sigmas, [4.0, 4.0, 1.0])
    assert torch.equal(out, sample_custom_advanced(reference, "euler", 1, sigmas))
    ledger = controller_of(model).last_ledger
    assert sum(ours) == ledger.model_calls == 2 * 2 + 4 and ledger.model_calls_core == 2 * STEPS
    assert ledger.notes == []


@pytest.mark.parametrize("node", [TruncatedCFGGuider, TruncatedCFGModelPatch], ids=["guider", "patch"])
def test_a_schedule_that_is_not_a_list_of_scales_is_refused_before_the_run_by_what_is_wrong(node):
    assert node.validate_inputs(cfg_schedule="4, 4, 1") is True
    assert node.validate_inputs(cfg_schedule="4, four") == (
        "cfg_schedule value 2 is 'four', not a number: write the guidance scale of each step, as in 4, 4, 3.5, 1")
    assert node.validate_inputs(cfg_schedule="4, 400") == "cfg_schedule value 2 is 400: each scale must be in [0, 100]"
