import pytest
import torch

from sampling.guidance import (RENORM, RENORM_MODES, agreement, lumina_renorm_scale, relative_change,
                               renorm_mode)

lumina_renorm = RENORM["lumina"].apply


def diffusers_normalize(guided, cond):
    return RENORM["diffusers"].apply(guided, cond, 0.0)


def qwen_image_rescale(guided, cond):
    return RENORM["qwen_image"].apply(guided, cond, 0.0)


def lumina_reference(guided, cond, k):
    """Lumina's official renorm, one sample at a time (its code handles batch 1 only)."""
    out = []
    for g, c in zip(guided, cond, strict=True):
        max_new_norm = torch.linalg.vector_norm(c) * k
        new_norm = torch.linalg.vector_norm(g)
        out.append(g * (max_new_norm / new_norm) if new_norm >= max_new_norm else g)
    return torch.stack(out)


def cfg(cond: torch.Tensor, uncond: torch.Tensor, scale: float) -> torch.Tensor:
    """Plain classifier-free guidance, in the operation order ComfyUI's cfg_function uses."""
    return uncond + (cond - uncond) * scale


def sample_pair(shape, seed=0):
    g = torch.Generator().manual_seed(seed)
    cond = torch.randn(shape, generator=g)
    uncond = torch.randn(shape, generator=g) * 0.7
    return cond, uncond


@pytest.mark.parametrize("shape", [(1, 4, 8, 8), (3, 16, 2, 6, 6)])
@pytest.mark.parametrize("k", [0.5, 1.0, 1.5])
def test_lumina_renorm_matches_the_official_rule_per_sample(shape, k):
    cond, uncond = sample_pair(shape)
    guided = cfg(cond, uncond, 4.0)
    guided[0] *= 0.01  # one sample below the cap, to check it stays untouched
    torch.testing.assert_close(lumina_renorm(guided, cond, k), lumina_reference(guided, cond, k),
                               rtol=1e-5, atol=1e-5)


def test_lumina_renorm_never_scales_up_and_zero_is_off():
    cond, uncond = sample_pair((2, 4, 4, 4))
    small = cond * 0.1
    assert torch.equal(lumina_renorm(small, cond, 1.0), small)
    guided = cfg(cond, uncond, 5.0)
    assert torch.equal(lumina_renorm(guided, cond, 0.0), guided)
    scale = lumina_renorm_scale(guided, cond, 1.0)
    assert scale.shape == (2, 1, 1, 1) and bool((scale <= 1).all())


def test_lumina_renorm_survives_a_zero_output():
    cond = torch.zeros(2, 4, 4, 4)
    assert torch.equal(lumina_renorm(torch.zeros_like(cond), cond, 1.0), torch.zeros_like(cond))
    assert torch.isfinite(lumina_renorm(torch.ones_like(cond), cond, 1.0)).all()


def test_diffusers_normalize_matches_the_pipeline():
    cond, uncond = sample_pair((2, 16, 8, 8))
    guided = cfg(cond, uncond, 4.0)
    expected = guided * (torch.norm(cond, dim=-1, keepdim=True) / torch.norm(guided, dim=-1, keepdim=True))
    torch.testing.assert_close(diffusers_normalize(guided, cond), expected, rtol=1e-5, atol=1e-6)
    zero = torch.zeros_like(guided)
    assert torch.equal(diffusers_normalize(zero, cond), zero)


def pack_qwen(latents):
    """diffusers' QwenImagePipeline._pack_latents, one frame: (B, C, H, W) -> (B, H/2 * W/2, C * 4)."""
    b, c, h, w = latents.shape
    return latents.view(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)


def unpack_qwen(packed, c, h, w):
    b = packed.shape[0]
    return packed.view(b, h // 2, w // 2, c, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, c, h, w)


def qwen_true_cfg_reference(cond, uncond, scale):
    """QwenImagePipeline's true CFG on packed latents: comb = neg + s (pos - neg), then comb * |pos| / |comb| per
    token (the last axis)."""
    noise_pred, neg_noise_pred = pack_qwen(cond), pack_qwen(uncond)
    comb_pred = neg_noise_pred + scale * (noise_pred - neg_noise_pred)
    cond_norm = torch.norm(noise_pred, dim=-1, keepdim=True)
    noise_norm = torch.norm(comb_pred, dim=-1, keepdim=True)
    return unpack_qwen(comb_pred * (cond_norm / noise_norm), *cond.shape[1:])


@pytest.mark.parametrize("shape", [(2, 16, 8, 8), (1, 16, 6, 10)])
def test_qwen_image_rescale_matches_the_pipeline_per_packed_token(shape):
    cond, uncond = sample_pair(shape)
    guided = cfg(cond, uncond, 4.0)
    ours = qwen_image_rescale(guided, cond)
    torch.testing.assert_close(ours, qwen_true_cfg_reference(cond, uncond, 4.0), rtol=1e-5, atol=1e-5)


def test_qwen_image_rescale_per_frame_and_padded_sides():
    cond, uncond = sample_pair((2, 16, 3, 6, 8))
    guided = cfg(cond, uncond, 3.0)
    ours = qwen_image_rescale(guided, cond)
    for t in range(3):  # ComfyUI's Qwen-Image packs each frame's 2x2 patches into tokens
        torch.testing.assert_close(ours[:, :, t], qwen_true_cfg_reference(cond[:, :, t], uncond[:, :, t], 3.0),
                                   rtol=1e-5, atol=1e-5)
    # An odd side: the model pads with zeros before packing, which adds nothing to a token's norm.
    odd_cond, odd_uncond = cond[:, :, 0, :5, :7], uncond[:, :, 0, :5, :7]
    odd_guided = cfg(odd_cond, odd_uncond, 3.0)
    padded = torch.nn.functional.pad
    expected = qwen_true_cfg_reference(padded(odd_cond, (0, 1, 0, 1)), padded(odd_uncond, (0, 1, 0, 1)), 3.0)
    torch.testing.assert_close(qwen_image_rescale(odd_guided, odd_cond),
                               expected[..., :5, :7], rtol=1e-5, atol=1e-5)
    zero = torch.zeros(1, 16, 4, 4)
    assert torch.equal(RENORM["qwen_image"].scale(zero, torch.ones_like(zero), 0.0), torch.ones_like(zero))


def test_renorm_modes_are_one_registry_that_refuses_unknown_names():
    assert RENORM_MODES == tuple(RENORM) and RENORM_MODES[0] == "lumina"
    assert [name for name in RENORM_MODES if RENORM[name].takes_renorm_cfg] == ["lumina"]
    for name in RENORM_MODES:
        assert RENORM[name].doc.startswith(f"{name}: ")
    with pytest.raises(ValueError, match="mode must be one of lumina, diffusers, qwen_image"):
        renorm_mode("qwen")


def test_relative_change_and_agreement_per_sample():
    cond, uncond = sample_pair((2, 3, 4, 4))
    rel = relative_change(uncond, cond)
    for b in range(2):
        assert rel[b].item() == pytest.approx(((cond[b] - uncond[b]).norm() / cond[b].norm()).item(), rel=1e-6)
    agree = agreement(cond, torch.stack([cond[0] * 2.0, -cond[1]]))
    assert agree.tolist() == pytest.approx([1.0, -1.0], abs=1e-6)
