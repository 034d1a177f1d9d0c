"""Wan A14B Experts: routing by sigma, one pass equals ComfyUI's split graph, memory, truncation, i2v."""
import contextlib

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.model_management  # noqa: E402
import comfy.sample  # noqa: E402
import comfy.samplers  # noqa: E402
import nodes  # noqa: E402
from comfy_extras.nodes_wan import WanImageToVideo  # noqa: E402
import sampling_support  # noqa: E402
from sampling_support import SEED, full_steps, latent, patched_model  # noqa: E402

from devtools.checkpoints import wan_conditioning  # noqa: E402
from truncated_cfg.nodes.models.expert_routing import experts_of  # noqa: E402
from sampling_support import controller_of  # noqa: E402
from truncated_cfg.nodes.models.wan_a14b import WanA14BExperts  # noqa: E402
from truncated_cfg.sampling.experts import first_low_noise_step  # noqa: E402

BOUNDARY = 0.875
CONDS = (wan_conditioning(1), wan_conditioning(2))


def combined(experts, task="t2v", boundary=BOUNDARY):
    return WanA14BExperts.execute(experts[0], experts[1], task, boundary).result[0]


def schedule(model, steps):
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps)


@contextlib.contextmanager
def expert_rows(experts):
    """Batch rows into each expert's own network (its patch embedding runs only when it computes)."""
    rows = {"high": [], "low": []}
    handles = [expert.model.diffusion_model.patch_embedding.register_forward_hook(
        lambda mod, args, out, name=name: rows[name].append(out.shape[0]))
        for name, expert in zip(("high", "low"), experts, strict=True)]
    try:
        yield rows
    finally:
        for h in handles:
            h.remove()


def ksampler(model, steps, cfg=4.0, sampler="euler", batch=1, conds=CONDS):
    return sampling_support.ksampler(model, conds, batch, sampler, cfg, steps)


def native_split(experts, steps, split, cfg_high, cfg_low, sampler="euler"):
    """ComfyUI's own graph: two KSamplerAdvanced, high-noise expert to `split`, low-noise after."""
    high, low = experts
    first = nodes.KSamplerAdvanced().sample(high, "enable", SEED, steps, cfg_high, sampler, "simple", CONDS[0],
                                            CONDS[1], latent(1), 0, split, "enable")[0]
    return nodes.KSamplerAdvanced().sample(low, "disable", SEED, steps, cfg_low, sampler, "simple", CONDS[0],
                                           CONDS[1], first, split, 10000, "disable")[0]["samples"]


def test_every_call_goes_to_the_expert_its_sigma_names(wan_experts):
    model = patched_model(combined(wan_experts))
    sigmas = [float(s) for s in schedule(model, 10)]
    split = first_low_noise_step(sigmas, BOUNDARY)
    assert 0 < split < 10
    with expert_rows(wan_experts) as rows:
        ksampler(model, 10, batch=2)
    assert sum(rows["high"]) == 2 * 2 * split and sum(rows["low"]) == 2 * 2 * (10 - split)
    ledger = controller_of(model).last_ledger
    assert [s.expert for s in ledger.steps] == ["high"] * split + ["low"] * (10 - split)
    assert experts_of(model).boundary == BOUNDARY


@pytest.mark.parametrize("cfg_low", [4.0, 3.0])
def test_one_pass_equals_the_native_two_sampler_graph_with_euler(wan_experts, cfg_low):
    steps = 12
    split = first_low_noise_step([float(s) for s in schedule(wan_experts[0], steps)], BOUNDARY)
    expected = native_split(wan_experts, steps, split, 4.0, cfg_low)
    got = ksampler(patched_model(combined(wan_experts), cfg_low_noise=cfg_low), steps, cfg=4.0)
    # Compared in the sampler's latent space (KSampler hands back Wan's de-normalised latent, scaled by
    # its per-channel std), where the native hand-off's noise-scaling round trip rounds.
    to_sampler_space = wan_experts[0].model.process_latent_in
    assert (to_sampler_space(got) - to_sampler_space(expected)).abs().max() <= 1e-5


def routed_by_hand(experts, cfg):
    """A denoiser that picks the expert by the official rule itself.

    Cond and uncond run as one batch, as ComfyUI batches them, so that solvers which divide by a
    tiny final sigma (UniPC) do not amplify batching's rounding into the comparison.
    """
    def denoise(x, sigma, **_):
        sigma = float(sigma.flatten()[0]) if torch.is_tensor(sigma) else float(sigma)
        expert = experts[0] if sigma >= BOUNDARY else experts[1]
        both = torch.cat([x, x])
        context = torch.cat([CONDS[0][0][0], CONDS[1][0][0]])
        cond, uncond = expert.model.apply_model(both, torch.full((both.shape[0],), sigma),
                                                c_crossattn=context).chunk(2)
        return uncond + (cond - uncond) * cfg
    return denoise


def reference_dpmpp_2m(experts, sigmas, noise, cfg):
    """DPM-Solver++(2M) written out over the hand-routed denoiser."""
    denoise = routed_by_hand(experts, cfg)
    x = noise * sigmas[0]
    old = None
    for i in range(len(sigmas) - 1):
        denoised = denoise(x, sigmas[i])
        t, t_next = -torch.log(sigmas[i]), -torch.log(sigmas[i + 1]) if sigmas[i + 1] > 0 else None
        if sigmas[i + 1] == 0:
            x = denoised
        else:
            h = t_next - t
            if old is None:
                d = denoised
            else:
                r = (t - (-torch.log(sigmas[i - 1]))) / h
                d = (1 + 1 / (2 * r)) * denoised - (1 / (2 * r)) * old
            x = (torch.exp(-t_next) / torch.exp(-t)) * x - torch.expm1(-h) * d
        old = denoised
    return x


def test_multistep_solver_keeps_its_history_across_the_switch(wan_experts):
    steps = 12
    model = combined(wan_experts)
    sigmas = schedule(model, steps)
    split = first_low_noise_step([float(s) for s in sigmas], BOUNDARY)
    one_pass = ksampler(model, steps, sampler="dpmpp_2m")
    noise = comfy.sample.prepare_noise(latent(1)["samples"], SEED)
    with torch.no_grad():
        reference = model.model.process_latent_out(reference_dpmpp_2m(wan_experts, sigmas, noise, 4.0))
    assert (one_pass - reference).abs().max() <= 1e-4
    split_graph = native_split(wan_experts, steps, split, 4.0, 4.0, sampler="dpmpp_2m")
    assert (one_pass - split_graph).abs().max() > 1e-3  # the split graph restarts the solver at the switch


def test_uni_pc_keeps_its_history_across_the_switch(wan_experts):
    from comfy.extra_samplers.uni_pc import sample_unipc

    steps = 12
    model = combined(wan_experts)
    # KSampler drops the penultimate sigma for uni_pc (DISCARD_PENULTIMATE_SIGMA_SAMPLERS): take its own schedule.
    sigmas = comfy.samplers.KSampler(model, steps=steps, device="cpu", sampler="uni_pc", scheduler="simple").sigmas
    split = first_low_noise_step([float(s) for s in sigmas], BOUNDARY)
    with expert_rows(wan_experts) as rows:
        one_pass = ksampler(model, steps, sampler="uni_pc")
    assert rows["high"] and rows["low"]
    # ComfyUI's UniPC loop over the hand-routed denoiser: the same solver, routing not by the pack.
    noise = comfy.sample.prepare_noise(latent(1)["samples"], SEED)
    with torch.no_grad():
        solver_sigmas = sigmas.clone()
        reference = sample_unipc(routed_by_hand(wan_experts, 4.0), noise * sigmas[0], solver_sigmas, extra_args={},
                                 disable=True)
        # As KSAMPLER does after it: ComfyUI's UniPC sets the last sigma to 0.001 in place, so a flow model's
        # inverse noise scaling then divides by 1 - 0.001. Mirrored, not judged.
        reference = model.get_model_object("model_sampling").inverse_noise_scaling(solver_sigmas[-1], reference)
    assert (one_pass - model.model.process_latent_out(reference)).abs().max() <= 1e-4
    assert (one_pass - native_split(wan_experts, steps, split, 4.0, 4.0, sampler="uni_pc")).abs().max() > 1e-3


def test_truncating_the_last_steps_counts_the_whole_schedule_not_each_expert(wan_experts):
    model = patched_model(combined(wan_experts), cfg_truncate_steps=5)
    with expert_rows(wan_experts) as rows:
        ksampler(model, 40)
    ledger = controller_of(model).last_ledger
    split = first_low_noise_step([s.sigma for s in ledger.steps] + [0.0], BOUNDARY)
    assert ledger.truncated_steps == list(range(35, 40)) and split < 35
    assert sum(rows["high"]) + sum(rows["low"]) == ledger.model_calls == 75


def test_the_switch_asks_model_management_for_the_low_noise_expert(wan_experts):
    comfy.model_management.unload_all_models()
    high, low = wan_experts
    seen = {}

    def snapshot(name):
        def hook(module, args):
            # Each entry holds a ModelPatcher (weakly: one an earlier test dropped reads None); a clone of an
            # expert shares that expert's network.
            loaded = {id(entry.model.model) for entry in comfy.model_management.current_loaded_models
                      if entry.model is not None}
            seen.setdefault(name, (id(high.model) in loaded, id(low.model) in loaded))
        return hook

    handles = [high.model.diffusion_model.patch_embedding.register_forward_pre_hook(snapshot("high")),
               low.model.diffusion_model.patch_embedding.register_forward_pre_hook(snapshot("low"))]
    try:
        ksampler(combined(wan_experts), 10)
    finally:
        for h in handles:
            h.remove()
    high_loaded, low_loaded = seen["high"]
    assert high_loaded and not low_loaded, "the low-noise expert was loaded before the switch"
    assert seen["low"][1], "the low-noise expert ran without model management loading it"


def test_i2v_experts_work_with_wan_image_to_video(wan_expert_files, wan_vae_file):
    from devtools.checkpoints import load_model

    experts = load_model(wan_expert_files[("i2v", "high")]), load_model(wan_expert_files[("i2v", "low")])
    import comfy.sd
    import comfy.utils

    vae = comfy.sd.VAE(sd=comfy.utils.load_torch_file(str(wan_vae_file)))
    positive, negative, lat = WanImageToVideo.execute(CONDS[0], CONDS[1], vae, 32, 32, 1, 1,
                                                      start_image=torch.rand(1, 32, 32, 3)).result
    model = patched_model(combined(experts, task="i2v", boundary=0.0), cfg_low_noise=3.5)
    with expert_rows(experts) as rows:
        out = nodes.KSampler().sample(model, SEED, 8, 3.5, "euler", "simple", positive, negative, lat)[0]["samples"]
    assert torch.isfinite(out).all() and out.shape == lat["samples"].shape
    assert sum(rows["high"]) > 0 and sum(rows["low"]) > 0
    assert experts_of(model).boundary == 0.9


def test_experts_that_do_not_fit_are_refused_with_what_they_are(wan_experts, wan_expert_files, wan_model):
    from devtools.checkpoints import load_model

    i2v_high = load_model(wan_expert_files[("i2v", "high")])
    with pytest.raises(ValueError, match="high_noise_model is a t2v expert .16 input channels.; task i2v needs"):
        WanA14BExperts.execute(wan_experts[0], wan_experts[1], "i2v", 0.0)
    with pytest.raises(ValueError, match="low_noise_model is a i2v expert"):
        WanA14BExperts.execute(wan_experts[0], i2v_high, "t2v", 0.0)
    with pytest.raises(ValueError, match="do not match .num_layers 1 vs 2"):
        WanA14BExperts.execute(wan_experts[0], wan_model, "t2v", 0.0)
    with pytest.raises(ValueError, match=r"boundary must be in \[0, 1\)"):
        WanA14BExperts.execute(wan_experts[0], wan_experts[1], "t2v", 1.2)


def test_an_interrupt_after_the_switch_leaves_the_next_run_exact(wan_experts):
    model = patched_model(combined(wan_experts), cfg_truncate_steps=3)
    expected = ksampler(patched_model(combined(wan_experts), cfg_truncate_steps=3), 10)
    low = wan_experts[1].model.diffusion_model.patch_embedding
    error = comfy.model_management.InterruptProcessingException()

    def interrupt(module, args):
        raise error

    handle = low.register_forward_pre_hook(interrupt)
    try:
        with pytest.raises(comfy.model_management.InterruptProcessingException):
            ksampler(model, 10)
    finally:
        handle.remove()
    assert torch.equal(ksampler(model, 10), expected)
    assert controller_of(model).last_ledger.sampler_calls == 10


def test_reused_guidance_never_crosses_the_expert_switch(wan_experts):
    # Full CFG on every 4th step, reuse between: the first reuse step on the low-noise expert would
    # carry the high-noise expert's difference, so it runs full CFG instead and the low-noise steps
    # after it reuse the low-noise expert's own.
    model = patched_model(combined(wan_experts), keep="reuse", cfg_every=4)
    sigmas = [float(s) for s in schedule(model, 12)]
    split = first_low_noise_step(sigmas, BOUNDARY)
    assert split % 4 != 0, "the test needs the switch inside a run of reuse steps"
    with expert_rows(wan_experts) as rows:
        out = ksampler(model, 12, sampler="uni_pc")
    assert torch.isfinite(out).all()
    ledger = controller_of(model).last_ledger
    every_fourth = {0, 4, 8}
    assert ledger.steps_of_kind("refresh") == [split] and ledger.steps[split].refreshed == "expert switch"
    assert full_steps(ledger) == sorted(every_fourth | {split})
    for step in ledger.steps_of_kind("reuse"):
        source = ledger.steps[step].reused_from
        assert ledger.steps[step].expert == ledger.steps[source].expert, (step, source)
    assert sum(rows["high"]) + sum(rows["low"]) == ledger.model_calls
