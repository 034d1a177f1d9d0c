"""The official truncation rules on ComfyUI's own schedules: for every step count N in 1..100, each c on a grid
that holds the exact boundaries, and ComfyUI's simple and normal schedulers at the model's shift (Z-Image and
NetaYume's AuraFlow sampling, shift 3; Lumina 2's, shift 6), the pack's recipe decides every step as the official
code (tests/official_code.py) decides a step at that sigma.

ComfyUI's sigmas are not the official pipelines' (its simple schedule picks from a 1000-entry table), so "as the
official code decides" means: Z-Image's pipeline on the timestep its scheduler makes of that sigma (sigma x 1000 in
float32), Lumina's forward_with_cfg on the time ComfyUI's NextDiT gets for it (1 - sigma in float32,
comfy/ldm/lumina/model.py), and the step-count rules on the sampler's step index.
"""
import pytest
import torch
from hostenv import require_host
from official_code import (C_GRID, STEP_COUNTS, as_schedule, lumina2_diffusers_official_truncated,
                           lumina_official_guided, pack_guided, wan_write_up_official_truncated,
                           z_image_official_guided)

require_host()

import comfy.model_sampling  # noqa: E402
import comfy.samplers  # noqa: E402

from sampling import recipes  # noqa: E402

SCHEDULERS = ("simple", "normal")


def aura_flow_sampling(shift: float):
    """What core's ModelSamplingAuraFlow node puts on a Lumina 2 / Z-Image model: discrete flow, multiplier 1."""
    class AuraFlow(comfy.model_sampling.ModelSamplingDiscreteFlow, comfy.model_sampling.CONST):
        pass

    sampling = AuraFlow()
    sampling.set_parameters(shift=shift, multiplier=1.0)
    return sampling


def comfy_schedules(shift: float):
    sampling = aura_flow_sampling(shift)
    for scheduler in SCHEDULERS:
        for n in STEP_COUNTS:
            sigmas = comfy.samplers.calculate_sigmas(sampling, scheduler, n)
            assert sigmas.dtype == torch.float32 and float(sigmas[-1]) == 0.0
            yield scheduler, n, as_schedule(sigmas[:-1])


@pytest.mark.parametrize("c", C_GRID)
def test_z_image_recipe_decides_every_comfyui_step_as_zimagepipeline(c):
    for scheduler, n, schedule in comfy_schedules(3.0):
        timesteps = torch.tensor(schedule[:-1], dtype=torch.float32) * 1000  # the scheduler's line 367
        official = z_image_official_guided(timesteps, c)
        assert pack_guided(recipes.z_image(3.0, cfg_truncation=c), schedule) == official, (scheduler, n, c)


def test_comfyui_simple_schedule_lands_on_the_z_image_boundary_and_the_step_there_is_guided():
    """The issue's case: simple with shift 3 has sigma 0.5 exactly at every N divisible by 4 (20 among them); Z-Image
    guides that step, so c 0.5 truncates 4 of 20 steps, not 5."""
    sampling = aura_flow_sampling(3.0)
    for n in range(4, 101, 4):
        schedule = as_schedule(comfy.samplers.calculate_sigmas(sampling, "simple", n)[:-1])
        assert 0.5 in schedule
        assert pack_guided(recipes.z_image(3.0, 0.5), schedule)[schedule.index(0.5)]
    twenty = as_schedule(comfy.samplers.calculate_sigmas(sampling, "simple", 20)[:-1])
    assert pack_guided(recipes.z_image(3.0, 0.5), twenty).count(False) == 4


@pytest.mark.parametrize("c", C_GRID)
def test_lumina2_recipe_decides_every_comfyui_step_as_forward_with_cfg(c):
    for scheduler, n, schedule in comfy_schedules(6.0):
        model_times = 1.0 - torch.tensor(schedule[:-1], dtype=torch.float32)  # comfy/ldm/lumina/model.py
        official = [lumina_official_guided(torch.ones(2) * t, c) for t in model_times]
        assert pack_guided(recipes.lumina2(4.0, cfg_trunc=c), schedule) == official, (scheduler, n, c)


@pytest.mark.parametrize("ratio", C_GRID)
def test_the_step_count_rules_decide_every_comfyui_step_as_their_official_code(ratio):
    for scheduler, n, schedule in comfy_schedules(3.0):
        official = [not lumina2_diffusers_official_truncated(i, n, ratio) for i in range(n)]
        assert pack_guided(recipes.lumina2_diffusers(4.0, ratio), schedule) == official, (scheduler, n, ratio)
        steps = round(ratio * 10)
        official = [not wan_write_up_official_truncated(i, schedule[:-1], steps) for i in range(n)]
        assert pack_guided(recipes.wan22(5.0, steps), schedule) == official, (scheduler, n, steps)
