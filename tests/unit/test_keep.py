"""The keep-mode registry (sampling/keep.py): every mode plans and fills the slots its own way, the node offers
exactly the registry's names, and the step strip has a colour and a legend word for every kind of step."""
import re

import pytest
import torch

from devtools.host import PACK_ROOT
from sampling.keep import KEEP_MODES, keep_mode, kinds
from sampling.ledger import CACHED
from sampling.plan import BOTH, CFG_ONE, FULL, NEGATIVE, POSITIVE, REFRESHED
from sampling.policy import TruncationPolicy
from sampling.rules import BY_NAME
from sampling.run import TruncationRun

SCHEDULE = [1.0, 0.8, 0.6, 0.4, 0.2, 0.0]
STRIP = (PACK_ROOT / "web" / "js" / "step_strip.js").read_text()


def js_table(name: str) -> str:
    return re.search(rf"const {name} = [\[{{](.*?)[\]}}];", STRIP, re.S).group(1)


def test_the_strip_has_a_colour_and_a_legend_word_for_every_kind_a_step_can_have():
    step_kinds = kinds() | {FULL, REFRESHED, CFG_ONE, CACHED}
    colours = set(re.findall(r"(\w+): \"#[0-9a-fA-F]{6}\"", js_table("COLORS"))) - {"empty"}
    legend = dict(re.findall(r'\["(\w+)", "([^"]+)"\]', js_table("LEGEND")))
    assert colours == step_kinds
    assert set(legend) == step_kinds and all(legend.values())


def test_the_keep_input_offers_the_registry_in_its_order_and_describes_every_mode():
    row = BY_NAME["keep"]
    assert row.choices == tuple(KEEP_MODES)
    assert all(f"{name}: {mode.description}" in row.tooltip for name, mode in KEEP_MODES.items())


def test_an_unknown_mode_is_refused_by_name():
    with pytest.raises(ValueError, match=f"keep must be one of {', '.join(KEEP_MODES)}, got 'both'"):
        keep_mode("both")


@pytest.mark.parametrize("name", sorted(KEEP_MODES))
def test_each_mode_runs_its_own_branch_at_its_own_scale(name):
    mode = KEEP_MODES[name]
    run = TruncationRun(TruncationPolicy(cfg_every=2, keep=name), SCHEDULE)
    x, cond, uncond = torch.zeros(1, 4), torch.ones(1, 4), -torch.ones(1, 4)
    first = run.plan(1.0, 4.0)
    run.complete(first, x, torch.tensor([1.0]), [cond, uncond], BOTH)
    plan = run.plan(0.8, 4.0)
    assert plan.keep is mode and plan.kind == mode.kind and plan.branches == (mode.branch,)
    assert plan.scale == (4.0 if mode.learns_guidance else 1.0)
    outputs = [cond * 2, torch.zeros(1, 4)] if mode.branch == POSITIVE else [torch.zeros(1, 4), uncond * 2]
    slots = run.complete(plan, x, torch.tensor([0.8]), outputs, plan.branches)
    if mode.learns_guidance:
        torch.testing.assert_close(slots[1], cond * 2 - (cond - uncond) * 0.8)
    else:
        kept = outputs[BOTH.index(mode.branch)]
        assert torch.equal(slots[0], kept) and torch.equal(slots[1], kept)
    assert run.ledger.steps[1].kind == mode.kind and run.ledger.steps[1].kept == name
    assert (mode.branch == NEGATIVE) == (name == "uncond")
