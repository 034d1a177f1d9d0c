"""A third step cache, as another pack would write one, added through the public seam alone: its node's wrapper and
holder (no field of core's caches), its adapter, ``register``. The pack then coordinates with it and the ledger
counts what it answered, with no change to the run, the controller or the ledger."""
import math

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.patcher_extension  # noqa: E402
from sampling_support import count_rows, sample_custom_advanced, schedule, truncated_guider  # noqa: E402

from truncated_cfg.nodes import step_caches  # noqa: E402
from truncated_cfg.nodes.step_caches.adapter import StepCacheAdapter  # noqa: E402
from truncated_cfg.nodes.step_caches.easycache import EasyCacheAdapter  # noqa: E402

STEPS = 8
REUSE = dict(cfg_every=2, keep="reuse_extrapolated")
HOLDER_KEY = "stride_memory"


class StrideMemory:
    """The cache's state: it answers a branch from its last output until ``patience`` calls have been skipped in a
    row, inside its sigma window."""

    def __init__(self, patience: float, sigma_from: float, sigma_to: float):
        self.patience, self.sigma_from, self.sigma_to = patience, sigma_from, sigma_to
        self.streak = 0.0
        self.last: dict[tuple, torch.Tensor] = {}
        self.answered = 0  # branches it answered, by its own count

    def __deepcopy__(self, memo):
        """One state per node: ComfyUI 0.3.64 deep-copies the model's options for a run, and the test reads this
        count from the model it built."""
        return self


def stride_cache(executor, *args, **kwargs):
    """Its DIFFUSION_MODEL wrapper: a branch it has seen, answered from its last output while the streak is short."""
    options = kwargs.get("transformer_options") or next(a for a in reversed(args) if isinstance(a, dict))
    memory = options[HOLDER_KEY]
    sigma = float(options["sigmas"].flatten()[0])
    branches = tuple(options["cond_or_uncond"])
    last = memory.last.get(branches)
    if (memory.sigma_to < sigma <= memory.sigma_from and memory.streak < memory.patience and last is not None
            and last.shape[0] == args[0].shape[0]):
        memory.streak += 1
        memory.answered += len(branches)
        return last
    out = executor(*args, **kwargs)
    memory.last[branches], memory.streak = out, 0.0
    return out


def with_stride_cache(model, patience: float = 3.0):
    cached = model.clone()
    cached.model_options["transformer_options"][HOLDER_KEY] = StrideMemory(patience, math.inf, 0.0)
    cached.add_wrapper_with_key(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "stride_cache", stride_cache)
    return cached


class StrideAdapter(StepCacheAdapter):
    def in_window(self, holder, sigma: float) -> bool:
        return holder.sigma_to < sigma <= holder.sigma_from

    def force(self, holder) -> float:
        saved, holder.streak = holder.streak, math.inf
        return saved

    def restore(self, holder, saved: float) -> None:
        if holder.streak == math.inf:
            holder.streak = saved


ADAPTER = StrideAdapter(name="StrideCache", node=f"{__name__}:with_stride_cache", holder_key=HOLDER_KEY,
                        holder_class="StrideMemory",
                        decides_in=(comfy.patcher_extension.WrappersMP.DIFFUSION_MODEL, "stride_cache"))


@pytest.fixture
def registered():
    """The adapter registered for one test, the registry as it was afterwards."""
    before = list(step_caches.ADAPTERS)
    step_caches.register(ADAPTER)
    yield ADAPTER
    step_caches.ADAPTERS[:] = before


def run(model, wan_model, wan_conds, **policy):
    guider = truncated_guider(model, wan_conds, **policy)
    with count_rows(wan_model) as rows:
        out = sample_custom_advanced(guider, "euler", 1, schedule(wan_model, STEPS))
    assert torch.isfinite(out).all()
    ledger = guider.controller.last_ledger
    assert sum(rows) == ledger.model_calls  # what the network ran, whatever the cache answered
    return ledger


def test_the_holder_has_none_of_core_s_fields_and_the_seam_finds_it(registered, wan_model):
    options = with_stride_cache(wan_model).model_options["transformer_options"]
    holder = options[HOLDER_KEY]
    assert not [field for field in EasyCacheAdapter.fields if hasattr(holder, field)]
    assert step_caches.step_cache_of(options).adapter is registered
    assert step_caches.notices(options) == []


def test_coordinated_every_full_step_reaches_the_network_and_each_answered_call_is_counted(registered, wan_model,
                                                                                             wan_conds):
    model = with_stride_cache(wan_model)
    ledger = run(model, wan_model, wan_conds, **REUSE)
    memory = model.model_options["transformer_options"][HOLDER_KEY]
    assert [s.index for s in ledger.steps if s.full] == [0, 2, 4, 6]
    assert all(ledger.steps[i].model_calls == 2 and not ledger.steps[i].model_calls_cached for i in (0, 2, 4, 6))
    assert ledger.model_calls_cached == memory.answered > 0
    assert memory.streak != math.inf  # no mark outlived its call


def test_independent_the_cache_decides_alone_and_is_still_counted(registered, wan_model, wan_conds):
    model = with_stride_cache(wan_model)
    ledger = run(model, wan_model, wan_conds, step_cache="independent", **REUSE)
    memory = model.model_options["transformer_options"][HOLDER_KEY]
    assert any(s.full and s.model_calls_cached for s in ledger.steps), "the cache never answered a full step"
    assert ledger.model_calls_cached == memory.answered


def test_unregistered_the_pack_cannot_coordinate_and_full_steps_get_cached(wan_model, wan_conds):
    assert ADAPTER not in step_caches.ADAPTERS
    ledger = run(with_stride_cache(wan_model), wan_model, wan_conds, **REUSE)
    assert any(s.full and s.model_calls_cached for s in ledger.steps)


def test_register_refuses_what_is_not_an_adapter():
    with pytest.raises(TypeError, match="register takes a StepCacheAdapter, not a dict"):
        step_caches.register({"name": "StrideCache"})
