"""Browser tier: the pack's nodes in ComfyUI's real frontend, in headless Chromium (Playwright).

Needs a ComfyUI host, the ``playwright`` Python package and Debian's Chromium at /usr/bin/chromium
(never ``playwright install``); skips with the missing piece named otherwise.
"""
import pytest
from hostenv import require_host

require_host()

from devtools import browser  # noqa: E402
from sampling.keep import KEEP_MODES  # noqa: E402
from sampling.rules import INPUTS  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)


POLICY_WIDGETS = [row.name for row in INPUTS] + ["truncated_cfg_strip"]
NODES = {
    "TruncatedCFGGuider": ("Truncated CFG Guider", ["model", "positive", "negative", "model_negative"],
                           ["cfg"] + POLICY_WIDGETS),
    "TruncatedCFGModelPatch": ("Truncated CFG (model patch)", ["model"], POLICY_WIDGETS),
    "TruncatedCFGRenorm": ("CFG Renorm", ["model"], ["renorm_cfg", "mode"]),
    "TruncatedCFGLumina2Loader": ("Lumina2 Loader", [],
                                  ["unet_name", "clip_name", "vae_name", "shift", "weight_dtype"]),
    "TruncatedCFGWanA14BLoader": ("Wan A14B Loader", [], ["high_noise_unet", "low_noise_unet", "clip_name", "vae_name",
                                                         "task", "shift", "boundary", "weight_dtype"]),
    "TruncatedCFGWanA14BExperts": ("Wan A14B Experts", ["high_noise_model", "low_noise_model"], ["task", "boundary"]),
}


def test_every_node_can_be_added_with_its_title_sockets_and_widgets(page):
    added = page.evaluate("""(ids) => Object.fromEntries(ids.map((id) => {
        const node = window.LiteGraph.createNode(id);
        window.app.graph.add(node);
        return [id, {title: node.title,
                     widgets: (node.widgets || []).map((w) => w.name),
                     links: (node.inputs || []).filter((i) => !i.widget).map((i) => i.name)}];
    }))""", list(NODES))
    for node_id, (title, links, widgets) in NODES.items():
        assert added[node_id]["title"] == title
        assert added[node_id]["links"] == links
        assert added[node_id]["widgets"] == widgets


def test_widget_defaults_are_the_documented_ones(page):
    values = page.evaluate("""() => {
        const node = window.LiteGraph.createNode("TruncatedCFGGuider");
        return Object.fromEntries(node.widgets.filter((w) => w.name !== "truncated_cfg_strip")
            .map((w) => [w.name, w.value]));
    }""")
    assert values == {"cfg": 4, **{row.name: row.default for row in INPUTS}}
    assert (values["cfg_truncate_steps"], values["cfg_trunc_ratio"], values["keep"]) == (5, 1, "cond")


def test_keep_offers_every_mode(page):
    options = page.evaluate("""() => window.LiteGraph.createNode("TruncatedCFGGuider").widgets
        .find((w) => w.name === "keep").options.values""")
    assert options == list(KEEP_MODES) and options[:4] == ["cond", "uncond", "reuse", "reuse_extrapolated"]


def test_no_console_message_mentions_the_pack(page):
    # A fresh server logs a few harmless 404s of its own; none may come from the pack.
    ours = [e for e in page.console_errors if "TruncatedCFG" in e or "truncated" in e.lower()]
    assert ours == []
