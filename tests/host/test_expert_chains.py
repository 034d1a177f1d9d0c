"""Wan A14B Experts: every expert keeps its own chain. What the nodes before the Experts node put on one expert's
model (a DIFFUSION_MODEL wrapper, a model_function_wrapper, an attention override, a post-CFG hook, core EasyCache
or LazyCache) acts on that expert's calls, every one of them, and on no other; what the nodes after it put on the
combined model acts on both; and the pack's ledger still counts what each network ran."""
import logging

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.patcher_extension  # noqa: E402
from sampling_support import count_rows, ksampler, patched_model  # noqa: E402

from devtools.checkpoints import wan_conditioning  # noqa: E402
from devtools.core_nodes import with_step_cache  # noqa: E402
from truncated_cfg.nodes.models.wan_a14b import WanA14BExperts  # noqa: E402
from sampling_support import controller_of  # noqa: E402

CONDS = (wan_conditioning(1), wan_conditioning(2))
STEPS = 8
BOUNDARY = 0.7
WrappersMP = comfy.patcher_extension.WrappersMP


def combine(high, low, boundary=BOUNDARY):
    return WanA14BExperts.execute(high, low, "t2v", boundary).result[0]


class Counter:
    """Patches that count the calls they see, each as the node that puts it on a model would add it."""

    def __init__(self):
        self.calls = {}

    def bump(self, name):
        self.calls[name] = self.calls.get(name, 0) + 1

    def diffusion_model_wrapper(self, model, name):
        def wrapper(executor, *args, **kwargs):
            self.bump(name)
            return executor(*args, **kwargs)
        patched = model.clone()
        patched.add_wrapper_with_key(WrappersMP.DIFFUSION_MODEL, name, wrapper)
        return patched

    def function_wrapper(self, model, name):
        def wrapper(apply_model, args):
            self.bump(name)
            return apply_model(args["input"], args["timestep"], **args["c"])
        patched = model.clone()
        patched.set_model_unet_function_wrapper(wrapper)
        return patched

    def attention_override(self, model, name):
        def override(func, *args, **kwargs):
            self.bump(name)
            return func(*args, **kwargs)
        patched = model.clone()
        patched.model_options["transformer_options"]["optimized_attention_override"] = override
        return patched

    def post_cfg(self, model, name):
        def hook(args):
            self.bump(name)
            return args["denoised"]
        patched = model.clone()
        patched.set_model_sampler_post_cfg_function(hook)
        return patched


def calls_by_expert(experts, model, policy=None):
    """Sampler calls routed to each expert in one KSampler run (from the pack's ledger on a patched model)."""
    patched = patched_model(model, **(policy or {}))
    with count_rows(experts[0], [e.model.diffusion_model for e in experts]) as rows:
        ksampler(patched, CONDS, 1, "euler", steps=STEPS)
    ledger = controller_of(patched).last_ledger
    return ledger, sum(rows)


@pytest.mark.parametrize("patch", ["diffusion_model_wrapper", "function_wrapper", "post_cfg"])
def test_a_patch_on_one_expert_acts_on_every_call_of_that_expert_and_no_other(wan_experts, patch):
    counter = Counter()
    high = getattr(counter, patch)(wan_experts[0], "high")
    low = getattr(counter, patch)(wan_experts[1], "low")
    ledger, rows = calls_by_expert(wan_experts, combine(high, low))
    per_expert = {e: sum(s.sampler_calls for s in ledger.steps if s.expert == e) for e in ("high", "low")}
    assert per_expert["high"] > 0 and per_expert["low"] > 0
    assert counter.calls == per_expert  # one network call per sampler call: both branches batched
    assert rows == ledger.model_calls


def test_an_attention_override_on_the_low_noise_model_runs_on_its_calls_only(wan_experts):
    counter = Counter()
    low = counter.attention_override(wan_experts[1], "low")
    high_only = combine(wan_experts[0], wan_experts[1])
    both = combine(wan_experts[0], low)
    calls_by_expert(wan_experts, high_only)
    assert counter.calls == {}
    ledger, _ = calls_by_expert(wan_experts, both)
    low_calls = sum(s.sampler_calls for s in ledger.steps if s.expert == "low")
    assert counter.calls["low"] >= low_calls > 0  # each block's attention asks it


def test_a_patch_after_the_experts_node_acts_on_both_experts(wan_experts):
    counter = Counter()
    model = counter.diffusion_model_wrapper(combine(wan_experts[0], wan_experts[1]), "both")
    ledger, _ = calls_by_expert(wan_experts, model)
    assert counter.calls == {"both": ledger.sampler_calls}


@pytest.mark.parametrize("name", ["EasyCache", "LazyCache"])
def test_a_step_cache_on_the_low_noise_model_caches_its_calls_and_the_ledger_counts_them(wan_experts, name):
    low = with_step_cache(wan_experts[1], name, 3.0, 0.0, 1.0)
    model = combine(wan_experts[0], low, boundary=0.99)  # most steps on the low-noise expert
    ledger, rows = calls_by_expert(wan_experts, model, {"cfg_truncate_steps": 0})
    assert rows == ledger.model_calls
    cached_low = sum(s.model_calls_cached for s in ledger.steps if s.expert == "low")
    cached_high = sum(s.model_calls_cached for s in ledger.steps if s.expert == "high")
    assert cached_low > 0 and cached_high == 0


def test_one_pass_still_equals_the_native_graph_with_a_wrapper_on_each_expert(wan_experts):
    """The wrappers change nothing here; the routing through both chains keeps the result."""
    counter = Counter()
    plain = ksampler(combine(wan_experts[0], wan_experts[1]), CONDS, 1, "euler", steps=STEPS)
    wrapped = combine(counter.diffusion_model_wrapper(wan_experts[0], "high"),
                      counter.diffusion_model_wrapper(wan_experts[1], "low"))
    assert torch.equal(ksampler(wrapped, CONDS, 1, "euler", steps=STEPS), plain)


def test_what_the_low_noise_model_cannot_do_in_one_pass_is_named_when_the_graph_runs(wan_experts, caplog):
    low = wan_experts[1].clone()
    low.add_wrapper_with_key(WrappersMP.SAMPLER_SAMPLE, "my_sampler_wrapper",
                             lambda executor, *args, **kwargs: executor(*args, **kwargs))
    low.model_options["denoise_mask_function"] = lambda sigma, mask, extra_options: mask
    with caplog.at_level(logging.WARNING):
        ksampler(combine(wan_experts[0], low), CONDS, 1, "euler", steps=2)
    (warning,) = [r.getMessage() for r in caplog.records if "low-noise model's" in r.getMessage()]
    assert "sampler_sample wrapper 'my_sampler_wrapper'" in warning and "'denoise_mask_function'" in warning
