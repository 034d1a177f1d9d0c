"""Every architecture core's templates run with full CFG (devtools/architectures.py), with the guider and with the
model patch: every rule off equals core bit for bit, a truncated step is one model call at cfg 1, a reuse step is
one call with cond + (cfg - 1) * delta_hat. Each model is core's own class at a small width; architectures the
host lacks skip with that reason."""
import contextlib

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.utils  # noqa: E402
from sampling_support import (CFG, CfgSpy, ReferenceGuider, check_reuse_steps, patched_model,  # noqa: E402
                              sample_custom_advanced, schedule, truncated_guider)

from devtools import architectures  # noqa: E402
from devtools.core_nodes import cfg_guider  # noqa: E402
from sampling_support import controller_of  # noqa: E402

STEPS = 4
BATCH = 2
VIAS = ["guider", "patch"]


@pytest.fixture(autouse=True)
def quiet():
    comfy.utils.PROGRESS_BAR_ENABLED = False
    yield
    comfy.utils.PROGRESS_BAR_ENABLED = True


@pytest.fixture(scope="module", params=[a.name for a in architectures.ARCHITECTURES])
def arch(request):
    """(architecture, its model, (positive, negative)), built once per module."""
    spec = architectures.BY_NAME[request.param]
    if spec.missing():
        pytest.skip(spec.missing())
    return spec, architectures.build(spec), (architectures.conditioning(spec, 1), architectures.conditioning(spec, 2))


@contextlib.contextmanager
def rows_at_the_network(model):
    """Batch rows each call of the diffusion model computed (its forward, whatever it runs inside)."""
    rows = []
    # An audio-video model answers a list, one tensor per stream.
    handle = model.model.diffusion_model.register_forward_hook(
        lambda mod, args, out: rows.append((out[0] if isinstance(out, (list, tuple)) else out).shape[0]))
    try:
        yield rows
    finally:
        handle.remove()


def streams(latent) -> tuple:
    """A latent's tensors: an audio-video model's two streams, else the one."""
    return tuple(latent.unbind()) if latent.is_nested else (latent,)


def equal(a, b) -> bool:
    return all(torch.equal(x, y) for x, y in zip(streams(a), streams(b), strict=True))


def run(guider, spec, model):
    sigmas = schedule(model, STEPS)
    with rows_at_the_network(model) as rows:
        out = sample_custom_advanced(guider, "euler", BATCH, sigmas, architectures.empty_latent(spec, BATCH))
    assert all(torch.isfinite(stream).all() for stream in streams(out))
    return out, sum(rows)


def policy_guider(via, model, conds, **policy):
    """The pack's policy on ``model`` through the guider, or through the model patch under core's CFGGuider (as
    KSampler runs a patched model); (guider, the ledger's owner)."""
    if via == "guider":
        guider = truncated_guider(model, conds, **policy)
        return guider, guider.controller
    patched = patched_model(model, **policy)
    return cfg_guider(patched, *conds, CFG), controller_of(patched)


@pytest.mark.parametrize("via", VIAS)
def test_every_rule_off_equals_core_cfg_bit_for_bit(arch, via):
    spec, model, conds = arch
    expected, core_rows = run(cfg_guider(model, *conds, CFG), spec, model)
    guider, controller = policy_guider(via, model, conds)
    got, rows = run(guider, spec, model)
    assert equal(got, expected)
    assert rows == core_rows == 2 * BATCH * STEPS and controller.last_ledger.truncated_steps == []


@pytest.mark.parametrize("via", VIAS)
def test_a_truncated_step_is_one_model_call_at_cfg_one(arch, via):
    spec, model, conds = arch
    guider, controller = policy_guider(via, model, conds, cfg_truncate_steps=2)
    got, rows = run(guider, spec, model)
    ledger = controller.last_ledger
    assert ledger.truncated_steps == [2, 3] and rows == BATCH * (2 * 2 + 2)
    # Core's sampling_function at cfg 1 on those steps (it skips the negative call there too).
    expected, _ = run(ReferenceGuider(model, *conds, CFG, schedule(model, STEPS), [2, 3]), spec, model)
    assert equal(got, expected)


@pytest.mark.parametrize("via", VIAS)
def test_a_reuse_step_is_one_model_call_with_the_reused_difference(arch, via):
    spec, model, conds = arch
    spy = CfgSpy()
    guider, controller = policy_guider(via, spy.attach(model), conds, cfg_every=2, keep="reuse")
    _, rows = run(guider, spec, model)
    ledger = controller.last_ledger
    assert ledger.steps_of_kind("reuse") == [1, 3] and rows == BATCH * (2 + 1 + 2 + 1)
    # Outputs of these random-weight models reach tens; float32 rounding is relative.
    scale = max(float(p.abs().max()) for _, p, _ in spy.pre)
    assert check_reuse_steps(spy, ledger, atol=1e-6 * max(scale, 1.0)) == 2


# Where core's templates keep a sampler's steps and a guider's cfg (widget positions).
STEPS_AT = {"KSampler": 2, "KSamplerAdvanced": 3, "BasicScheduler": 1, "Flux2Scheduler": 0, "Ideogram4Scheduler": 0,
            "LTXVScheduler": 0, "BetaSamplingScheduler": 0}
CFG_AT = {"KSampler": 3, "KSamplerAdvanced": 4, "CFGGuider": 0, "DualModelGuider": 0, "SamplerCustom": 3,
          # A template that switches between recipes (Qwen-Image-Edit 2511: 40 steps at cfg 4, or its lightning LoRA
          # at 4 and 1) feeds the sampler's cfg from primitives.
          "PrimitiveFloat": 0}


def template_nodes(graph) -> list:
    """A template's nodes, those inside its subgraphs too."""
    nodes = list(graph.get("nodes", []))
    for subgraph in graph.get("definitions", {}).get("subgraphs", []):
        nodes += template_nodes(subgraph)
    return nodes


@pytest.mark.parametrize("spec", architectures.ARCHITECTURES, ids=lambda a: a.name)
def test_the_table_s_steps_and_cfg_are_those_of_core_s_template(spec):
    import importlib.util
    import json
    from pathlib import Path

    found = importlib.util.find_spec("comfyui_workflow_templates_json")
    if found is None:
        pytest.skip("this ComfyUI's templates package (comfyui-workflow-templates) is not installed")
    path = Path(found.submodule_search_locations[0]) / "templates" / f"{spec.template}.json"
    if not path.exists():
        pytest.skip(f"this ComfyUI's templates package has no {spec.template} (newer than its release)")
    active = [n for n in template_nodes(json.loads(path.read_text())) if n.get("mode", 0) == 0]
    steps = {n["widgets_values"][STEPS_AT[n["type"]]] for n in active if n["type"] in STEPS_AT}
    cfgs = {float(n["widgets_values"][CFG_AT[n["type"]]]) for n in active if n["type"] in CFG_AT}
    assert spec.steps in steps and spec.cfg in cfgs, (steps, cfgs)


def test_ideogram_4_with_its_unconditional_model_equals_core_dual_model_guider_and_saves_its_calls():
    """Core's Ideogram 4 blueprint: DualModelGuider, the negative branch on the unconditional model with the prompt
    zeroed (ConditioningZeroOut). The pack's guider with model_negative, rules off, equals it; truncated steps
    never call the unconditional model."""
    spec = architectures.BY_NAME["Ideogram 4"]
    if spec.missing():
        pytest.skip(spec.missing())
    from comfy_extras.nodes_custom_sampler import DualModelGuider  # 0.33, as Ideogram 4
    from nodes import ConditioningZeroOut
    from sampling_support import ALL_OFF

    from truncated_cfg.nodes.guider import TruncatedCFGGuider

    model, unconditional = architectures.build(spec, seed=0), architectures.build(spec, seed=1)
    positive = architectures.conditioning(spec, 1)
    negative = ConditioningZeroOut().zero_out(positive)[0]
    expected, _ = run(DualModelGuider.execute(model, positive, 7.0, model_negative=unconditional,
                                              negative=negative).result[0], spec, model)

    def guider(**policy):
        return TruncatedCFGGuider.execute(model, positive, negative, 7.0, model_negative=unconditional,
                                          **{**ALL_OFF, **policy}).result[0]

    assert equal(run(guider(), spec, model)[0], expected)
    truncated = guider(cfg_truncate_steps=2)
    with rows_at_the_network(unconditional) as negative_rows:
        _, rows = run(truncated, spec, model)
    ledger = truncated.controller.last_ledger
    assert ledger.truncated_steps == [2, 3] and sum(negative_rows) == BATCH * 2
    assert (ledger.negative_calls, ledger.negative_calls_core) == (2, STEPS)


def readme_table() -> dict:
    """The README's table of architectures: model name -> its cells by column heading."""
    from devtools.host import PACK_ROOT

    text = (PACK_ROOT / "README.md").read_text()
    lines = text[text.index("| model | core's template |"):].split("\n\n")[0].splitlines()
    heads = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(heads, (c.strip() for c in line.strip("|").split("|")), strict=True)) for line in lines[2:]]
    return {row["model"]: row for row in rows}


def test_the_readme_table_is_the_registry_and_says_what_this_host_runs():
    import comfy.samplers
    from pathlib import Path

    from devtools.host import host_version

    table = readme_table()
    assert list(table) == [a.name for a in architectures.ARCHITECTURES]
    version = host_version(Path(comfy.samplers.__file__).parents[1])
    for spec in architectures.ARCHITECTURES:
        row = table[spec.name]
        assert (row["core's template"], int(row["steps"]), float(row["cfg"])) == (f"`{spec.template}`", spec.steps,
                                                                                  spec.cfg)
        if version in row:
            assert row[version] == ("not in core" if spec.missing() else "tested"), spec.name
