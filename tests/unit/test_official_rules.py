"""Each official truncation rule, restated line by line from its official file (tests/official_code.py), against
the pack's recipe for it: for every step count N in 1..100 and each c on a grid that holds the exact boundaries,
every step decided alike on the official code's own schedule. ComfyUI's own schedules (simple, normal) are the host
tier's (tests/host/test_official_rules_host.py).
"""
import pytest
import torch
from official_code import (C_GRID, STEP_COUNTS, as_schedule, lumina2_diffusers_official_truncated,
                           lumina_official_grid, lumina_official_guided, pack_guided, wan_write_up_official_truncated,
                           z_image_official_guided, z_image_official_sigmas, z_image_official_timesteps)

from sampling import recipes
from sampling.official_rules import lumina_time, z_image_t_norm


@pytest.mark.parametrize("c", C_GRID)
def test_z_image_recipe_decides_every_step_as_zimagepipeline_on_its_own_schedule(c):
    for n in STEP_COUNTS:
        sigmas = z_image_official_sigmas(n)
        official = z_image_official_guided(z_image_official_timesteps(n), c)
        assert pack_guided(recipes.z_image(4.0, cfg_truncation=c), as_schedule(sigmas)) == official, (n, c)


def test_the_z_image_boundary_step_is_guided_and_float32_decides_the_near_misses():
    """The cases the issue named: c 0.5 at N divisible by 4 lands on sigma 0.5 exactly (guided by Z-Image); c 0.6
    at N 11 puts t_norm just above 0.6 in float32 (truncated by Z-Image, though 1 - sigma is not above 0.6)."""
    sigmas = z_image_official_sigmas(20).tolist()
    boundary = sigmas.index(0.5)
    assert z_image_t_norm(0.5) == 0.5 and pack_guided(recipes.z_image(3.0, 0.5), sigmas + [0.0])[boundary]
    assert sum(not g for g in pack_guided(recipes.z_image(3.0, 0.5), sigmas + [0.0])) == 4
    near = [s for s in z_image_official_sigmas(11).tolist() if abs((1 - s) - 0.6) < 1e-6]
    assert len(near) == 1 and not (1 - near[0]) > 0.6 and z_image_t_norm(near[0]) > 0.6
    step = z_image_official_sigmas(11).tolist().index(near[0])
    assert not pack_guided(recipes.z_image(3.0, 0.6), as_schedule(z_image_official_sigmas(11)))[step]


def lumina_grid_as_comfyui_sigmas(num_steps: int) -> tuple[torch.Tensor, list[float]]:
    """The official grid's evaluated times (euler: every point but the last) and the ComfyUI sigmas of those steps,
    1 - t in float32."""
    t = lumina_official_grid(num_steps)[:-1]
    return t, as_schedule(1 - t)


@pytest.mark.parametrize("c", C_GRID)
def test_lumina2_recipe_decides_every_step_as_forward_with_cfg_on_its_own_grid(c):
    """Where the grid's t comes back exactly from its ComfyUI sigma (every t of 0.5 or more, most below), the pack
    decides as forward_with_cfg on the grid's t. Elsewhere no float32 sigma gives NextDiT the grid's t: it gets
    1 - sigma, one rounding away, and the pack decides as forward_with_cfg on that t; the two differ only for c at
    or below 0.5 (docs/official-rules.md counts them)."""
    for n in STEP_COUNTS:
        t, schedule = lumina_grid_as_comfyui_sigmas(n + 1)
        ours = pack_guided(recipes.lumina2(4.0, cfg_trunc=c), schedule)
        for step, (ti, sigma) in enumerate(zip(t, schedule[:-1], strict=True)):
            on_grid = lumina_official_guided(torch.ones(2) * ti, c)
            model_t = torch.ones(2) * lumina_time(sigma)  # what comfy/ldm/lumina/model.py computes: 1.0 - timesteps
            if lumina_time(sigma) == float(ti):
                assert ours[step] == on_grid, (n, c, step)
            else:
                assert ours[step] == lumina_official_guided(model_t, c), (n, c, step)
                assert ours[step] == on_grid or c <= 0.5, (n, c, step)


def test_lumina2_compares_in_float32_and_truncates_the_step_at_the_boundary():
    # t exactly c: forward_with_cfg does not guide (strict); 1 - 0.75 is exact in float32.
    assert pack_guided(recipes.lumina2(4.0, 0.25), [1.0, 0.75, 0.5, 0.0]) == [True, False, False]
    # float32(0.7) = 0.69999998...: a step whose t is that value is not guided (t < cfg_trunc compares in float32),
    # though 0.69999998 < 0.7 in Python floats.
    sigma = float(1 - torch.tensor(0.7, dtype=torch.float32))
    assert lumina_time(sigma) < 0.7 and not lumina_official_guided(torch.tensor([lumina_time(sigma)]), 0.7)
    assert pack_guided(recipes.lumina2(4.0, 0.7), [1.0, sigma, 0.0]) == [True, False]


def test_the_lumina_grid_times_that_no_comfyui_sigma_gives_back_are_below_one_half():
    """What the docs state: only below t = 0.5 can 1 - t miss float32, so only c at or below 0.5 can see it."""
    for n in range(2, 102):
        t, schedule = lumina_grid_as_comfyui_sigmas(n)
        assert all(lumina_time(s) == float(ti) for ti, s in zip(t, schedule[:-1], strict=True) if ti >= 0.5)


@pytest.mark.parametrize("ratio", C_GRID)
def test_lumina2_diffusers_recipe_decides_every_step_as_lumina2pipeline(ratio):
    for n in STEP_COUNTS:
        schedule = [1.0 - i / n for i in range(n + 1)]
        official = [not lumina2_diffusers_official_truncated(i, n, ratio) for i in range(n)]
        assert pack_guided(recipes.lumina2_diffusers(4.0, ratio), schedule) == official, (n, ratio)


@pytest.mark.parametrize("truncate_steps", [0, 1, 2, 5, 10, 50, 100, 101])
def test_wan22_recipe_decides_every_step_as_the_write_up(truncate_steps):
    for n in STEP_COUNTS:
        schedule = [1.0 - i / n for i in range(n + 1)]
        timesteps = [1000 * s for s in schedule[:-1]]
        official = [not wan_write_up_official_truncated(i, timesteps, truncate_steps) for i in range(n)]
        assert pack_guided(recipes.wan22(5.0, truncate_steps), schedule) == official, (n, truncate_steps)
