"""What the pack takes from ComfyUI, checked on every host the tests run on (0.3.64 and 0.33 today).

The other host tests exercise this surface through real sampling; these name it, so that a ComfyUI
release that renames or reorders any of it fails here with the name in the message. The names are
read from the pack's own source, so a new use is covered as soon as it is written.
"""
import importlib
import inspect
import re

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.samplers  # noqa: E402
from comfy_api.latest import ComfyExtension, io  # noqa: E402

from devtools.host import PACK_ROOT  # noqa: E402

SOURCES = sorted((PACK_ROOT / "nodes").rglob("*.py"))
DOTTED = re.compile(r"\b((?:comfy\.[a-z_]+|comfy_execution\.[a-z_]+|folder_paths)(?:\.[A-Za-z_]+)+)")
IO_NAMES = re.compile(r"\bio\.([A-Z][A-Za-z]*)(?:\.([A-Z][A-Za-z]*|[a-z_]+))?")


def references(pattern) -> set[tuple]:
    return {match for path in SOURCES for match in pattern.findall(path.read_text())}


def resolve(dotted: str):
    """Import the longest module prefix of ``dotted``, then walk the attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            target = getattr(target, name)
        return target
    raise ImportError(dotted)


def parameters(fn) -> list[str]:
    return list(inspect.signature(fn).parameters)


def test_the_source_scan_finds_what_the_pack_uses():
    dotted = references(DOTTED)
    assert {"comfy.samplers.calc_cond_batch", "comfy.patcher_extension.WrappersMP.PREDICT_NOISE",
            "comfy.model_management.load_models_gpu", "folder_paths.get_filename_list",
            "comfy_execution.utils.get_executing_context"} <= dotted
    assert ("Guider", "Output") in references(IO_NAMES)


@pytest.mark.parametrize("dotted", sorted(references(DOTTED)))
def test_every_comfy_name_the_pack_uses_exists(dotted):
    resolve(dotted)


@pytest.mark.parametrize("name, member", sorted(references(IO_NAMES)))
def test_every_v3_io_name_the_pack_uses_exists(name, member):
    target = getattr(io, name)
    if member:
        assert hasattr(target, member), f"io.{name}.{member}"


def test_v3_schema_and_extension_take_what_the_pack_gives():
    schema = parameters(io.Schema)
    for field in ("node_id", "display_name", "category", "description", "inputs", "outputs", "hidden"):
        assert field in schema, f"io.Schema lost {field}"
    assert inspect.iscoroutinefunction(ComfyExtension.get_node_list)
    assert io.Hidden.unique_id == "UNIQUE_ID"
    assert parameters(io.NodeOutput)[:1] == ["args"]


def test_the_guider_and_sampling_function_calls_keep_their_order():
    assert parameters(comfy.samplers.CFGGuider.predict_noise)[:5] == ["self", "x", "timestep", "model_options",
                                                                      "seed"]
    assert parameters(comfy.samplers.calc_cond_batch)[:5] == ["model", "conds", "x_in", "timestep", "model_options"]
    assert parameters(comfy.samplers.CFGGuider.outer_sample)[:5] == ["self", "noise", "latent_image", "sampler",
                                                                     "sigmas"]
    assert parameters(comfy.samplers.sampling_function)[:6] == ["model", "x", "timestep", "uncond", "cond",
                                                                "cond_scale"]


def test_the_expert_routing_wraps_wan_forward_with_its_argument_order():
    import comfy.ldm.wan.model

    assert parameters(comfy.ldm.wan.model.WanModel._forward)[:7] == [
        "self", "x", "timestep", "context", "clip_fea", "time_dim_concat", "transformer_options"]


def test_sampling_function_hands_the_calc_function_the_keys_the_pack_reads_and_skips_uncond_at_cfg_1():
    seen = []

    def calc(args):
        seen.append(args)
        return [torch.ones_like(args["input"]) if c is not None else torch.zeros_like(args["input"])
                for c in args["conds"]]

    x = torch.zeros(1, 4)
    for scale in (4.0, 1.0):
        comfy.samplers.sampling_function(None, x, torch.ones(1), [{"u": 1}], [{"c": 1}], scale,
                                         model_options={"sampler_calc_cond_batch_function": calc})
    assert {"conds", "input", "sigma", "model", "model_options"} <= set(seen[0])
    assert [c is None for c in seen[0]["conds"]] == [False, False]
    # ComfyUI's own cfg = 1 step leaves the negative slot empty (zeros come back): the reason a
    # truncated step hands every hook the kept prediction in both slots.
    assert [c is None for c in seen[1]["conds"]] == [False, True]


def test_model_management_keeps_the_interrupt_and_the_loaded_model_list():
    import comfy.model_management

    # 0.3.64 derives it from Exception, 0.33 from BaseException: the pack's run bookkeeping must
    # catch BaseException (and re-raise) to see interrupts on both.
    assert issubclass(comfy.model_management.InterruptProcessingException, BaseException)
    assert isinstance(comfy.model_management.loaded_models(), list)
    assert parameters(comfy.model_management.load_models_gpu)[:1] == ["models"]
