import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from sampling.schedule import schedule_values, step_count, step_of_sigma

SCHEDULE = [1.0, 0.8, 0.5, 0.2, 0.0]


def test_schedule_points_map_to_their_own_step():
    for i in range(4):
        assert step_of_sigma(SCHEDULE, SCHEDULE[i]) == i


def test_calls_between_points_belong_to_the_step_they_sit_in():
    assert step_of_sigma(SCHEDULE, 0.9) == 0
    assert step_of_sigma(SCHEDULE, 0.6) == 1
    assert step_of_sigma(SCHEDULE, 0.01) == 3


def test_corrector_at_next_point_is_decided_as_the_next_step():
    # heun evaluates sigmas[i + 1] as the corrector of step i; that call is step i + 1's.
    assert step_of_sigma(SCHEDULE, 0.8) == 1


def test_out_of_range_sigmas_clamp_to_the_nearest_step():
    assert step_of_sigma(SCHEDULE, 1.3) == 0  # churned sigma_hat above the schedule
    assert step_of_sigma([1.0, 0.5, 0.1], 0.1) == 1  # a call at the last (non-zero) sigma


def test_non_monotonic_schedule_takes_the_first_interval_then_the_nearest_start():
    assert step_of_sigma([1.0, 0.2, 0.6, 0.0], 0.65) == 0
    assert step_of_sigma([1.0, 0.2, 0.6, 0.0], 0.1) == 2
    assert step_of_sigma([0.2, 0.6, 0.5], 0.3) == 0  # inside no interval


def test_nan_and_empty_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="NaN"):
        step_of_sigma(SCHEDULE, math.nan)
    with pytest.raises(ValueError, match="no steps"):
        step_of_sigma([1.0], 0.5)
    with pytest.raises(ValueError, match="NaN at position 1"):
        schedule_values([1.0, math.nan, 0.0])


def test_tensor_schedule_reads_as_floats():
    values = schedule_values(torch.tensor([14.6, 3.0, 0.0]))
    assert values == pytest.approx([14.6, 3.0, 0.0])
    assert step_count(values) == 2 and step_count([]) == 0


descending = st.lists(st.floats(min_value=1e-4, max_value=100.0), min_size=1, max_size=60, unique=True).map(
    lambda xs: sorted(xs, reverse=True) + [0.0])


@settings(max_examples=300, deadline=None)
@given(descending, st.floats(min_value=0.0, max_value=1.0))
def test_every_sigma_inside_the_schedule_lands_in_its_interval(schedule, u):
    sigma = schedule[-1] + u * (schedule[0] - schedule[-1])
    if sigma <= schedule[-1]:
        sigma = schedule[0]
    i = step_of_sigma(schedule, sigma)
    assert schedule[i] >= sigma > schedule[i + 1]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(min_value=0.0, max_value=50.0), min_size=2, max_size=40),
       st.floats(min_value=-10.0, max_value=100.0))
def test_any_schedule_gives_one_valid_step(schedule, sigma):
    # Duplicates, rises and zero-length steps included: always one step in range, never an error.
    assert 0 <= step_of_sigma(schedule, sigma) < len(schedule) - 1
