"""Headless Chromium on ComfyUI's frontend, through Playwright (Debian's chromium, never a download)."""
from __future__ import annotations

import contextlib
import json
import shutil
import sys

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]


def missing() -> str | None:
    """Why the browser cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install playwright)"
    if not shutil.which(CHROMIUM):
        return "Chromium is not installed (apt-get install chromium)"
    return None


# A fresh user would first see the template browser and the minimap; the pages here start on the graph.
FRONTEND_SETTINGS = {"Comfy.TutorialCompleted": True, "Comfy.Minimap.Visible": False}


# The frontend loads extensions before it registers node definitions, so a registered guider has the strip's hooks.
PACK_READY_JS = "() => Boolean(window.app?.graph && window.LiteGraph?.registered_node_types?.TruncatedCFGGuider)"


def open_comfy(browser, url: str, width: int, height: int):
    """A new page (a tab of its own) with ComfyUI's app loaded; console errors and warnings collected in
    ``page.console_errors``."""
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    response = page.request.post(f"{url}/settings", data=FRONTEND_SETTINGS)
    if not response.ok:
        raise RuntimeError(f"ComfyUI refused the frontend settings: {response.status}")
    page.console_errors = []
    page.on("console", lambda m: page.console_errors.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))
    page.goto(url)
    # The graph exists before the node definitions are registered; a workflow loaded in between has no pack
    # nodes (seen under parallel test load).
    page.wait_for_function(PACK_READY_JS, timeout=90_000)
    return page


@contextlib.contextmanager
def comfy_pages(url: str, count: int, width: int = 1600, height: int = 900):
    """``count`` tabs on ComfyUI's frontend, each a client of its own to the server."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield [open_comfy(browser, url, width, height) for _ in range(count)]
        finally:
            browser.close()


@contextlib.contextmanager
def comfy_page(url: str, width: int = 1600, height: int = 900):
    """A page with ComfyUI's app loaded; console errors and warnings collected in ``page.console_errors``."""
    with comfy_pages(url, 1, width, height) as (page,):
        yield page


BUILD_GRAPH_JS = """(spec) => {
    const graph = window.app.graph;
    graph.clear();
    const made = window.tcfgMade = {};  // the nodes by their spec key, for the blueprint builder
    for (const n of spec.nodes) {
        const node = window.LiteGraph.createNode(n.type);
        if (!node) throw new Error(`unknown node type ${n.type}`);
        node.pos = n.pos;
        graph.add(node);
        for (const [name, value] of Object.entries(n.widgets)) {
            const widget = (node.widgets || []).find((w) => w.name === name);
            if (!widget) throw new Error(`${n.type} has no widget ${name}`);
            widget.value = value;
        }
        made[n.key] = node;
    }
    for (const [src, slot, dst, input] of spec.links) {
        const index = made[dst].findInputSlot(input);
        if (index < 0) throw new Error(`${made[dst].type} has no input ${input}`);
        if (!made[src].connect(slot, made[dst], index)) {
            throw new Error(`cannot link ${src}.${slot} -> ${dst}.${input}`);
        }
    }
    for (const n of spec.nodes) {
        const node = made[n.key];
        const size = node.computeSize();
        node.setSize([Math.max(size[0], n.node_width || 0), size[1]]);
    }
    graph.setDirtyCanvas(true, true);
    // Through JSON.stringify, as the frontend saves files: undefined fields are dropped, not sent as null.
    return JSON.stringify(graph.serialize());
}"""


@contextlib.contextmanager
def page_on_new_server(host, base):
    """A ComfyUI server on ``base`` with the pack, and a page on its frontend (``page.server``)."""
    from devtools.comfy_server import ComfyServer

    server = ComfyServer(host, base).start()
    try:
        with comfy_page(server.url) as page:
            page.server = server
            yield page
    finally:
        server.stop()


try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
except ImportError:  # without playwright, missing() says so before anything needs this
    PlaywrightTimeout = TimeoutError


class Unavailable(RuntimeError):
    """No ComfyUI host, or no browser, for a builder script: the message says which."""


def write_json(path, data) -> None:
    """As the builders save what the frontend made: indented, UTF-8 kept, a newline at the end."""
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def run_builder(build, width: int = 1600, height: int = 900) -> int:
    """A builder script's main: ``build(page)`` on the demo's models; 2, after saying why, without a host or browser."""
    try:
        with page_on_demo_models(width, height) as page:
            build(page)
    except Unavailable as why:
        print(f"error: {why}", file=sys.stderr)
        return 2
    return 0


@contextlib.contextmanager
def page_on_demo_models(width: int = 1600, height: int = 900):
    """For the builder scripts: ComfyUI with the pack on out/comfy/'s small model tree, and a page on it;
    the page's console errors are printed at the end."""
    from devtools.comfy_server import ComfyServer
    from devtools.host import PACK_ROOT, import_host
    from devtools.test_cache import link_model_tree

    host, reason = import_host()
    if host is None:
        raise Unavailable(reason)
    if missing():
        raise Unavailable(missing())
    work = PACK_ROOT / "out" / "comfy"
    link_model_tree(work)
    server = ComfyServer(host, work).start()
    try:
        with comfy_page(server.url, width, height) as page:
            page.server = server
            yield page
            if page.console_errors:
                print("console errors:", *page.console_errors, sep="\n  ")
    finally:
        server.stop()
