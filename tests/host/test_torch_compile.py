"""Core's TorchCompileModel with the pack: truncated steps give the network a batch of another size (one branch),
so the first run compiles graphs for that size too; a second run compiles nothing new (no recompiles per step)."""
import numpy as np
import torch
from hostenv import require_host

require_host()

import comfy_extras.nodes_torch_compile  # noqa: E402
from sampling_support import ksampler, patched_model  # noqa: E402

from quality.sweep import DEFAULT_WEIGHTS, conditioning, load_harness_model  # noqa: E402

TorchCompileModel = comfy_extras.nodes_torch_compile.TorchCompileModel


def compiled_graphs() -> int:
    return sum(torch._dynamo.utils.counters["stats"].values())


def test_a_second_run_compiles_nothing_new():
    """Reuse with cfg_every: both batch sizes every few steps, the slots filled by the pack (the costliest case)."""

    torch._dynamo.reset()
    model = load_harness_model(DEFAULT_WEIGHTS, 1.0)
    compiled = TorchCompileModel.execute(model, "inductor").result[0]
    patched = patched_model(compiled, cfg_every=2, keep="reuse_extrapolated")
    conds = conditioning(np.arange(2))
    lat = {"samples": torch.zeros(2, 16, 1, 2, 2)}
    first = ksampler(patched, conds, 2, "euler", cfg=2.0, steps=4, lat=lat)
    after_first = compiled_graphs()
    second = ksampler(patched, conds, 2, "euler", cfg=2.0, steps=4, lat=lat)
    assert after_first > 0 and compiled_graphs() == after_first
    assert torch.equal(first, second)
