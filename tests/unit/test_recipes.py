"""The official recipes in the pack's terms (sampling/recipes.py): the mapping each one spells out, and that every
input it sets is a valid policy."""
import pytest

from sampling import recipes
from sampling.guidance import RENORM
from sampling.policy import TruncationPolicy


@pytest.mark.parametrize("settings, expected", [
    (recipes.z_image(3.0), recipes.Settings(4.0)),  # core's template: g 3, nothing else
    (recipes.z_image(4.0, cfg_truncation=0.6, cfg_normalization=1.0),
     recipes.Settings(5.0, {"z_image_cfg_truncation": 0.6}, 1.0)),
    (recipes.z_image(5.0, cfg_truncation=1.0, cfg_normalization=True), recipes.Settings(6.0, {}, 1.0)),
    (recipes.lumina2(4.0, cfg_trunc=0.25), recipes.Settings(4.0, {"lumina_cfg_trunc": 0.25}, 1.0)),
    (recipes.lumina2(4.0), recipes.Settings(4.0, {}, 1.0)),  # cfg_trunc 100, forward_with_cfg's default
    (recipes.lumina2_diffusers(4.0, 0.25), recipes.Settings(4.0, {"cfg_trunc_ratio": 0.25})),
    (recipes.lumina2_diffusers(4.0, 1.0, True), recipes.Settings(4.0, {}, renorm_mode="diffusers")),
    (recipes.qwen_image(4.0), recipes.Settings(4.0, renorm_mode="qwen_image")),
    (recipes.wan22(5.0), recipes.Settings(5.0)),
    (recipes.wan22(5.0, cfg_truncate_steps=5), recipes.Settings(5.0, {"cfg_truncate_steps": 5, "keep": "uncond"})),
])
def test_each_recipe_maps_the_official_parameters_as_documented(settings, expected):
    assert settings == expected
    TruncationPolicy(**settings.truncation)
    assert settings.renorm_mode in RENORM and settings.renorm == (settings.renorm_cfg > 0 or
                                                                  settings.renorm_mode != "lumina")


def test_a_truncation_past_every_time_is_off_as_in_the_official_code():
    """Z-Image applies c only when c <= 1 and t_norm never exceeds 1; Lumina's t never reaches a c above 1. Lumina's
    c = 1 stays a rule: forward_with_cfg would not guide a step whose t rounds to 1 (sigma below 3e-8)."""
    assert recipes.z_image(4.0, cfg_truncation=1.5).truncation == {} == recipes.z_image(4.0, 1.0).truncation
    assert recipes.lumina2(4.0, 1.5, 0.0).truncation == {} and not recipes.lumina2(4.0, 1.5, 0.0).renorm
    one = TruncationPolicy(**recipes.lumina2(4.0, 1.0, 0.0).truncation)
    assert one.static_reasons(0, [1e-3, 0.0]) == () and one.static_reasons(0, [1e-9, 0.0]) == ("lumina_cfg_trunc",)
