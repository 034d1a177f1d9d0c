import pytest
import torch
from bad_policy_inputs import BAD_POLICY_INPUTS

from sampling.policy import TruncationPolicy


def truncated(policy, schedule):
    return [i for i in range(len(schedule) - 1) if policy.static_reasons(i, schedule)]


def linear(n):
    return [1.0 - i / n for i in range(n + 1)]


def diffusers_truncated_steps(n, ratio):
    """Lumina2Pipeline's loop, as diffusers writes it."""
    out = []
    for i in range(n):
        do_classifier_free_truncation = (i + 1) / n > ratio
        if do_classifier_free_truncation:
            out.append(i)
    return out


RATIOS = [0.0, 0.01, 0.1, 0.125, 0.2, 0.25, 0.3, 1 / 3, 0.333, 0.5, 0.6, 2 / 3, 0.7, 0.75, 0.8, 0.9, 0.99, 1.0]


@pytest.mark.parametrize("ratio", RATIOS)
def test_cfg_trunc_ratio_truncates_exactly_the_steps_diffusers_truncates(ratio):
    policy = TruncationPolicy(cfg_trunc_ratio=ratio)
    for n in range(1, 101):
        assert truncated(policy, linear(n)) == diffusers_truncated_steps(n, ratio), n


def test_lumina_readme_recommendation_guides_steps_0_to_11_of_50():
    steps = truncated(TruncationPolicy(cfg_trunc_ratio=0.25), linear(50))
    assert steps == list(range(12, 50))
    assert 2 * (50 - len(steps)) + len(steps) == 62  # model calls instead of 100


def test_ratio_one_is_off_and_zero_truncates_everything():
    assert truncated(TruncationPolicy(cfg_trunc_ratio=1.0), linear(30)) == []
    assert truncated(TruncationPolicy(cfg_trunc_ratio=0.0), linear(30)) == list(range(30))


def test_last_n_steps_as_in_the_wan_write_up():
    steps = truncated(TruncationPolicy(cfg_truncate_steps=5), linear(40))
    assert steps == list(range(35, 40))
    assert truncated(TruncationPolicy(cfg_truncate_steps=50), linear(40)) == list(range(40))


def flow_simple_schedule(shift, steps, timesteps=1000):
    """ComfyUI's `simple` scheduler over AuraFlow-style flow sigmas (multiplier 1), written out."""
    t = torch.arange(1, timesteps + 1, 1) / timesteps
    table = shift * t / (1 + (shift - 1) * t)
    stride = len(table) / steps
    return [float(table[-(1 + int(x * stride))]) for x in range(steps)] + [0.0]


def test_sigma_low_reproduces_lumina_official_cfg_trunc():
    schedule = flow_simple_schedule(6.0, 50)
    cfg_trunc = 0.25
    official_guided = [i for i in range(50) if 1.0 - schedule[i] < cfg_trunc]  # t < cfg_trunc, t = 1 - sigma
    policy = TruncationPolicy(sigma_low=1.0 - cfg_trunc)
    guided = [i for i in range(50) if not policy.static_reasons(i, schedule)]
    assert guided == official_guided
    assert len(guided) == 34  # Lumina's demo: shift 6, 50 simple steps, its default 0.25


def test_sigma_window_both_ends():
    schedule = [10.0, 5.0, 2.0, 1.0, 0.5, 0.0]
    policy = TruncationPolicy(sigma_low=0.6, sigma_high=5.0)
    assert truncated(policy, schedule) == [0, 4]
    assert truncated(TruncationPolicy(sigma_high=2.0), schedule) == [0, 1]


def test_window_off_never_truncates_even_zero_length_steps():
    assert truncated(TruncationPolicy(), [1.0, 0.0, 0.0]) == []


def test_rules_combine_by_union_and_name_themselves():
    policy = TruncationPolicy(cfg_truncate_steps=2, cfg_trunc_ratio=0.5)
    schedule = linear(10)
    assert truncated(policy, schedule) == list(range(5, 10))
    assert policy.static_reasons(9, schedule) == ("cfg_truncate_steps", "cfg_trunc_ratio")
    assert policy.static_reasons(5, schedule) == ("cfg_trunc_ratio",)


@pytest.mark.parametrize("inputs, message", BAD_POLICY_INPUTS)
def test_bad_input_names_the_input_and_what_to_give(inputs, message):
    with pytest.raises(ValueError, match=message):
        TruncationPolicy.from_inputs(inputs)


def test_node_inputs_by_name_build_the_policy():
    policy = TruncationPolicy.from_inputs({"cfg_truncate_steps": 0, "cfg_trunc_ratio": 1, "keep": "reuse",
                                           "cfg_every": 4, "reuse_refresh": 0.25, "cfg_low_noise": 3})
    assert policy == TruncationPolicy(cfg_every=4, keep="reuse", reuse_refresh=0.25, cfg_low_noise=3.0)
    assert isinstance(policy.cfg_trunc_ratio, float) and isinstance(policy.cfg_low_noise, float)
    assert policy.keep_mode.learns_guidance and policy.static_reasons(1, linear(8)) == ("cfg_every",)


@pytest.mark.parametrize("text", ["4, 4, 1, 1", "[4.0, 4.0, 1.0, 1.0]", "4 4 1 1", " 4,4,\n1 ,1 "])
def test_cfg_schedule_reads_the_lists_users_paste_and_truncates_its_steps_at_1(text):
    policy = TruncationPolicy(cfg_schedule=text)
    assert truncated(policy, linear(6)) == [2, 3, 4, 5]  # the last value holds after the list ends
    assert policy.static_reasons(2, linear(6)) == ("cfg_schedule",)
    assert truncated(TruncationPolicy(cfg_schedule="4, 1, 3.5, 1, 2"), linear(5)) == [1, 3]


def test_an_empty_cfg_schedule_is_off():
    assert TruncationPolicy(cfg_schedule="") == TruncationPolicy()
    assert truncated(TruncationPolicy(cfg_schedule="  "), linear(4)) == []
