"""The official recipes in the pack's terms (sampling/recipes.py): the mapping each one spells out, and that every
input it sets is a valid policy."""
import pytest

from sampling import recipes
from sampling.guidance import RENORM
from sampling.policy import TruncationPolicy


@pytest.mark.parametrize("settings, expected", [
    (recipes.z_image(3.0), recipes.Settings(4.0)),  # core's template: g 3, nothing else
    (recipes.z_image(4.0, cfg_truncation=0.6, cfg_normalization=1.0), recipes.Settings(5.0, {"sigma_low": 0.4}, 1.0)),
    (recipes.z_image(5.0, cfg_truncation=1.0, cfg_normalization=True), recipes.Settings(6.0, {}, 1.0)),
    (recipes.lumina2(4.0, cfg_trunc=0.25), recipes.Settings(4.0, {"sigma_low": 0.75}, 1.0)),
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


def test_a_truncation_of_1_or_more_is_off_as_in_the_official_code():
    assert recipes.z_image(4.0, cfg_truncation=1.5).truncation == {} == recipes.lumina2(4.0, 1.0, 0.0).truncation
    assert not recipes.lumina2(4.0, 1.0, 0.0).renorm
