"""Build the example workflows in ComfyUI's real frontend.

For each graph of workflow_specs.py: create the nodes and links in the frontend, save what it
serialises (UI format 0.4) to workflows/<name>.json and the API prompt from app.graphToPrompt() to
workflows/api/<name>.json. Build them on the oldest supported ComfyUI: every later frontend loads
what an older one saved, not always the other way round; those with nodes the oldest lacks
(workflow_specs.BUILD_ON_NEWEST) on the newest, with --newest. Thumbnails: devtools/build_thumbnails.py.

usage: COMFYUI_PATH=/opt/ComfyUI-0.3.64 python devtools/build_workflows.py   (needs playwright and chromium)
       COMFYUI_PATH=/opt/ComfyUI python devtools/build_workflows.py --newest
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import PACK_ROOT  # noqa: E402

WORKFLOWS_DIR = PACK_ROOT / "workflows"


def build(page, newest: bool) -> None:
    """The workflows of BUILD_ON_NEWEST (``newest``) or all the others."""
    from devtools import browser
    from devtools.workflow_specs import BUILD_ON_NEWEST, WORKFLOWS

    (WORKFLOWS_DIR / "api").mkdir(parents=True, exist_ok=True)
    for name, make in WORKFLOWS.items():
        if (name in BUILD_ON_NEWEST) != newest:
            continue
        nodes, links = make()
        ui = json.loads(page.evaluate(browser.BUILD_GRAPH_JS, {"nodes": nodes, "links": links}))
        api = page.evaluate("async () => (await window.app.graphToPrompt()).output")
        browser.write_json(WORKFLOWS_DIR / f"{name}.json", ui)
        browser.write_json(WORKFLOWS_DIR / "api" / f"{name}.json", api)
        print(f"wrote workflows/{name}.json and workflows/api/{name}.json")


def main() -> int:
    from devtools import browser

    newest = sys.argv[1:] == ["--newest"]
    if sys.argv[1:] and not newest:
        print("usage: build_workflows.py [--newest]", file=sys.stderr)
        return 2
    return browser.run_builder(lambda page: build(page, newest))


if __name__ == "__main__":
    sys.exit(main())
