"""The reuse estimates only the quality harness compares (quality/reuse_estimates.py), against their formulas."""
import torch

from quality.reuse_estimates import (ALPHA_HIGH, ALPHA_LOW, FrequencyMemory, frequency_weighted_difference,
                                     low_frequency_mask, split_frequencies, x0_difference)
from sampling.reuse import GuidanceMemory

G = torch.Generator().manual_seed(0)
X = torch.randn(2, 4, 1, 6, 6, generator=G)
COND = torch.randn(2, 4, 1, 6, 6, generator=G)
UNCOND = torch.randn(2, 4, 1, 6, 6, generator=G)


def sigma(value):
    return torch.full((2,), value)


def remembered(estimate, s, memory_class=GuidanceMemory):
    memory = memory_class(estimate)
    memory.remember(0, X, sigma(s), COND, UNCOND)
    return memory


def test_x0_estimate_holds_the_x0_difference():
    memory = remembered(x0_difference, 0.8)
    torch.testing.assert_close(memory.estimate_uncond(sigma(0.2), COND), UNCOND, rtol=0, atol=1e-6)


def test_frequency_split_adds_up_and_uses_fastercache_radius():
    t = torch.randn(2, 4, 3, 10, 15, generator=G)
    low, high = split_frequencies(t)
    torch.testing.assert_close(low + high, t, rtol=0, atol=1e-5)
    mask = low_frequency_mask(10, 15)
    assert mask.sum() == sum(1 for y in range(10) for x in range(15) if (x - 7) ** 2 + (y - 5) ** 2 <= 4)
    constant = torch.ones(1, 1, 8, 8)
    low, high = split_frequencies(constant)
    torch.testing.assert_close(low, constant, rtol=0, atol=1e-6)  # a constant is all low frequency


def test_frequency_weights_compound_once_per_reuse_step_inside_their_sigma_bands():
    memory = remembered(frequency_weighted_difference, 0.95, FrequencyMemory)
    low, high = split_frequencies((COND - UNCOND) / 0.95)
    memory.observe(1, X, sigma(0.5), COND)  # low band only: 0.099 < 0.5 < 0.901
    memory.observe(1, X, sigma(0.5), COND)  # the same step again: no second weighting
    torch.testing.assert_close(memory.estimate_uncond(sigma(0.5), COND), COND - (ALPHA_LOW * low + high) * 0.5,
                               rtol=1e-5, atol=1e-5)
    memory.estimate_uncond(sigma(0.5), COND)  # asking again changes nothing
    memory.observe(2, X, sigma(0.2), COND)  # both bands
    later = memory.estimate_uncond(sigma(0.2), COND)
    torch.testing.assert_close(later, COND - (ALPHA_LOW ** 2 * low + ALPHA_HIGH * high) * 0.2, rtol=1e-5, atol=1e-5)
    memory.remember(3, X, sigma(0.2), COND, UNCOND)  # a new full step starts the weights over
    torch.testing.assert_close(memory.estimate_uncond(sigma(0.2), COND), UNCOND, rtol=1e-5, atol=1e-5)
