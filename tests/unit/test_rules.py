"""The table of truncation inputs (sampling/rules.py): what the nodes declare, tests and tools switch off, and the
policy checks, all from one row per input."""
import pytest

from sampling.policy import TruncationPolicy
from sampling.rules import CHOICE, FLOAT, INPUTS, INT, OFF, RULES, STATIC_RULES, TEXT

# Saved graphs (workflows, API prompts, blueprints) store the nodes' widget values by position: the inputs that
# were ever released keep their places, and a new one comes after them.
RELEASED = ("cfg_truncate_steps", "cfg_trunc_ratio", "keep", "cfg_low_noise", "sigma_low", "sigma_high",
            "adaptive_threshold", "cfg_every", "reuse_refresh", "adaptive_decay", "step_cache", "cfg_schedule",
            "z_image_cfg_truncation", "lumina_cfg_trunc")


def test_released_inputs_keep_their_places():
    assert tuple(row.name for row in INPUTS[:len(RELEASED)]) == RELEASED


def test_every_input_off_is_the_policy_with_nothing_given_and_truncates_nothing():
    assert TruncationPolicy(**OFF) == TruncationPolicy()
    schedule = [1.0 - i / 10 for i in range(11)]
    assert all(TruncationPolicy(**OFF).static_reasons(i, schedule) == () for i in range(10))
    assert TruncationPolicy(**OFF).resuming_rules(two_experts=True) == ""


def test_the_node_defaults_are_a_valid_policy():
    TruncationPolicy(**{row.name: row.default for row in INPUTS})


@pytest.mark.parametrize("row", INPUTS, ids=lambda row: row.name)
def test_each_row_declares_a_widget_users_can_read(row):
    assert row.tooltip and row.type in (INT, FLOAT, CHOICE, TEXT)
    if row.type == CHOICE:
        assert row.default in row.choices and row.off in row.choices
    elif row.type == TEXT:
        assert isinstance(row.default, str) and isinstance(row.off, str)
    else:
        assert row.minimum <= row.default <= row.maximum and row.minimum <= row.off <= row.maximum
        assert isinstance(row.default, int) == (row.type == INT)
    assert row.accepts(row.default) and row.accepts(row.off)


def test_the_required_inputs_come_first():
    required = [row.required for row in INPUTS]
    assert required == sorted(required, reverse=True) and any(required)


def test_rules_are_the_rows_that_decide_which_steps_run_full_cfg():
    assert {row.name for row in RULES} == {"cfg_truncate_steps", "cfg_trunc_ratio", "sigma_low", "sigma_high",
                                          "adaptive_threshold", "cfg_every", "reuse_refresh", "adaptive_decay",
                                          "cfg_schedule", "z_image_cfg_truncation", "lumina_cfg_trunc"}
    assert set(STATIC_RULES) <= set(RULES)
