"""Browser tier: the step strip in Nodes 2.0 (the frontend's "Modern Node Design", Comfy.VueNodes.Enabled)."""
import pytest
from hostenv import require_host

HOST = require_host()

from devtools import browser  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)

from strip_page import QUEUE_JS, STATE_JS, load, node_path, workflow  # noqa: E402

STEPS = 8
SETTING = "Comfy.VueNodes.Enabled"

# The guider's strip as Nodes 2.0 draws it: its cells inside the node's own element, with their sizes.
DRAWN_JS = """(id) => {
    const node = document.querySelector(`[data-node-id="${id}"]`);
    if (!node) return null;
    const box = node.getBoundingClientRect();
    const inside = (r) => r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1
        && r.bottom <= box.bottom + 1;
    const cells = [...node.querySelectorAll(".tcfg-cell")].map((c) => {
        const r = c.getBoundingClientRect();
        return [c.dataset.kind, r.width > 0 && r.height > 0 && inside(r)];
    });
    return { cells, status: node.querySelector(".tcfg-status")?.textContent ?? null,
             legend: node.querySelector(".tcfg-legend")?.textContent ?? null };
}"""


# Nodes 2.0 as shipped with ComfyUI 0.33 (frontend 1.48) and later. Frontend 1.27 (ComfyUI 0.3.64) has an
# early preview behind the same setting that places no extension's DOM widget inside its nodes.
FIRST_FRONTEND = (1, 48)


@pytest.fixture(scope="module")
def page(model_tree_base):
    with browser.page_on_new_server(HOST, model_tree_base) as tab:
        version = tab.evaluate("() => window.__COMFYUI_FRONTEND_VERSION__ ?? '0'")
        if tuple(int(p) for p in version.split(".")[:2]) < FIRST_FRONTEND:
            pytest.skip(f"frontend {version} has no Nodes 2.0 that draws extensions' widgets (from 1.48 on)")
        tab.evaluate(f"async () => {{ await window.app.extensionManager.setting.set('{SETTING}', true); }}")
        yield tab


def test_the_strip_fills_live_and_stays_inside_the_node_in_nodes_2(page):
    load(page, workflow("wan22_t2v_a14b_truncated_cfg"), STEPS)
    path = node_path(page, "TruncatedCFGGuider")
    page.evaluate("""(path) => {
        window.tcfgLive = [];
        window.app.api.addEventListener("truncated_cfg.step", () => {
            const drawn = document.querySelectorAll(`[data-node-id="${path}"] .tcfg-cell:not([data-kind="empty"])`);
            window.tcfgLive.push(drawn.length);
        });
    }""", path)
    page.evaluate(QUEUE_JS)
    page.wait_for_function("(p) => window.tcfgFind(p)?.properties?.truncated_cfg?.done === true", arg=path,
                           timeout=240_000)
    page.wait_for_timeout(300)
    state = page.evaluate(STATE_JS, path)
    drawn = page.evaluate(DRAWN_JS, path)
    assert drawn is not None, "the node has no element: Nodes 2.0 is not drawing"
    assert [kind for kind, _ in drawn["cells"]] == state["cells"] == ["full"] * 3 + ["cond"] * 5
    assert all(visible for _, visible in drawn["cells"]), "a cell is not visible inside the node"
    assert drawn["status"].startswith("model calls 11 / 16") and "full CFG" in drawn["legend"]
    live = page.evaluate("() => window.tcfgLive")
    assert live and live[0] >= 1, "the strip did not fill while sampling"
