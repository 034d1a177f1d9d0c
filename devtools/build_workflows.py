"""Build the example workflows in ComfyUI's real frontend.

For each graph of workflow_specs.py: create the nodes and links in the frontend, save what it
serialises (UI format 0.4) to workflows/<name>.json and the API prompt from app.graphToPrompt() to
workflows/api/<name>.json. Build them on the oldest supported ComfyUI: every later frontend loads
what an older one saved, not always the other way round. Thumbnails: devtools/build_thumbnails.py.

usage: COMFYUI_PATH=/opt/ComfyUI-0.3.64 python devtools/build_workflows.py   (needs playwright and chromium)
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import PACK_ROOT  # noqa: E402

WORKFLOWS_DIR = PACK_ROOT / "workflows"


def build(page) -> None:
    from devtools import browser
    from devtools.workflow_specs import WORKFLOWS

    (WORKFLOWS_DIR / "api").mkdir(parents=True, exist_ok=True)
    for name, make in WORKFLOWS.items():
        nodes, links = make()
        ui = json.loads(page.evaluate(browser.BUILD_GRAPH_JS, {"nodes": nodes, "links": links}))
        api = page.evaluate("async () => (await window.app.graphToPrompt()).output")
        browser.write_json(WORKFLOWS_DIR / f"{name}.json", ui)
        browser.write_json(WORKFLOWS_DIR / "api" / f"{name}.json", api)
        print(f"wrote workflows/{name}.json and workflows/api/{name}.json")


def main() -> int:
    from devtools import browser

    return browser.run_builder(build)


if __name__ == "__main__":
    sys.exit(main())
