"""Every sampler and every scheduler of ComfyUI, with the guider and with the model patch, truncation on,
keeping cond and reusing the guidance.

Each case asserts a finite result, one ledger entry per sampler call (forwards counted at the
diffusion model), rows equal to the ledger's branches, and full CFG exactly on the steps the
policy leaves untruncated. Samplers whose calls fall between schedule points (and dpm_adaptive,
which picks its own) are placed by the design's sigma rule.
"""
import pytest
import torch
from hostenv import require_host

require_host()

import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import comfy.utils  # noqa: E402
from sampling_support import SEED, count_rows, latent, sample_custom_advanced, truncated_guider  # noqa: E402

from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch  # noqa: E402
from sampling_support import controller_of  # noqa: E402

STEPS = 4
TRUNCATE = 2  # the last two of four steps
SAMPLERS = list(comfy.samplers.KSampler.SAMPLERS)
SCHEDULERS = list(comfy.samplers.KSampler.SCHEDULERS)


@pytest.fixture(autouse=True)
def quiet():
    comfy.utils.PROGRESS_BAR_ENABLED = False
    yield
    comfy.utils.PROGRESS_BAR_ENABLED = True


def forwards(model):
    calls = []
    handle = model.model.diffusion_model.register_forward_hook(lambda mod, args, out: calls.append(out.shape[0]))
    return calls, handle


KEEPS = ["cond", "reuse"]


def check(ledger, rows, out, batch, keep):
    assert torch.isfinite(out).all()
    assert ledger.sampler_calls == len(rows), "one plan per sampler call"
    assert sum(rows) == ledger.model_calls * batch
    assert len(ledger.steps) == STEPS
    for step in ledger.steps:
        if step.sampler_calls:
            assert step.full == (step.index < STEPS - TRUNCATE), step
            assert step.model_calls == step.sampler_calls * (2 if step.full else 1)
            if not step.full:
                # Reuse needs a full step before it: the guidance of the latest one, never a later one.
                assert step.kept == keep, step
                assert (step.reused_from is not None and step.reused_from < step.index) == (keep == "reuse"), step


@pytest.mark.parametrize("keep", KEEPS)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_model_patch_in_ksampler(wan_model, wan_conds, sampler_name, scheduler, keep):
    model = TruncatedCFGModelPatch.execute(wan_model, cfg_truncate_steps=TRUNCATE, cfg_trunc_ratio=1.0,
                                           keep=keep).result[0]
    noise = comfy.sample.prepare_noise(latent(1)["samples"], SEED)
    rows, handle = forwards(wan_model)
    try:
        out = comfy.sample.sample(model, noise, STEPS, 4.0, sampler_name, scheduler, wan_conds[0], wan_conds[1],
                                  latent(1)["samples"], seed=SEED, disable_pbar=True)
    finally:
        handle.remove()
    check(controller_of(model).last_ledger, rows, out, 1, keep)


@pytest.mark.parametrize("keep", KEEPS)
@pytest.mark.parametrize("scheduler", SCHEDULERS)
@pytest.mark.parametrize("sampler_name", SAMPLERS)
def test_guider_in_sampler_custom_advanced(wan_model, wan_conds, sampler_name, scheduler, keep):
    sigmas = comfy.samplers.calculate_sigmas(wan_model.get_model_object("model_sampling"), scheduler, STEPS)
    guider = truncated_guider(wan_model, wan_conds, cfg_truncate_steps=TRUNCATE, keep=keep)
    with count_rows(wan_model) as rows:
        out = sample_custom_advanced(guider, sampler_name, 2, sigmas)
    check(guider.controller.last_ledger, rows, out, 2, keep)
