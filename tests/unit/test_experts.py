import pytest

from sampling.experts import HIGH_NOISE, LOW_NOISE, expert_for_sigma, first_low_noise_step, resolve_boundary
from sampling.families import WAN_A14B, wan_a14b_task


def flow_sigmas(shift, steps):
    """Wan's flow schedule (ComfyUI `simple` over shifted flow sigmas, written out as a formula)."""
    ts = [1.0 - i / steps for i in range(steps)]
    return [shift * t / (1 + (shift - 1) * t) for t in ts] + [0.0]


def official(task):
    preset = WAN_A14B[task]
    return preset.boundary, preset.family.shift, preset.family.cfg, preset.cfg_low_noise, preset.family.steps


def test_official_presets():
    assert official("t2v") == (0.875, 12.0, 4.0, 3.0, 40)
    assert official("i2v") == (0.900, 5.0, 3.5, 3.5, 40)


def test_routing_is_by_sigma_with_the_boundary_on_the_high_side():
    assert expert_for_sigma(0.875, 0.875) == HIGH_NOISE
    assert expert_for_sigma(0.8749, 0.875) == LOW_NOISE
    assert expert_for_sigma(14.6, 0.875) == HIGH_NOISE


def test_zero_boundary_means_the_task_default_and_bad_values_are_named():
    assert resolve_boundary("t2v", 0.0) == 0.875 and resolve_boundary("i2v", 0.0) == 0.9
    assert resolve_boundary("t2v", 0.5) == 0.5
    for bad in (1.5, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"boundary must be in \[0, 1\)"):
            resolve_boundary("t2v", bad)
    with pytest.raises(ValueError, match="task must be one of t2v, i2v"):
        wan_a14b_task("ti2v")


def test_split_step_follows_the_official_rule():
    schedule = flow_sigmas(12.0, 40)
    split = first_low_noise_step(schedule, 0.875)
    assert schedule[split - 1] >= 0.875 > schedule[split]
    assert all(expert_for_sigma(schedule[i], 0.875) == HIGH_NOISE for i in range(split))
    assert first_low_noise_step([1.0, 0.95, 0.0], 0.5) == 2  # never below: the whole schedule is high-noise
    assert first_low_noise_step([0.4, 0.2, 0.0], 0.5) == 0
