"""The Truncated CFG Guider with model_negative: the negative branch on a second model, as core 0.33's
DualModelGuider runs it (Ideogram 4's unconditional model), called only on full-CFG steps."""
import pytest
import torch
from hostenv import require_host

require_host()

from sampling_support import ALL_OFF, CFG, STEPS, count_rows, sample_custom_advanced, schedule  # noqa: E402

from truncated_cfg.nodes.guider import TruncatedCFGGuider, TruncatedDualModelGuider  # noqa: E402


@pytest.fixture(scope="module")
def negative_model(tmp_path_factory):
    """Another Wan checkpoint (another seed): the unconditional model."""
    from devtools.checkpoints import load_model, save_wan

    return load_model(save_wan(tmp_path_factory.mktemp("models") / "wan_uncond_tiny.safetensors", dim=128, layers=2,
                               seed=5))


def dual_guider(model, negative_model, conds, **policy):
    return TruncatedCFGGuider.execute(model, conds[0], conds[1], CFG, model_negative=negative_model,
                                      **{**ALL_OFF, **policy}).result[0]


def rows_per_model(model, negative_model, guider, batch, sigmas, sampler="euler"):
    with count_rows(model) as positive_rows, count_rows(negative_model) as negative_rows:
        out = sample_custom_advanced(guider, sampler, batch, sigmas)
    return out, sum(positive_rows), sum(negative_rows)


@pytest.mark.parametrize("sampler_name", ["euler", "dpmpp_2m", "heun"])
@pytest.mark.parametrize("batch", [1, 2])
def test_every_rule_off_equals_core_dual_model_guider_bit_for_bit(wan_model, negative_model, wan_conds, sampler_name,
                                                                  batch):
    nodes_custom_sampler = pytest.importorskip("comfy_extras.nodes_custom_sampler")
    if not hasattr(nodes_custom_sampler, "DualModelGuider"):
        pytest.skip("this ComfyUI has no DualModelGuider (core added it in 0.33); the guider's two-model runs are "
                    "counted below on every host")
    sigmas = schedule(wan_model)
    core = nodes_custom_sampler.DualModelGuider.execute(wan_model, wan_conds[0], CFG, model_negative=negative_model,
                                                        negative=wan_conds[1]).result[0]
    expected = sample_custom_advanced(core, sampler_name, batch, sigmas)
    guider = dual_guider(wan_model, negative_model, wan_conds)
    got, positive_rows, negative_rows = rows_per_model(wan_model, negative_model, guider, batch, sigmas,
                                                       sampler_name)
    assert torch.equal(got, expected)
    ledger = guider.controller.last_ledger
    assert ledger.truncated_steps == [] and positive_rows == negative_rows == ledger.model_calls * batch // 2


class CoreDualLoop(TruncatedDualModelGuider):
    """Core 0.33's Guider_DualModel.predict_noise written out (each model evaluated alone, then cfg_function), on the
    same preparation of the negative model, without the pack's patch: what the pack is checked against on a host
    whose core has no two-model guider."""

    def __init__(self, model, negative_model, conds):
        super().__init__(model, negative_model, controller=None)
        self.set_conds(*conds)
        self.set_cfg(CFG)

    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 (core's signature)
        import comfy.samplers

        positive = self.conds.get("positive")
        cond = comfy.samplers.calc_cond_batch(self.inner_model, [positive], x, timestep, model_options)[0]
        uncond = comfy.samplers.calc_cond_batch(self.negative_inner, [self.negative_conds], x, timestep,
                                                model_options)[0]
        return comfy.samplers.cfg_function(self.inner_model, cond, uncond, self.cfg, x, timestep,
                                           model_options=model_options, cond=positive, uncond=self.negative_conds)


@pytest.mark.parametrize("sampler_name", ["euler", "dpmpp_2m"])
def test_every_rule_off_equals_core_s_two_model_loop_on_every_host(wan_model, negative_model, wan_conds, sampler_name):
    sigmas = schedule(wan_model)
    expected = sample_custom_advanced(CoreDualLoop(wan_model, negative_model, wan_conds), sampler_name, 2, sigmas)
    assert torch.equal(sample_custom_advanced(dual_guider(wan_model, negative_model, wan_conds), sampler_name, 2,
                                              sigmas), expected)


def test_a_truncated_step_never_calls_the_negative_model(wan_model, negative_model, wan_conds, caplog):
    import logging

    sigmas = schedule(wan_model)
    guider = dual_guider(wan_model, negative_model, wan_conds, cfg_truncate_steps=3)
    assert isinstance(guider, TruncatedDualModelGuider)
    with caplog.at_level(logging.INFO):
        got, positive_rows, negative_rows = rows_per_model(wan_model, negative_model, guider, 2, sigmas)
    ledger = guider.controller.last_ledger
    # Each model's calls, counted by the ledger and said in the log.
    assert (ledger.negative_calls, ledger.negative_calls_core) == (STEPS - 3, STEPS)
    assert (f"the negative model ran {STEPS - 3} model calls (core's DualModelGuider: {STEPS}), the model {STEPS}"
            in caplog.text)
    assert ledger.truncated_steps == [5, 6, 7] and torch.isfinite(got).all()
    assert positive_rows == 2 * STEPS and negative_rows == 2 * (STEPS - 3)
    assert ledger.model_calls == STEPS + (STEPS - 3) and ledger.model_calls_core == 2 * STEPS
    # Truncated steps keep cond: the same as the full steps of the two-model run with the last three at cfg 1.
    full = dual_guider(wan_model, negative_model, wan_conds)
    assert not torch.equal(sample_custom_advanced(full, "euler", 2, sigmas), got)


def test_reuse_calls_the_negative_model_only_on_full_steps_and_keeps_its_guidance(wan_model, negative_model,
                                                                                  wan_conds):
    sigmas = schedule(wan_model)
    guider = dual_guider(wan_model, negative_model, wan_conds, cfg_every=2, keep="reuse")
    got, positive_rows, negative_rows = rows_per_model(wan_model, negative_model, guider, 1, sigmas)
    ledger = guider.controller.last_ledger
    full_steps = [s.index for s in ledger.steps if s.index not in ledger.truncated_steps]
    assert positive_rows == STEPS and negative_rows == len(full_steps) < STEPS
    # The reused guidance is the two models' difference: not the one-model run's.
    one_model = TruncatedCFGGuider.execute(wan_model, wan_conds[0], wan_conds[1], CFG,
                                           **{**ALL_OFF, "cfg_every": 2, "keep": "reuse"}).result[0]
    assert not torch.allclose(sample_custom_advanced(one_model, "euler", 1, sigmas), got)


def test_without_a_negative_prompt_or_model_the_guider_says_what_to_connect(wan_model, wan_conds):
    with pytest.raises(ValueError, match="negative is not connected: connect the negative prompt"):
        TruncatedCFGGuider.execute(wan_model, wan_conds[0], None, CFG, **ALL_OFF)


def test_at_cfg_1_the_negative_model_is_never_loaded_or_called(wan_model, negative_model, wan_conds):
    sigmas = schedule(wan_model)
    guider = TruncatedCFGGuider.execute(wan_model, wan_conds[0], wan_conds[1], 1.0, model_negative=negative_model,
                                        **ALL_OFF).result[0]
    _, positive_rows, negative_rows = rows_per_model(wan_model, negative_model, guider, 1, sigmas)
    assert positive_rows == STEPS and negative_rows == 0


@pytest.mark.parametrize("override_cfg", [1.0, 3.0])
def test_core_s_cfg_override_on_the_model_as_in_core_s_ideogram_blueprint(wan_model, negative_model, wan_conds,
                                                                          override_cfg):
    """CFGOverride over the last part of the schedule on the positive model (core's Ideogram 4 blueprint: cfg 3 over
    0.7-1.0); at cfg 1 its steps run the positive model alone. Equal to core's DualModelGuider on the same graph bit
    for bit, and each model's calls counted."""
    nodes_custom_sampler = pytest.importorskip("comfy_extras.nodes_custom_sampler")
    if not hasattr(nodes_custom_sampler, "DualModelGuider"):
        pytest.skip("this ComfyUI has neither DualModelGuider nor CFGOverride (core added them in 0.33)")
    overridden = nodes_custom_sampler.CFGOverride.execute(wan_model, override_cfg, 0.5, 1.0).result[0]
    sigmas = schedule(wan_model)
    core = nodes_custom_sampler.DualModelGuider.execute(overridden, wan_conds[0], CFG, model_negative=negative_model,
                                                        negative=wan_conds[1]).result[0]
    with count_rows(negative_model) as core_negative_rows:
        expected = sample_custom_advanced(core, "euler", 1, sigmas)
    guider = dual_guider(overridden, negative_model, wan_conds)
    got, positive_rows, negative_rows = rows_per_model(overridden, negative_model, guider, 1, sigmas)
    assert torch.equal(got, expected)
    ledger = guider.controller.last_ledger
    assert negative_rows == sum(core_negative_rows) == ledger.negative_calls == ledger.negative_calls_core
    assert positive_rows == STEPS and (negative_rows < STEPS) == (override_cfg == 1.0)


@pytest.mark.parametrize("cache", ["LazyCache", "EasyCache"])
def test_a_step_cache_on_the_model_with_a_negative_model_is_coordinated_and_each_model_counted(
        wan_model, negative_model, wan_conds, cache):
    """A core cache on the (positive) model, as core's templates put one on the loader's output: coordinating, every
    full step reaches both networks; what each network ran is what the ledger counts for it, the cached calls
    apart. (A cache on the negative model itself is not coordinated: the help page says so.)"""
    from devtools.core_nodes import with_step_cache

    cached = with_step_cache(wan_model, cache, 3.0, 0.0, 1.0)
    sigmas = schedule(wan_model)
    guider = dual_guider(cached, negative_model, wan_conds, cfg_every=2, keep="reuse_extrapolated")
    got, positive_rows, negative_rows = rows_per_model(wan_model, negative_model, guider, 1, sigmas)
    ledger = guider.controller.last_ledger
    assert torch.isfinite(got).all()
    full = [s for s in ledger.steps if s.full]
    assert [s.index for s in full] == [0, 2, 4, 6] and all(s.model_calls == 2 for s in full)
    assert negative_rows == ledger.negative_calls == len(full)
    assert positive_rows + negative_rows == ledger.model_calls
    assert ledger.model_calls_cached > 0
