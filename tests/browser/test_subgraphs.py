"""Browser tier: the pack inside subgraphs (nested too), and its subgraph blueprints, on a real run each."""
import json
import urllib.error

import pytest
from hostenv import require_host

HOST = require_host()

from devtools import browser  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)

from strip_page import CELLS_JS, QUEUE_JS, STATE_JS, load, node_path, run_and_wait, workflow  # noqa: E402

from devtools.comfy_server import ComfyServer  # noqa: E402
from devtools.host import PACK_ROOT  # noqa: E402
from devtools.workflow_specs import BLUEPRINTS, TRUNCATING_TYPES  # noqa: E402

STEPS = 6
PACK_SOURCE = f"custom_nodes.{ComfyServer.pack_folder}"  # how /global_subgraphs names the pack


@pytest.fixture(scope="module")
def page(model_tree_base):
    with browser.page_on_new_server(HOST, model_tree_base) as tab:
        if not tab.evaluate("() => typeof window.app.graph.convertToSubgraph === 'function'"):
            pytest.skip("this ComfyUI's frontend cannot make subgraphs")
        yield tab


# Puts the pack's node of the given type into a subgraph, then that subgraph into another: "outer:middle:node".
NEST_JS = """(type) => {
    const graph = window.app.graph;
    const node = graph._nodes.find((n) => n.type === type);
    const middle = graph.convertToSubgraph(new Set([node])).node;
    const outer = graph.convertToSubgraph(new Set([middle])).node;
    return [String(outer.id), String(middle.id), String(node.id)];
}"""


# A node at the root (a model patch, which never runs here) with the given id if the frontend allows it
# (frontends from 1.58 keep ids unique across subgraphs and give it another): its id.
DECOY_JS = """(id) => {
    const decoy = window.LiteGraph.createNode("TruncatedCFGModelPatch");
    decoy.id = id;
    window.app.graph.add(decoy);
    return String(decoy.id);
}"""
# An event of the pack for ``node`` in the prompt that just ran, as the server would send it.
EVENT_JS = """([node, promptId]) => {
    window.app.api.dispatchEvent(new CustomEvent("truncated_cfg.start",
        { detail: { node, prompt_id: promptId, steps: 3, sigmas: [1, 0.5, 0.2, 0], switch_step: null } }));
}"""


# The guider (its last 5 steps truncated) and the model patch under KSampler (Lumina's cfg_trunc_ratio 0.25:
# step i of 6 is truncated once (i + 1) / 6 > 0.25), each at 6 steps.
NESTED = {"TruncatedCFGGuider": ("wan22_t2v_a14b_truncated_cfg", ["full"] * 1 + ["cond"] * 5),
          "TruncatedCFGModelPatch": ("lumina2_t2i_truncated_cfg_ksampler", ["full"] * 1 + ["cond"] * 5)}


@pytest.mark.parametrize("node_type", NESTED)
def test_the_node_in_nested_subgraphs_fills_its_strip_and_never_a_root_node_with_its_id(page, node_type):
    name, cells = NESTED[node_type]
    load(page, workflow(name), STEPS)
    outer, middle, inner = page.evaluate(NEST_JS, node_type)
    path = f"{outer}:{middle}:{inner}"
    decoy = page.evaluate(DECOY_JS, inner)
    page.evaluate("""(path) => {
        window.tcfgLive = [];  // per step event: the path it named, and the cells the inner strip then held
        window.app.api.addEventListener("truncated_cfg.step", ({ detail }) => window.tcfgLive.push(
            [detail.node, window.tcfgFind(path).properties.truncated_cfg.cells.filter((c) => c).length]));
    }""", path)
    state = run_and_wait(page, path)
    assert state["outcome"] == "finished" and state["cells"] == cells
    live = page.evaluate("() => window.tcfgLive")
    assert {node for node, _ in live} == {path}, "step events name the whole id path"
    filled = [count for _, count in live]
    assert filled[0] >= 1 and filled == sorted(filled), "the strip inside the subgraph filled while sampling"
    # Whether or not the decoy has the inner id, an event for a path ending in its id (in a subgraph that has no
    # such node) never reaches it.
    page.evaluate(EVENT_JS, [f"{outer}:{decoy}", state["promptId"]])
    assert page.evaluate(STATE_JS, decoy) is None, "a root node was painted for an event inside a subgraph"
    # Inside the subgraph the strip shows the run; leaving and entering again keeps it.
    for graph_js in ("(p) => window.tcfgFind(p.split(':').slice(0, 2).join(':')).subgraph",
                     "() => window.app.rootGraph ?? window.app.graph",
                     "(p) => window.tcfgFind(p.split(':').slice(0, 2).join(':')).subgraph"):
        page.evaluate(f"(p) => {{ window.app.canvas.setGraph(({graph_js})(p)); }}", path)
        page.wait_for_timeout(300)
        assert page.evaluate(STATE_JS, path) == state
        assert [kind for kind, _ in page.evaluate(CELLS_JS, path)] == state["cells"]
    page.evaluate("() => { window.app.canvas.setGraph(window.app.rootGraph ?? window.app.graph); }")


# Every noise seed of the graph set to ``seed``: a prompt ComfyUI has not run yet.
SEED_JS = """(seed) => { for (const node of window.tcfgAll()) for (const w of node.widgets || [])
    if (["seed", "noise_seed"].includes(w.name)) w.value = seed; }"""
# The state of the node at ``path`` once a run other than ``old`` (a prompt id) has finished there.
NEW_RUN_JS = """([path, old]) => { const s = window.tcfgFind(path)?.properties?.truncated_cfg;
    return s && s.promptId !== old && s.done === true; }"""


@pytest.mark.parametrize("node_type", NESTED)
def test_a_node_moved_into_a_subgraph_after_a_run_shows_its_next_run_there(page, node_type):
    """ComfyUI caches a node's output by its inputs; the pack's node output reports to the node that made it,
    so it must not be reused for the same node under its new id inside the subgraph (it would report to the
    root id the node no longer has, and the strip inside would never fill)."""
    name, cells = NESTED[node_type]
    load(page, workflow(name), STEPS)
    page.evaluate(SEED_JS, 4242)
    first = run_and_wait(page, node_path(page, node_type))
    inner = page.evaluate("""(type) => { const graph = window.app.graph;
        const node = graph._nodes.find((n) => n.type === type);
        return `${graph.convertToSubgraph(new Set([node])).node.id}:${node.id}`; }""", node_type)
    page.evaluate(SEED_JS, 4243)
    page.evaluate(QUEUE_JS)
    page.wait_for_function(NEW_RUN_JS, arg=[inner, first["promptId"]], timeout=120_000)
    state = page.evaluate(STATE_JS, inner)
    assert state["outcome"] == "finished" and state["cells"] == first["cells"] == cells


def global_subgraphs(page) -> dict:
    try:
        return page.server.get("/global_subgraphs")
    except urllib.error.HTTPError as error:  # ComfyUI before 0.33 has no subgraph manager
        pytest.skip(f"this ComfyUI lists no subgraph blueprints (/global_subgraphs: {error})")


def test_the_packs_blueprints_are_listed_for_the_node_library(page):
    ours = {e["name"] for e in global_subgraphs(page).values() if e["info"]["node_pack"] == PACK_SOURCE}
    assert ours == set(BLUEPRINTS) and len(ours) >= 3
    for name in BLUEPRINTS:
        saved = json.loads((PACK_ROOT / "subgraphs" / f"{name}.json").read_text())
        assert len(saved["nodes"]) == 1, "a blueprint's root graph is its subgraph node alone"
        (definition,) = saved["definitions"]["subgraphs"]
        assert definition["name"] == name and definition["description"] and definition["category"]
        kinds = {n["type"] for n in definition["nodes"]}
        assert kinds & {"TruncatedCFGGuider", "TruncatedCFGModelPatch"}


# The blueprint from the node search (double-click on the canvas, type, pick it), with what it needs
# outside: a start image for image to video, and a node that saves its output.
ADD_OUTPUTS_JS = """(name) => {
    const graph = window.app.graph;
    const blueprint = graph._nodes.find((n) => n.title === name);
    if (!blueprint) throw new Error(`${name} was not added`);
    const output = blueprint.outputs[0].type;
    const save = window.LiteGraph.createNode(output === "VIDEO" ? "SaveVideo" : "SaveImage");
    graph.add(save);
    blueprint.connect(0, save, 0);
    const start = blueprint.inputs?.find((i) => i.type === "IMAGE");
    if (start) {
        const image = window.LiteGraph.createNode("LoadImage");
        graph.add(image);
        image.widgets.find((w) => w.name === "image").value = "example.png";
        image.connect(0, blueprint, blueprint.inputs.indexOf(start));
    }
    return String(blueprint.id);
}"""


def open_node_search(page) -> None:
    """The node search, as a double-click on an empty spot of the canvas opens it."""
    search = page.locator('input[placeholder*="node" i]')
    for _ in range(3):
        page.keyboard.press("Escape")
        box = page.locator("#graph-canvas").bounding_box()
        page.mouse.dblclick(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6)
        try:
            search.first.wait_for(state="visible", timeout=3000)
            return
        except browser.PlaywrightTimeout:  # the canvas took the double-click for something else: again
            continue
    raise AssertionError("the node search did not open on a double-click on the canvas")


# What a user types to find each blueprint: the search matches words, not punctuation, and shows a few results,
# which core's own blueprints share ("Text to Image Truncated" lists the Lumina 2 and Z-Image ones, not Qwen's or
# NetaYume's; "NetaYume" lists core's NetaYume blueprint, then the pack's).
SEARCH = {"Text to Image (Qwen-Image 2512, Truncated CFG)": "2512",
          "Text to Image (NetaYume Lumina, Truncated CFG)": "NetaYume",
          "Text to Image (Ideogram 4, Truncated CFG)": "Ideogram",
          "Text to Image (Flux.2 Klein base, Truncated CFG)": "Klein",
          "Image Edit (Qwen-Image-Edit 2511, Truncated CFG)": "Qwen-Image-Edit 2511",
          "Text to Video (HunyuanVideo 1.5, Truncated CFG)": "HunyuanVideo",
          "Text to Video (Wan 2.2 5B, Truncated CFG)": "Wan 2.2 5B"}


# Fewer steps where each model call is slow on a CPU (Qwen-Image-Edit's 1-megapixel reference latents): step 0
# full CFG, step 1 reused, still fewer calls than core's.
STEPS_OF = {"Image Edit (Qwen-Image-Edit 2511, Truncated CFG)": 2}


@pytest.mark.parametrize("name", sorted(BLUEPRINTS))
def test_each_blueprint_added_from_the_node_search_runs_and_fills_its_strip(page, name):
    steps = STEPS_OF.get(name, STEPS)
    global_subgraphs(page)
    load(page, {"last_node_id": 0, "last_link_id": 0, "nodes": [], "links": [], "groups": [], "version": 0.4}, STEPS)
    open_node_search(page)
    page.keyboard.type(SEARCH.get(name, name.split(" (")[0] + " Truncated"), delay=10)
    page.locator('[id^="result-item-"]').filter(has_text=name).first.click()
    page.wait_for_function("(name) => window.app.graph._nodes.some((n) => n.title === name)", arg=name,
                           timeout=10_000)
    page.evaluate(ADD_OUTPUTS_JS, name)
    for widget, value in (("width", 64), ("height", 64), ("length", 1), ("steps", steps)):
        page.evaluate("""([name, widget, value]) => {
            const node = window.app.graph._nodes.find((n) => n.title === name);
            const w = node.widgets.find((x) => x.name === widget);
            if (w) w.value = value;
        }""", [name, widget, value])
    nodes, _ = BLUEPRINTS[name].make()
    (truncating,) = {n["type"] for n in nodes} & set(TRUNCATING_TYPES)
    path = node_path(page, truncating)
    state = run_and_wait(page, path, seconds=600)
    assert state["outcome"] == "finished" and state["steps"] == steps
    assert all(state["cells"]) and state["modelCalls"] < state["modelCallsCore"]
    # Ideogram 4's unconditional model (the guider's model_negative): its calls counted apart, fewer than core's.
    assert state["negativeModel"] == ("Ideogram" in name)
    if state["negativeModel"]:
        assert 0 < state["negativeCalls"] < state["negativeCallsCore"]
