"""Build each example workflow's thumbnail from a real run of it in ComfyUI's frontend.

The template browser shows a workflow's <name>.jpg at about 260 x 260 pixels. For each workflow this
loads the published graph in the frontend, shrinks only its picture (64 px, one frame; the step
count and every truncation setting stay), queues it on the small models of devtools/model_tree.py,
waits for the truncation node's step strip to fill, and composes a square picture: the workflow's
title, what the run saved and its truncation settings, above the node's step strip drawn large.

Run it on the current ComfyUI (its frontend draws what users see):

usage: COMFYUI_PATH=/opt/ComfyUI python devtools/build_thumbnails.py [name ...]   (needs playwright and chromium;
       names: only those workflows, e.g. a new one, leaving the other thumbnails as they are)
"""
from __future__ import annotations

import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import PACK_ROOT  # noqa: E402

WORKFLOWS_DIR = PACK_ROOT / "workflows"
SIDE = 512  # pixels; shown at about half that, so text stays sharp
BACKGROUND = (32, 32, 32)

PREPARE_JS = """async ([workflow, types]) => {
    await window.app.loadGraphData(workflow);
    const nodes = window.app.graph._nodes;
    for (const node of nodes) {
        for (const w of node.widgets || []) {
            if (["width", "height"].includes(w.name) && node.type !== "TruncatedCFGWanA14BLoader"
                && !node.type.endsWith("Scheduler")) w.value = 64;
            if (w.name === "length") w.value = 1;
        }
    }
    return String(nodes.find((n) => types.includes(n.type)).id);
}"""
DONE_JS = ("(id) => { const n = window.app.graph.getNodeById(Number(id)) || window.app.graph.getNodeById(id); "
           "return n.properties.truncated_cfg?.done === true && n.properties.truncated_cfg.outcome === 'finished'; }")
FRAME_JS = """(id) => {
    const canvas = window.app.canvas;
    const node = window.app.graph.getNodeById(Number(id)) || window.app.graph.getNodeById(id);
    const rect = canvas.canvas.getBoundingClientRect();
    const scale = Math.min(3, (rect.width - 400) / node.size[0]);
    // The node large, away from the frontend's own overlays at the canvas edges (breadcrumbs, side bar, minimap).
    canvas.ds.scale = scale;
    canvas.ds.offset = [-node.pos[0] + 200 / scale, -node.pos[1] - node.size[1] + 700 / scale];
    canvas.setDirty(true, true);
    const s = node.properties.truncated_cfg;
    return {steps: s.steps, saved: s.modelCallsSaved, full: s.modelCallsCore,
            oneCall: s.cells.filter((c) => ["cond", "uncond", "reuse"].includes(c)).length,
            cached: s.cells.filter((c) => c === "cached").length};
}"""
# The strip where the frontend drew it (a DOM widget over the canvas), with a margin.
STRIP_BOX_JS = """(id) => {
    const node = window.app.graph.getNodeById(Number(id)) || window.app.graph.getNodeById(id);
    const box = node.widgets.find((w) => w.name === "truncated_cfg_strip").element.getBoundingClientRect();
    return {x: box.left - 12, y: box.top - 8, width: box.width + 24, height: box.height + 16};
}"""
CAPTION_JS = """([title, line, settings]) => {
    const card = document.createElement("div");
    card.id = "tcfg-thumbnail-caption";
    card.style.cssText = "position:fixed;left:0;top:0;z-index:100000;width:%dpx;padding:18px 20px 10px;" +
        "box-sizing:border-box;background:#202020;color:#eee;font-family:sans-serif";
    card.innerHTML = `<div style="font-size:30px;font-weight:600;line-height:1.2">${title}</div>` +
        `<div style="font-size:25px;margin-top:12px;color:#9fd3b5">${line}</div>` +
        `<div style="font-size:21px;margin-top:10px;color:#bbb">${settings}</div>`;
    document.body.appendChild(card);
}""" % SIDE
STEP_CACHES = ("LazyCache", "EasyCache")


def settings_line(name: str) -> str:
    """The published truncation node's settings that are on, as a user reads them on the node."""
    from devtools.workflow_runs import TRUNCATING_NODES, load_api
    from sampling.rules import OFF

    prompt = load_api(name)
    (inputs,) = [n["inputs"] for n in prompt.values() if n["class_type"] in TRUNCATING_NODES]
    shown = [f"{key} {value}" for key, value in inputs.items()
             if not isinstance(value, list) and key in OFF and key != "keep" and value != OFF[key]]
    caches = [f"{n['class_type']} {n['inputs']['reuse_threshold']}" for n in prompt.values()
              if n["class_type"] in STEP_CACHES]
    return " · ".join([f"keep {inputs['keep']}"] + shown + caches)


def compose(caption_png: bytes, strip_png: bytes):
    """The caption above the step strip, on a square of SIDE pixels."""
    from PIL import Image

    caption = Image.open(io.BytesIO(caption_png)).convert("RGB")
    strip = Image.open(io.BytesIO(strip_png)).convert("RGB")
    strip.thumbnail((SIDE - 16, SIDE - caption.height - 16), Image.LANCZOS)
    square = Image.new("RGB", (SIDE, SIDE), BACKGROUND)
    square.paste(caption, (0, 0))
    square.paste(strip, ((SIDE - strip.width) // 2, SIDE - strip.height - 12))
    return square


def build(page, names=()) -> None:
    from devtools.workflow_specs import TITLES, TRUNCATING_TYPES, WORKFLOWS

    unknown = sorted(set(names) - set(WORKFLOWS))
    if unknown:
        raise SystemExit(f"no such workflow: {', '.join(unknown)}; the workflows are {', '.join(WORKFLOWS)}")
    for name in names or WORKFLOWS:
        workflow = json.loads((WORKFLOWS_DIR / f"{name}.json").read_text())
        node_id = page.evaluate(PREPARE_JS, [workflow, list(TRUNCATING_TYPES)])
        page.evaluate("async () => { await window.app.queuePrompt(0, 1); }")
        page.wait_for_function(DONE_JS, arg=node_id, timeout=1_800_000)  # 40 full-width steps on a CPU
        frame = page.evaluate(FRAME_JS, node_id)
        page.wait_for_timeout(500)
        strip_png = page.screenshot(type="png", clip=page.evaluate(STRIP_BOX_JS, node_id))
        saved = 100 * frame["saved"] / frame["full"]  # the ledger's count (sampling/ledger.py)
        cached = f", {frame['cached']} cached" if frame["cached"] else ""
        line = f"{saved:.0f}% fewer model calls ({frame['oneCall']} of {frame['steps']} steps one call{cached})"
        page.evaluate(CAPTION_JS, [TITLES[name], line, settings_line(name)])
        caption_png = page.locator("#tcfg-thumbnail-caption").screenshot(type="png")
        page.evaluate("() => document.getElementById('tcfg-thumbnail-caption').remove()")
        compose(caption_png, strip_png).save(WORKFLOWS_DIR / f"{name}.jpg", quality=90)
        print(f"wrote workflows/{name}.jpg ({line})", flush=True)


def main() -> int:
    from devtools import browser

    names = sys.argv[1:]
    return browser.run_builder(lambda page: build(page, names), width=1400, height=1000)


if __name__ == "__main__":
    sys.exit(main())
