"""The browser tier's page: ComfyUI's frontend in headless Chromium, on a server with the pack."""
import pytest


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from hostenv import require_host

    host = require_host()
    from devtools import browser
    from devtools.comfy_server import ComfyServer

    if browser.missing():
        pytest.skip(browser.missing())
    server = ComfyServer(host, tmp_path_factory.mktemp("comfy")).start()
    try:
        with browser.comfy_page(server.url) as tab:
            tab.server = server
            yield tab
    finally:
        server.stop()
