"""The official guidance recipes (sampling/recipes.py) against loops written as each official pipeline writes its
guidance, on ComfyUI's real sampler: the same latents to 1e-5 and the same model calls, one on each truncated step.

Each reference is a guider whose ``guide(sigma, step, run)`` returns the prediction in the model's output space
(x - x0, the velocity times sigma: every formula below is linear in it or scale-free per image), with ``run``
evaluating the branches it names, as the official code calls its transformer.
"""
import pytest
import torch
from hostenv import require_host

require_host()

import comfy.samplers  # noqa: E402
from sampling_support import count_rows, design_step, sample_custom_advanced, schedule, truncated_guider  # noqa: E402

from sampling import recipes  # noqa: E402
from sampling.official_rules import z_image_t_norm  # noqa: E402
from truncated_cfg.nodes.renorm import TruncatedCFGRenorm  # noqa: E402

STEPS = 6


def per_image_norm(t):
    return torch.linalg.vector_norm(t.flatten(1), dim=1).reshape([-1] + [1] * (t.ndim - 1))


class OfficialLoop(comfy.samplers.CFGGuider):
    def __init__(self, model, conds, sigmas, guide):
        super().__init__(model)
        self.set_conds(*conds)
        self.set_cfg(2.0)  # unused: guide() mixes
        self.reference_sigmas, self.guide = sigmas, guide

    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 (core's signature)
        sigma = float(timestep.flatten()[0])

        def run(*branches):
            outputs = comfy.samplers.calc_cond_batch(self.inner_model, [self.conds.get(b) for b in branches], x,
                                                     timestep, model_options)
            return [x - out for out in outputs]

        return x - self.guide(sigma, design_step(self.reference_sigmas, sigma), run)


def z_image_loop(g, c, k):
    """diffusers' ZImagePipeline: its timestep sigma x 1000 and t_norm = (1000 - t) / 1000, both float32; positive
    alone where t_norm > c (the step at t_norm = c is guided); pos + g (pos - neg); the norm cap k (strictly above)
    per image."""
    def guide(sigma, step, run):
        t = torch.tensor(sigma, dtype=torch.float32) * 1000
        if c <= 1 and ((1000 - t) / 1000).item() > c:
            return run("positive")[0]
        pos, neg = run("positive", "negative")
        pred = pos + g * (pos - neg)
        if k > 0:
            cap = per_image_norm(pos) * k
            norm = per_image_norm(pred)
            pred = torch.where(norm > cap, pred * (cap / norm), pred)
        return pred
    return guide


def lumina2_loop(cfg_scale, cfg_trunc, renorm_cfg):
    """Lumina-Image-2.0's forward_with_cfg: guided while t[0] < cfg_trunc (torch compares in float32; t is the time
    ComfyUI's NextDiT gets, 1 - sigma in float32), the renorm cap per image."""
    def guide(sigma, step, run):
        t = torch.ones(1) * (1.0 - torch.tensor(sigma, dtype=torch.float32))
        if not t[0] < cfg_trunc:
            return run("positive")[0]
        cond, uncond = run("positive", "negative")
        half = uncond + cfg_scale * (cond - uncond)
        if renorm_cfg > 0:
            max_new = per_image_norm(cond) * renorm_cfg
            new = per_image_norm(half)
            half = torch.where(new >= max_new, half * (max_new / new), half)
        return half
    return guide


def lumina2_diffusers_loop(guidance_scale, ratio, normalization):
    """diffusers' Lumina2Pipeline: the positive alone where (i + 1) / N > ratio; normalisation over the last axis."""
    def guide(sigma, step, run):
        if (step + 1) / STEPS > ratio:
            return run("positive")[0]
        cond, uncond = run("positive", "negative")
        pred = uncond + guidance_scale * (cond - uncond)
        if normalization:
            pred = pred * (torch.norm(cond, dim=-1, keepdim=True) / torch.norm(pred, dim=-1, keepdim=True))
        return pred
    return guide


def qwen_image_loop(scale):
    """diffusers' QwenImagePipeline true CFG: comb, then each packed token (a frame's 2x2 patch, 16 channels)
    rescaled to the positive's norm."""
    def guide(sigma, step, run):
        pos, neg = run("positive", "negative")
        comb = neg + scale * (pos - neg)
        b, c, t, h, w = comb.shape

        def pack(x):
            return x.view(b, c, t, h // 2, 2, w // 2, 2).permute(0, 2, 3, 5, 1, 4, 6).reshape(b, -1, c * 4)

        packed = pack(comb) * (torch.norm(pack(pos), dim=-1, keepdim=True)
                               / torch.norm(pack(comb), dim=-1, keepdim=True))
        return packed.view(b, t, h // 2, w // 2, c, 2, 2).permute(0, 4, 1, 2, 5, 3, 6).reshape(b, c, t, h, w)
    return guide


def wan22_loop(guide_scale, truncate_steps):
    """Wan 2.2's generate loop with the write-up's --cfg_truncate_steps: the negative alone on the last N steps."""
    def guide(sigma, step, run):
        if step >= STEPS - truncate_steps:
            return run("negative")[0]
        cond, uncond = run("positive", "negative")
        return uncond + guide_scale * (cond - uncond)
    return guide


def with_recipe(model, conds, settings):
    """The pack's nodes as the recipe sets them: CFG Renorm where it needs one, then the Truncated CFG Guider."""
    if settings.renorm:
        model = TruncatedCFGRenorm.execute(model, settings.renorm_cfg, settings.renorm_mode).result[0]
    return truncated_guider(model, conds, cfg=settings.cfg, **settings.truncation)


def assert_same_run(model, conds, settings, guide, sampler="euler", batch=1, image=False, steps=STEPS):
    """``image``: the model takes (B, 16, H, W) latents (Lumina 2, Z-Image), not Wan's (B, 16, T, H, W)."""
    sigmas = schedule(model, steps)
    lat = {"samples": torch.zeros(batch, 16, 8, 8)} if image else None
    with count_rows(model) as official_rows:
        expected = sample_custom_advanced(OfficialLoop(model, conds, sigmas, guide), sampler, batch, sigmas, lat)
    guider = with_recipe(model, conds, settings)
    with count_rows(model) as ours:
        out = sample_custom_advanced(guider, sampler, batch, sigmas, lat)
    # To 1e-5 of the latent's scale: the pack mixes in x0 as ComfyUI does, the loops in the model's output space.
    torch.testing.assert_close(out, expected, rtol=1e-5, atol=1e-5 * float(expected.abs().max()))
    assert sum(ours) == sum(official_rows) == guider.controller.last_ledger.model_calls * batch  # rows per branch
    return guider.controller.last_ledger, expected


@pytest.mark.parametrize("g, c, k", [(3.0, 1.0, 0.0), (4.0, 0.55, 1.0), (5.0, 0.9, 1.02)])
def test_z_image_official_loop(wan_model, wan_conds, g, c, k):
    settings = recipes.z_image(g, cfg_truncation=c, cfg_normalization=k)
    ledger, expected = assert_same_run(wan_model, wan_conds, settings, z_image_loop(g, c, k), batch=2)
    sigmas = [float(s) for s in schedule(wan_model, STEPS)]
    assert ledger.truncated_steps == [i for i in range(STEPS) if z_image_t_norm(sigmas[i]) > c]
    if k:  # the cap engaged: without it the picture differs
        _, uncapped = assert_same_run(wan_model, wan_conds, recipes.z_image(g, c), z_image_loop(g, c, 0.0), batch=2)
        assert not torch.allclose(uncapped, expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("sampler", ["euler", "res_multistep"])
def test_z_image_official_loop_on_the_z_image_architecture(z_image_model, sampler):
    from devtools.checkpoints import z_image_conditioning

    conds = z_image_conditioning(1), z_image_conditioning(2)
    ledger, _ = assert_same_run(z_image_model, conds, recipes.z_image(4.0, 0.6, 1.0), z_image_loop(4.0, 0.6, 1.0),
                                sampler=sampler, image=True)
    assert ledger.truncated_steps and ledger.model_calls_saved > 0


@pytest.mark.parametrize("steps", [12, 20])
def test_z_image_at_its_boundary_matches_the_official_loop_on_the_z_image_architecture(z_image_model, steps):
    """c 0.5 on ComfyUI's simple schedule at shift 3 lands on sigma 0.5 exactly at these step counts: Z-Image guides
    that step, and so must the pack (the same latents and model calls)."""
    from devtools.checkpoints import z_image_conditioning

    sigmas = [float(s) for s in schedule(z_image_model, steps)]
    assert 0.5 in sigmas
    conds = z_image_conditioning(1), z_image_conditioning(2)
    ledger, _ = assert_same_run(z_image_model, conds, recipes.z_image(4.0, 0.5, 1.0), z_image_loop(4.0, 0.5, 1.0),
                                image=True, steps=steps)
    assert sigmas.index(0.5) not in ledger.truncated_steps
    assert ledger.truncated_steps == list(range(sigmas.index(0.5) + 1, steps))


@pytest.mark.parametrize("cfg_trunc, renorm_cfg", [(0.25, 1.0), (1.0, 1.0), (0.6, 0.0)])
def test_lumina2_official_loop(lumina_model, cfg_trunc, renorm_cfg):
    from devtools.checkpoints import lumina2_conditioning

    conds = lumina2_conditioning(1), lumina2_conditioning(2)
    assert_same_run(lumina_model, conds, recipes.lumina2(4.0, cfg_trunc, renorm_cfg),
                    lumina2_loop(4.0, cfg_trunc, renorm_cfg), image=True)


@pytest.mark.parametrize("ratio, normalization", [(0.25, False), (0.5, True), (1.0, True)])
def test_lumina2_diffusers_loop(wan_model, wan_conds, ratio, normalization):
    assert_same_run(wan_model, wan_conds, recipes.lumina2_diffusers(4.0, ratio, normalization),
                    lumina2_diffusers_loop(4.0, ratio, normalization), batch=2)


def test_qwen_image_true_cfg_loop(wan_model, wan_conds):
    ledger, _ = assert_same_run(wan_model, wan_conds, recipes.qwen_image(4.0), qwen_image_loop(4.0), batch=2)
    assert ledger.truncated_steps == []


@pytest.mark.parametrize("truncate_steps", [0, 2])
def test_wan22_loop_with_the_write_ups_truncation(wan_model, wan_conds, truncate_steps):
    ledger, _ = assert_same_run(wan_model, wan_conds, recipes.wan22(5.0, truncate_steps),
                                wan22_loop(5.0, truncate_steps), batch=2)
    assert ledger.truncated_steps == list(range(STEPS - truncate_steps, STEPS))
