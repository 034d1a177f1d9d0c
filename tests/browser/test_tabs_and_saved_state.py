"""Browser tier: one tab's run paints that tab's strip only, and a saved strip that cannot be drawn is dropped."""
import copy

import pytest
from hostenv import require_host

HOST = require_host()

from devtools import browser  # noqa: E402

if browser.missing():
    pytest.skip(browser.missing(), allow_module_level=True)

from strip_page import CELLS_JS, STATE_JS, load, node_path, run_and_wait, workflow  # noqa: E402

STEPS = 6
NAME = "wan22_t2v_a14b_truncated_cfg"


@pytest.fixture(scope="module")
def server(model_tree_base):
    from devtools.comfy_server import ComfyServer

    running = ComfyServer(HOST, model_tree_base).start()
    yield running
    running.stop()


def test_a_run_in_one_tab_never_paints_the_same_workflow_in_another(server):
    with browser.comfy_pages(server.url, 2) as (first, second):
        for tab in (first, second):
            tab.server = server
            load(tab, workflow(NAME), STEPS)
        path = node_path(first, "TruncatedCFGGuider")
        second.evaluate("""() => {
            window.tcfgSeen = [];
            for (const kind of ["start", "step", "ledger"]) {
                window.app.api.addEventListener(`truncated_cfg.${kind}`, () => window.tcfgSeen.push(kind));
            }
        }""")
        state = run_and_wait(first, path)
        assert state["outcome"] == "finished"
        server.wait_until_idle()
        assert second.evaluate(STATE_JS, path) is None, "the other tab's strip was painted"
        assert second.evaluate("() => window.tcfgSeen") == [], "the other tab was sent the run's events"


def with_saved_strip(strip):
    graph = copy.deepcopy(workflow(NAME))
    (guider,) = [n for n in graph["nodes"] if n["type"] == "TruncatedCFGGuider"]
    guider.setdefault("properties", {})["truncated_cfg"] = strip
    return graph, str(guider["id"])


GOOD = {"version": 3, "promptId": "p", "steps": 3, "cells": ["full", "reuse", None], "current": -1,
        "switchStep": None, "modelCalls": 3, "modelCallsCached": 0, "modelCallsCore": 4, "nothingToSkip": False,
        "notFiniteFrom": None, "seconds": 1.5, "relDiff": [[0, 0.2]],
        "done": True, "outcome": "finished", "message": "", "lastStep": 1}
BAD = {
    "an older pack's": {"steps": 3, "cells": ["full", "cond", "cond"], "branches": 4, "branchesFull": 6},
    "not an object": "full,full,cond",
    "cells of another length": {**GOOD, "cells": ["full"]},
    "an unknown kind": {**GOOD, "cells": ["full", "boom", None]},
    "a step past the end": {**GOOD, "current": 7},
    "a negative count": {**GOOD, "modelCalls": -5},
    "a saved count that is not a number": {**GOOD, "modelCallsSaved": "5"},
    "a broken chart": {**GOOD, "relDiff": [[0]]},
}


@pytest.fixture(scope="module")
def page(server):
    with browser.comfy_page(server.url) as tab:
        tab.server = server
        yield tab


def test_a_saved_strip_is_drawn_again_when_the_workflow_loads(page):
    graph, node_id = with_saved_strip(GOOD)
    load(page, graph, STEPS)
    assert page.evaluate(STATE_JS, node_id) == GOOD
    assert [kind for kind, _ in page.evaluate(CELLS_JS, node_id)] == ["full", "reuse", "empty"]


@pytest.mark.parametrize("what", sorted(BAD))
def test_a_saved_strip_that_cannot_be_drawn_is_dropped_and_the_node_still_works(page, what):
    errors_before = len(page.console_errors)
    graph, node_id = with_saved_strip(BAD[what])
    load(page, graph, STEPS)
    assert page.evaluate(STATE_JS, node_id) is None
    assert page.evaluate(CELLS_JS, node_id) == [], "the strip draws its empty state"
    assert page.evaluate("(id) => window.tcfgFind(id).widgets.find((w) => w.name === 'cfg').value", node_id) == 4
    ours = [m for m in page.console_errors[errors_before:] if "truncated" in m.lower() or "tcfg" in m.lower()]
    assert ours == []
