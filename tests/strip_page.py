"""What the browser tests do with the step strip on a ComfyUI page: load and shrink a workflow, find a node by
its execution id (through subgraphs), queue, and read what the strip holds and draws.

Written against the frontend's graph objects, not the extension's internals, so a test fails when the
extension resolves or draws a node differently from what a user sees.
"""
from __future__ import annotations

import json

from devtools.host import PACK_ROOT

STRIP = "truncated_cfg_strip"

# window.tcfgFind(executionId): the node an execution id names, walking subgraph nodes ("5:3" is node 3 of
# the graph inside node 5); window.tcfgAll(): every node of the root graph and of the subgraphs in it.
HELPERS_JS = """() => {
    const root = () => window.app.rootGraph ?? window.app.graph;
    const byId = (graph, id) => graph?.getNodeById(id) ?? graph?.getNodeById(Number(id)) ?? null;
    window.tcfgFind = (path) => {
        let graph = root(), node = null;
        for (const part of String(path).split(":")) {
            node = byId(graph, part);
            if (!node) return null;
            graph = node.subgraph;
        }
        return node;
    };
    window.tcfgAll = (graph = root(), seen = new Set()) => {
        const out = [];
        for (const node of graph?._nodes ?? []) {
            out.push(node);
            if (node.subgraph && !seen.has(node.subgraph)) {
                seen.add(node.subgraph);
                out.push(...window.tcfgAll(node.subgraph, seen));
            }
        }
        return out;
    };
}"""

# Small enough for a CPU: 64 px, one frame, ``steps`` steps, on every node of every graph (subgraphs too).
SHRINK_JS = """(steps) => {
    for (const node of window.tcfgAll()) {
        for (const w of node.widgets || []) {
            if (["width", "height"].includes(w.name) && !node.type.startsWith("TruncatedCFG")) w.value = 64;
            if (w.name === "length") w.value = 1;
            if (w.name === "steps") w.value = steps;
        }
    }
}"""

STATE_JS = "(path) => JSON.parse(JSON.stringify(window.tcfgFind(path)?.properties?.truncated_cfg ?? null))"
DONE_JS = "(path) => window.tcfgFind(path)?.properties?.truncated_cfg?.done === true"
QUEUE_JS = "async () => { await window.app.queuePrompt(0, 1); }"

# The cells the node's strip has drawn: [kind, drawn with a size] for each, in step order.
CELLS_JS = """(path) => {
    const node = window.tcfgFind(path);
    const strip = node.widgets.find((w) => w.name === "%s").element;
    return [...strip.querySelectorAll(".tcfg-cell")].map((c) => {
        const box = c.getBoundingClientRect();
        return [c.dataset.kind, box.width > 0 && box.height > 0];
    });
}""" % STRIP


def workflow(name: str) -> dict:
    return json.loads((PACK_ROOT / "workflows" / f"{name}.json").read_text())


def load(page, graph: dict, steps: int) -> None:
    """``graph`` (a UI-format workflow) on the page, shrunk to ``steps`` steps."""
    page.evaluate(HELPERS_JS)
    page.evaluate("async (graph) => { await window.app.loadGraphData(graph); }", graph)
    page.evaluate(HELPERS_JS)
    page.evaluate(SHRINK_JS, steps)


def node_path(page, type_: str) -> str:
    """The execution id of the first node of ``type_`` (in the root graph or a subgraph)."""
    return page.evaluate("""(type) => {
        const path = (graph, prefix) => {
            for (const node of graph?._nodes ?? []) {
                if (node.type === type) return prefix + node.id;
                const inner = node.subgraph ? path(node.subgraph, prefix + node.id + ":") : null;
                if (inner) return inner;
            }
            return null;
        };
        return path(window.app.rootGraph ?? window.app.graph, "");
    }""", type_)


def show_node(page, path: str) -> None:
    """The node in the middle of the canvas at scale 1: a DOM widget is drawn only while its node is in view."""
    page.evaluate("""(path) => {
        const canvas = window.app.canvas, node = window.tcfgFind(path);
        const rect = canvas.canvas.getBoundingClientRect();
        canvas.ds.scale = 1;
        canvas.ds.offset = [rect.width / 2 - node.pos[0] - node.size[0] / 2,
                            rect.height / 2 - node.pos[1] - node.size[1] / 2];
        canvas.setDirty(true, true);
    }""", path)
    page.wait_for_timeout(400)


def run_and_wait(page, path: str, seconds: float = 240) -> dict:
    """Queue the page's graph and wait for the strip of the node at ``path`` to finish; its state."""
    page.evaluate(QUEUE_JS)
    page.wait_for_function(DONE_JS, arg=path, timeout=seconds * 1000)
    return page.evaluate(STATE_JS, path)
