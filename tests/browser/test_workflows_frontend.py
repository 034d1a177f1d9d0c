"""Browser tier: every example workflow loads in ComfyUI's real frontend and converts to its API prompt."""
import json

import pytest
from hostenv import require_host

require_host()

from devtools import browser  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)

from devtools.host import PACK_ROOT  # noqa: E402
from devtools.workflow_runs import load_api  # noqa: E402
from devtools.workflow_specs import WORKFLOWS, not_on_this_host  # noqa: E402

LOAD_JS = """async (workflow) => {
    await window.app.loadGraphData(workflow);
    const nodes = window.app.graph._nodes;
    return {
        count: nodes.length,
        unknown: nodes.filter((n) => !window.LiteGraph.registered_node_types[n.type]).map((n) => n.type),
        prompt: (await window.app.graphToPrompt()).output,
    };
}"""


def differences_the_pack_controls(got: dict, published: dict) -> list[str]:
    """Where the frontend's API prompt departs from the published one in what the pack controls.

    The pack's own nodes must match whole (inputs and titles). Core nodes must keep their class, every
    published input and every link; what a ComfyUI release adds or renames for its own nodes (new
    inputs such as CreateVideo's bit_depth, display titles) is not the pack's, nor is the frontend's
    choice of string or number node ids.
    """
    got = {str(k): v for k, v in got.items()}
    problems = [f"nodes {sorted(set(got) ^ set(published))} differ"] if set(got) != set(published) else []
    for node_id, node in published.items():
        other = got.get(str(node_id))
        if other is None:
            continue
        if node["class_type"].startswith("TruncatedCFG"):
            if other != node:
                problems.append(f"{node_id} ({node['class_type']}): {other} != {node}")
            continue
        if other["class_type"] != node["class_type"]:
            problems.append(f"{node_id}: class {other['class_type']} != {node['class_type']}")
        for key, value in node["inputs"].items():
            theirs = other["inputs"].get(key)
            if isinstance(value, list):  # a link: [source id, output slot]
                theirs = [str(theirs[0]), theirs[1]] if isinstance(theirs, list) else theirs
                value = [str(value[0]), value[1]]
            if theirs != value:
                problems.append(f"{node_id} ({node['class_type']}).{key}: {theirs!r} != {value!r}")
    return problems


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_workflow_loads_with_every_node_known_and_converts_to_its_api_prompt(page, name):
    if not_on_this_host(name):
        pytest.skip(f"{name}: {not_on_this_host(name)}")
    workflow = json.loads((PACK_ROOT / "workflows" / f"{name}.json").read_text())
    assert workflow["version"] == 0.4
    errors_before = len(page.console_errors)
    loaded = page.evaluate(LOAD_JS, workflow)
    assert loaded["unknown"] == [] and loaded["count"] == len(workflow["nodes"])
    assert differences_the_pack_controls(loaded["prompt"], load_api(name)) == [], \
        "workflows/api is stale: run devtools/build_workflows.py"
    new_messages = page.console_errors[errors_before:]
    assert not [m for m in new_messages if "schema" in m.lower() or "invalid workflow" in m.lower()], new_messages


def nulls(value, path=""):
    """Paths of null values, except `link`/`links` (null is how the frontend writes an unconnected slot)."""
    if isinstance(value, dict):
        return [p for k, v in value.items() if not (k in ("link", "links") and v is None)
                for p in nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in nulls(v, f"{path}[{i}]")]
    return [path] if value is None else []


def test_every_workflow_has_a_thumbnail_and_no_null_optional_fields():
    for name in WORKFLOWS:
        assert (PACK_ROOT / "workflows" / f"{name}.jpg").stat().st_size > 1000
        workflow = json.loads((PACK_ROOT / "workflows" / f"{name}.json").read_text())
        assert nulls(workflow) == [], f"{name}.json has null fields; the frontend's schema check rejects those"
