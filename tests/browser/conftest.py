"""The browser tier's page: ComfyUI's frontend in headless Chromium, on a server with the pack."""
import pytest


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    from hostenv import require_host

    host = require_host()
    from devtools import browser

    if browser.missing():
        pytest.skip(browser.missing())
    with browser.page_on_new_server(host, tmp_path_factory.mktemp("comfy")) as tab:
        yield tab
