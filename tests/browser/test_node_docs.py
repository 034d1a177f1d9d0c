"""Browser tier: every node's documentation is served where ComfyUI's help panel looks, and the panel shows it."""
import urllib.request

import pytest
from hostenv import require_host

require_host()

from devtools import browser  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)

from devtools.host import PACK_ROOT  # noqa: E402

NODES = {"TruncatedCFGGuider": "Truncated CFG Guider", "TruncatedCFGModelPatch": "Truncated CFG (model patch)",
         "TruncatedCFGRenorm": "CFG Renorm", "TruncatedCFGLumina2Loader": "Lumina2 Loader",
         "TruncatedCFGWanA14BLoader": "Wan A14B Loader", "TruncatedCFGWanA14BExperts": "Wan A14B Experts"}
DOCS = PACK_ROOT / "web" / "docs"


def test_every_node_has_its_doc_and_no_other_doc_is_shipped():
    assert {p.stem for p in DOCS.glob("*.md")} == set(NODES)


@pytest.mark.parametrize("node_id", sorted(NODES))
def test_the_server_serves_each_doc_where_the_help_panel_asks(page, node_id):
    url = f"{page.server.url}/extensions/{page.server.pack_folder}/docs/{node_id}.md"
    with urllib.request.urlopen(url, timeout=30) as response:
        text = response.read().decode()
    assert text == (DOCS / f"{node_id}.md").read_text()
    assert text.startswith(f"# {NODES[node_id]}\n")


def first_paragraph(node_id: str) -> str:
    return next(block for block in (DOCS / f"{node_id}.md").read_text().split("\n\n")[1:]
                if block and not block.startswith(("#", "|", "-", "!")))


def test_the_help_panel_shows_the_guiders_doc(page):
    # The node, selected as a user selects it: a click on its title.
    x, y = page.evaluate("""() => {
        window.app.graph.clear();
        const node = window.LiteGraph.createNode("TruncatedCFGGuider");
        node.pos = [400, 250];
        window.app.graph.add(node);
        window.app.graph.setDirtyCanvas(true, true);
        const ds = window.app.canvas.ds;
        const rect = window.app.canvas.canvas.getBoundingClientRect();
        return [rect.left + (node.pos[0] + 60 + ds.offset[0]) * ds.scale,
                rect.top + (node.pos[1] - 15 + ds.offset[1]) * ds.scale];
    }""")
    page.wait_for_timeout(300)
    page.mouse.click(x, y)
    info = page.locator('[data-testid="info-button"]')
    try:
        info.first.wait_for(state="visible", timeout=10_000)
    except browser.PlaywrightTimeout:
        pytest.skip("this ComfyUI's frontend shows no Node Info button for a selected node")
    info.first.click()
    words = " ".join(first_paragraph("TruncatedCFGGuider").split()[:6])
    page.get_by_text(words, exact=False).first.wait_for(state="visible", timeout=10_000)
