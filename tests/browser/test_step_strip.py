"""Browser tier: the web extension's step strip during and after a real run, and after switching graphs."""
import json

import pytest
from hostenv import require_host

HOST = require_host()

from devtools import browser  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)

from strip_page import CELLS_JS, HELPERS_JS, show_node  # noqa: E402

from devtools.host import PACK_ROOT  # noqa: E402

WORKFLOW = "wan22_t2v_a14b_truncated_cfg"
STEPS = 8
SCREENSHOT = PACK_ROOT / "out" / "screenshots" / "step_strip.png"

PREPARE_JS = """async ([workflow, steps]) => {
    await window.app.loadGraphData(workflow);
    const nodes = window.app.graph._nodes;
    const byType = (t) => nodes.filter((n) => n.type === t);
    const set = (node, name, value) => { node.widgets.find((w) => w.name === name).value = value; };
    for (const latent of byType("EmptyHunyuanLatentVideo")) {
        set(latent, "width", 64); set(latent, "height", 64); set(latent, "length", 1);
    }
    for (const scheduler of byType("BasicScheduler")) set(scheduler, "steps", steps);
    const guider = byType("TruncatedCFGGuider")[0];
    return { id: guider.id, strip: guider.widgets.some((w) => w.name === "truncated_cfg_strip") };
}"""

STATE_JS = "(id) => JSON.parse(JSON.stringify(window.app.graph.getNodeById(id).properties.truncated_cfg || null))"


@pytest.fixture(scope="module")
def page(model_tree_base):
    """Here the server's models/ holds the workflow's files, so the run is real."""
    with browser.page_on_new_server(HOST, model_tree_base) as tab:
        yield tab


RECORD_STEPS_JS = """() => {
    window.tcfgSteps = [];
    window.tcfgLive = [];  // cells drawn in the node right after each step event
    const guider = window.app.graph._nodes.find((n) => n.type === "TruncatedCFGGuider");
    window.app.api.addEventListener("truncated_cfg.step", ({ detail }) => {
        window.tcfgSteps.push(detail);
        const strip = guider.widgets.find((w) => w.name === "truncated_cfg_strip").element;
        const cells = [...strip.querySelectorAll(".tcfg-cell")];
        window.tcfgLive.push(cells.filter((c) => c.dataset.kind !== "empty").length);
    });
}"""
DONE_JS = "(id) => window.app.graph.getNodeById(id).properties.truncated_cfg?.done === true"


def run_from_page(page, workflow_name, steps, edit_js=None):
    """Load a published workflow, shrink it, apply ``edit_js`` to the graph, queue it; the guider's id."""
    workflow = json.loads((PACK_ROOT / "workflows" / f"{workflow_name}.json").read_text())
    guider = page.evaluate(PREPARE_JS, [workflow, steps])
    assert guider["strip"], "the guider node has no step strip"
    if edit_js:
        page.evaluate(edit_js)
    page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
    return guider["id"]


@pytest.fixture(scope="module")
def finished(page):
    """Queue the Wan workflow (shrunk) from the page and wait for its strip to finish."""
    log_start = len(page.server.log_text())
    node_id = run_from_page(page, WORKFLOW, STEPS, RECORD_STEPS_JS)
    page.wait_for_function(DONE_JS, arg=node_id, timeout=240_000)
    return node_id, page.evaluate(STATE_JS, node_id), page.server.log_text()[log_start:]


def test_the_strip_updates_during_the_run_and_ends_at_the_ledger(page, finished):
    node_id, state, log = finished
    live = page.evaluate("() => window.tcfgLive")
    assert live and live[0] >= 1, "no step event reached the strip while sampling"
    assert live == sorted(live), "cells filled in step by step"
    assert state["steps"] == STEPS
    assert state["cells"] == ["full"] * 3 + ["cond"] * 5  # cfg_truncate_steps 5 of 8, keep cond
    assert (state["modelCalls"], state["modelCallsCore"], state["modelCallsSaved"]) == (11, 16, 5)
    assert f"[Truncated CFG] {STEPS} steps, 5 truncated, model calls 11 / 16" in log
    assert state["seconds"] > 0
    assert state["switchStep"] is not None and 0 <= state["switchStep"] <= STEPS  # the Wan expert boundary
    page.evaluate(HELPERS_JS)
    show_node(page, str(node_id))
    drawn = page.evaluate(CELLS_JS, node_id)
    assert [kind for kind, _ in drawn] == state["cells"] and all(visible for _, visible in drawn)


def test_every_step_event_counts_the_call_it_follows(page, finished):
    events = page.evaluate("() => window.tcfgSteps")
    assert events, "no step event arrived"
    first = events[0]
    assert first["cells"][0] == [0, "full"]
    assert (first["model_calls"], first["model_calls_core"]) == (2, 2)  # step 0's full call, just made
    assert all(e["model_calls"] > 0 for e in events)


def test_the_chart_has_one_point_per_full_step(finished):
    _, state, _ = finished
    assert [step for step, _ in state["relDiff"]] == [0, 1, 2]
    assert all(value > 0 for _, value in state["relDiff"])


def test_the_strip_survives_switching_workflows_without_a_rerun(page, finished):
    node_id, state, _ = finished
    page.server.wait_until_idle()
    history_before = len(page.server.get("/history"))
    saved = page.evaluate("() => JSON.stringify(window.app.graph.serialize())")
    (guider,) = [n for n in json.loads(saved)["nodes"] if str(n["id"]) == str(node_id)]
    inputs = page.evaluate("() => window.LiteGraph.getNodeType('TruncatedCFGGuider').nodeData.input")
    widgets = [name for part in ("required", "optional") for name, spec in inputs.get(part, {}).items()
               if spec[0] not in ("MODEL", "CONDITIONING")]
    assert len(guider["widgets_values"]) == len(widgets), "the strip must not add an entry to widgets_values"
    other = json.loads((PACK_ROOT / "workflows" / "lumina2_t2i_truncated_cfg.json").read_text())
    page.evaluate("async (wf) => { await window.app.loadGraphData(wf); }", other)
    page.evaluate("async (wf) => { await window.app.loadGraphData(JSON.parse(wf)); }", saved)
    assert page.evaluate(STATE_JS, node_id) == state
    assert len(page.server.get("/history")) == history_before


def test_a_screenshot_of_the_node_after_the_run(page, finished):
    node_id, _, _ = finished
    # The node in the middle of the canvas: newer frontends lay their sidebar and tabs over its edges.
    box = page.evaluate("""(id) => {
        const canvas = window.app.canvas;
        const node = window.app.graph.getNodeById(id);
        const scale = 1.3, title = 40, margin = 10;
        const rect = canvas.canvas.getBoundingClientRect();
        canvas.ds.scale = scale;
        canvas.ds.offset = [rect.width / 2 / scale - node.pos[0] - node.size[0] / 2,
                            rect.height / 2 / scale - node.pos[1] - node.size[1] / 2];
        canvas.setDirty(true, true);
        return { x: rect.left + rect.width / 2 - (node.size[0] / 2 + margin) * scale,
                 y: rect.top + rect.height / 2 - (node.size[1] / 2 + title) * scale,
                 width: (node.size[0] + 2 * margin) * scale, height: (node.size[1] + title + margin) * scale };
    }""", node_id)
    page.wait_for_timeout(400)
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT), clip=box)
    assert SCREENSHOT.stat().st_size > 5000


def test_an_interrupted_run_says_so_and_where(page, finished):
    node_id = run_from_page(page, WORKFLOW, 400)
    page.wait_for_function(f"(id) => ({STATE_JS})(id)?.cells.filter((c) => c).length >= 2", arg=node_id,
                           timeout=120_000)
    page.evaluate("async () => { await window.app.api.interrupt(); }")
    page.wait_for_function(DONE_JS, arg=node_id, timeout=120_000)
    state = page.evaluate(STATE_JS, node_id)
    assert state["outcome"] == "interrupted" and state["current"] == -1
    assert 0 <= state["lastStep"] < 399 and state["modelCalls"] > 0  # the last step whose call completed
    assert state["cells"][-1] is None  # the steps that never ran stay empty


def test_a_run_that_fails_while_sampling_says_so(page, finished):
    # A positive prompt of the wrong width (the test server's conditioning node): the first model call
    # fails, after the strip started.
    make_it_fail = """() => {
        const graph = window.app.graph;
        const guider = graph._nodes.find((n) => n.type === "TruncatedCFGGuider");
        const wrong = window.LiteGraph.createNode("TCFGTestWanConditioning");
        graph.add(wrong);
        wrong.widgets.find((w) => w.name === "width").value = 100;
        wrong.connect(0, guider, guider.findInputSlot("positive"));
    }"""
    node_id = run_from_page(page, WORKFLOW, STEPS, make_it_fail)
    page.wait_for_function(DONE_JS, arg=node_id, timeout=120_000)
    state = page.evaluate(STATE_JS, node_id)
    assert state["outcome"] == "failed" and state["current"] == -1
    assert "shape" in state["message"] or "size" in state["message"], state["message"]


def test_no_console_message_mentions_the_extension(page, finished):
    ours = [m for m in page.console_errors if "truncated_cfg" in m.lower() or "truncatedcfg" in m.lower()]
    assert ours == []
