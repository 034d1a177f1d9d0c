"""CFG Renorm on ComfyUI's real sampler: Lumina's formula in model-output space, batches, Wan and Lumina."""
import pytest
import torch
from hostenv import require_host

require_host()

import nodes  # noqa: E402
from comfy_extras.nodes_lumina2 import RenormCFG  # noqa: E402
from sampling_support import CFG, SEED, STEPS  # noqa: E402

from devtools.checkpoints import lumina2_conditioning  # noqa: E402
from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch  # noqa: E402
from truncated_cfg.nodes.renorm import TruncatedCFGRenorm, renorm_post_cfg  # noqa: E402


def lumina_official(guided, cond, k):
    """Lumina-Image-2.0's renorm written per sample, as its batch-1 code does it."""
    out = guided.clone()
    for b in range(guided.shape[0]):
        max_new_norm = torch.linalg.vector_norm(cond[b]) * k
        new_norm = torch.linalg.vector_norm(guided[b])
        if new_norm >= max_new_norm:
            out[b] = guided[b] * (max_new_norm / new_norm)
    return out


def diffusers_normalization(guided, cond):
    return guided * (torch.norm(cond, dim=-1, keepdim=True) / torch.norm(guided, dim=-1, keepdim=True))


def qwen_image_rescale(guided, cond):
    """QwenImagePipeline's rescale on its packed latent (each frame's 2x2 patches of 16 channels, one token each)."""
    b, c, t, h, w = guided.shape

    def pack(x):
        return x.view(b, c, t, h // 2, 2, w // 2, 2).permute(0, 2, 3, 5, 1, 4, 6).reshape(b, t * h * w // 4, c * 4)

    packed_guided, packed_cond = pack(guided), pack(cond)
    rescaled = packed_guided * (torch.norm(packed_cond, dim=-1, keepdim=True)
                                / torch.norm(packed_guided, dim=-1, keepdim=True))
    return rescaled.view(b, t, h // 2, w // 2, c, 2, 2).permute(0, 4, 1, 2, 5, 3, 6).reshape(b, c, t, h, w)


def recording(model, into):
    def post_cfg(args):
        record = {k: args[k].clone() for k in ("denoised", "cond_denoised", "input")}
        into.append(record | {"scale": args["cond_scale"]})
        return args["denoised"]
    patched = model.clone()
    patched.set_model_sampler_post_cfg_function(post_cfg)
    return patched


def sandwich(model, renorm_cfg, mode, before, after, truncate=None):
    """spy -> [truncation] -> CFG Renorm -> spy, so each call's input and output of the renorm are seen."""
    m = recording(model, before)
    if truncate is not None:
        m = TruncatedCFGModelPatch.execute(m, **truncate).result[0]
    m = TruncatedCFGRenorm.execute(m, renorm_cfg, mode).result[0]
    return recording(m, after)


def run(model, conds, batch=2, steps=STEPS, shape=(16, 1, 8, 8)):
    lat = {"samples": torch.zeros((batch,) + shape)}
    return nodes.KSampler().sample(model, SEED, steps, CFG, "euler", "simple", conds[0], conds[1], lat)[0]["samples"]


@pytest.mark.parametrize("k, engages", [(1.0, True), (100.0, False)])
def test_lumina_mode_is_the_official_cap_per_sample_in_model_output_space(wan_model, wan_conds, k, engages):
    before, after = [], []
    run(sandwich(wan_model, k, "lumina", before, after), wan_conds, batch=2)
    assert len(before) == len(after) == STEPS
    capped = 0
    for b, a in zip(before, after, strict=True):
        x = b["input"]
        expected = x - lumina_official(x - b["denoised"], x - b["cond_denoised"], k)
        torch.testing.assert_close(a["denoised"], expected, rtol=1e-5, atol=1e-5)
        capped += int(not torch.equal(a["denoised"], b["denoised"]))
    # k = 1 caps on this model; k = 100 never does, and then ComfyUI's value passes bit for bit.
    assert (capped > 0) == engages


def test_diffusers_mode_rescales_over_the_last_dimension(wan_model, wan_conds):
    before, after = [], []
    run(sandwich(wan_model, 1.0, "diffusers", before, after), wan_conds, batch=2)
    for b, a in zip(before, after, strict=True):
        x = b["input"]
        expected = x - diffusers_normalization(x - b["denoised"], x - b["cond_denoised"])
        torch.testing.assert_close(a["denoised"], expected, rtol=1e-5, atol=1e-5)


def test_qwen_image_mode_rescales_each_packed_token(wan_model, wan_conds):
    before, after = [], []
    run(sandwich(wan_model, 0.0, "qwen_image", before, after), wan_conds, batch=2)
    assert len(after) == STEPS
    for b, a in zip(before, after, strict=True):
        x = b["input"]
        expected = x - qwen_image_rescale(x - b["denoised"], x - b["cond_denoised"])
        torch.testing.assert_close(a["denoised"], expected, rtol=1e-5, atol=1e-5)


def test_renorm_acts_on_full_cfg_steps_only(wan_model, wan_conds):
    before, after = [], []
    run(sandwich(wan_model, 0.5, "lumina", before, after,
                 truncate=dict(cfg_truncate_steps=3, cfg_trunc_ratio=1.0, keep="cond")), wan_conds)
    for step, (b, a) in enumerate(zip(before, after, strict=True)):
        if step >= STEPS - 3:
            assert b["scale"] == 1.0 and torch.equal(a["denoised"], b["denoised"])
        else:
            assert not torch.equal(a["denoised"], b["denoised"])


def test_renorm_zero_is_off_bit_for_bit(wan_model, wan_conds):
    expected = run(wan_model, wan_conds)
    assert torch.equal(run(TruncatedCFGRenorm.execute(wan_model, 0.0, "lumina").result[0], wan_conds), expected)


def test_core_renormcfg_breaks_where_ours_runs(wan_model, wan_conds):
    # The baseline this node replaces: core's RenormCFG raises on Wan (no in_channels) and batch > 1.
    with pytest.raises(Exception):  # noqa: B017 - any failure of core's node is the point
        run(RenormCFG.execute(wan_model, 0.0, 1.0).result[0], wan_conds, batch=2)
    assert torch.isfinite(run(TruncatedCFGRenorm.execute(wan_model, 1.0, "lumina").result[0], wan_conds)).all()


def test_on_lumina2_with_a_batch_of_two(lumina_model):
    conds = lumina2_conditioning(1), lumina2_conditioning(2)
    before, after = [], []
    out = run(sandwich(lumina_model, 1.0, "lumina", before, after), conds, batch=2, steps=2, shape=(16, 8, 8))
    assert torch.isfinite(out).all() and len(after) == 2
    for b, a in zip(before, after, strict=True):
        x = b["input"]
        expected = x - lumina_official(x - b["denoised"], x - b["cond_denoised"], 1.0)
        torch.testing.assert_close(a["denoised"], expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("bad, message", [((1.0, "karras"), "mode must be one of lumina, diffusers"),
                                          ((-1.0, "lumina"), "renorm_cfg must be 0")])
def test_bad_input_is_named(bad, message):
    with pytest.raises(ValueError, match=message):
        renorm_post_cfg(*bad)
