"""Build the pack's subgraph blueprints in ComfyUI's real frontend (ComfyUI 0.33 and later list them).

For each blueprint of workflow_specs.BLUEPRINTS: build its workflow's graph, turn every node but the ones
left outside into one subgraph (ComfyUI's convertToSubgraph, as "Convert to Subgraph" does), expose the
chosen widgets on the subgraph node, drop the nodes left outside, and save what the frontend serialises
to subgraphs/<name>.json, with the blueprint's category and description, as core's own blueprints are.

usage: COMFYUI_PATH=/opt/ComfyUI python devtools/build_blueprints.py     (needs playwright and chromium)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import PACK_ROOT  # noqa: E402

SUBGRAPHS_DIR = PACK_ROOT / "subgraphs"

CONVERT_JS = """([name, outside, exposed, labels]) => {
    const graph = window.app.graph;
    const made = window.tcfgMade;
    const inside = Object.entries(made).filter(([key]) => !outside.includes(key)).map(([, node]) => node);
    const { node } = graph.convertToSubgraph(new Set(inside));
    node.subgraph.name = name;
    node.title = name;
    node.properties.proxyWidgets = exposed.map(([key, widget]) => [String(made[key].id), widget]);
    for (const slot of [...node.subgraph.inputs, ...node.inputs]) {
        if (labels[slot.name]) slot.label = labels[slot.name];
    }
    for (const key of outside) graph.remove(made[key]);
    return JSON.stringify(graph.serialize());
}"""


def build(page) -> None:
    from devtools import browser
    from devtools.workflow_specs import BLUEPRINTS

    SUBGRAPHS_DIR.mkdir(exist_ok=True)
    for name, blueprint in BLUEPRINTS.items():
        nodes, links = blueprint.make()
        page.evaluate(browser.BUILD_GRAPH_JS, {"nodes": nodes, "links": links})
        saved = json.loads(page.evaluate(CONVERT_JS, [name, list(blueprint.outside), blueprint.exposed,
                                                      blueprint.labels]))
        (definition,) = saved["definitions"]["subgraphs"]
        definition.update(category=blueprint.category, description=blueprint.description)
        browser.write_json(SUBGRAPHS_DIR / f"{name}.json", saved)
        print(f"wrote subgraphs/{name}.json")


def main() -> int:
    from devtools import browser

    return browser.run_builder(build)


if __name__ == "__main__":
    sys.exit(main())
