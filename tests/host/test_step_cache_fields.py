"""Each step-cache adapter against the core node it steers, on every host: the holder class it is chosen by, the
wrapper it decides in, and every core field it reads or writes, so that a core rename fails here by name. Also
what the pack cannot steer (an unknown holder, a cache twice, two caches sharing one state), reported once per run.
"""
import logging

import pytest
from hostenv import require_host

require_host()

from sampling_support import ksampler, patched_model  # noqa: E402

from devtools.core_nodes import with_step_cache  # noqa: E402
from truncated_cfg.nodes.step_caches import ADAPTERS, step_cache_of  # noqa: E402
from truncated_cfg.nodes.step_caches.adapter import CORE_HOLDER_KEY, CoreCacheAdapter  # noqa: E402

CORE_ADAPTERS = [adapter for adapter in ADAPTERS if isinstance(adapter, CoreCacheAdapter)]


@pytest.mark.parametrize("adapter", CORE_ADAPTERS, ids=lambda a: a.name)
def test_the_core_node_carries_every_field_the_adapter_uses(wan_model, adapter):
    model = with_step_cache(wan_model, adapter.name, 0.2)
    options = model.model_options["transformer_options"]
    holder = options[adapter.holder_key]
    assert type(holder).__name__ == adapter.holder_class
    for field in adapter.fields:
        assert hasattr(holder, field), f"core {adapter.name}'s holder has no field {field!r} any more"
    assert len(model.get_wrappers(*adapter.decides_in)) == 1, f"core {adapter.name} decides elsewhere now"
    assert step_cache_of(options).adapter is adapter


class UnknownHolder:
    cumulative_change_rate = 0.0


def warnings_of(caplog, model, conds):
    with caplog.at_level(logging.WARNING):
        ksampler(patched_model(model, cfg_truncate_steps=2), conds, 1, steps=4)
    return [r.getMessage() for r in caplog.records if "[Truncated CFG]" in r.getMessage()]


def test_an_unknown_step_cache_is_named_once_per_run(wan_model, wan_conds, caplog):
    model = wan_model.clone()
    model.model_options["transformer_options"][CORE_HOLDER_KEY] = UnknownHolder()
    (warning,) = warnings_of(caplog, model, wan_conds)
    assert "UnknownHolder" in warning and "does not know it" in warning


@pytest.mark.parametrize("name", [a.name for a in CORE_ADAPTERS])
def test_the_same_cache_twice_is_named_once_per_run(wan_model, wan_conds, caplog, name):
    model = with_step_cache(with_step_cache(wan_model, name, 0.2), name, 0.2)
    (warning,) = warnings_of(caplog, model, wan_conds)
    assert f"{name} is on this model twice" in warning


def test_one_cache_alone_is_not_reported(wan_model, wan_conds, caplog):
    assert warnings_of(caplog, with_step_cache(wan_model, "LazyCache", 0.2), wan_conds) == []


def test_two_caches_sharing_one_state_are_named_before_core_fails_on_them(wan_model, wan_conds, caplog):
    """Core's EasyCache then reads LazyCache's state and fails on its own; the pack has said why at the start."""
    model = with_step_cache(with_step_cache(wan_model, "EasyCache", 0.2), "LazyCache", 0.2)
    with pytest.raises(AttributeError, match="LazyCacheHolder"):
        warnings_of(caplog, model, wan_conds)
    warnings = [r.getMessage() for r in caplog.records if "share one state" in r.getMessage()]
    assert len(warnings) == 1 and "EasyCache and LazyCache are both on this model" in warnings[0]
