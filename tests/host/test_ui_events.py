"""The events the web extension listens to: throttled, complete, and absent without a server."""
import pytest
import torch
from hostenv import require_host

require_host()

import server  # noqa: E402

from truncated_cfg.nodes import ui_events  # noqa: E402
from truncated_cfg.sampling.policy import TruncationPolicy  # noqa: E402
from truncated_cfg.sampling.run import TruncationRun  # noqa: E402


class Recorder:
    """Stands in for ComfyUI's PromptServer while a prompt of client "tab-1" runs."""

    client_id = "tab-1"
    last_prompt_id = "prompt-9"

    def __init__(self):
        self.events = []
        self.sids = set()

    def send_sync(self, event, data, sid=None):
        self.events.append((event, data))
        self.sids.add(sid)


def test_without_a_running_server_nothing_is_sent_and_nothing_fails():
    assert getattr(server.PromptServer, "instance", None) is None
    assert ui_events.send(ui_events.EVENT_STEP, {"node": "1"}) is False


def test_a_thousand_step_run_sends_a_few_events_that_still_name_every_step(monkeypatch):
    recorder = Recorder()
    monkeypatch.setattr(server.PromptServer, "instance", recorder, raising=False)
    schedule = [1.0 - i / 1000 for i in range(1001)]
    run = TruncationRun(TruncationPolicy(cfg_truncate_steps=100), schedule)
    reporter = ui_events.RunReporter("7", run)
    reporter.start()
    x = torch.zeros(1, 2)
    for sigma in schedule[:-1]:
        plan = run.plan(sigma, 4.0)
        run.complete(plan, x, torch.tensor([sigma]), [x, x], plan.branches)
        reporter.after_call(plan.step)
    reporter.finish(run.finish(), 1.5)
    kinds = [event for event, _ in recorder.events]
    assert kinds[0] == ui_events.EVENT_START and kinds[-1] == ui_events.EVENT_LEDGER
    steps = [data for event, data in recorder.events if event == ui_events.EVENT_STEP]
    assert 1 <= len(steps) <= 20, "step events must be throttled"
    named = [cell[0] for data in steps for cell in data["cells"]]
    assert named == sorted(set(named)) and named[0] == 0
    assert steps[0]["cells"][0] == [0, "full"] and steps[0]["model_calls"] == 2  # counts include the call just made
    assert steps[0]["model_calls_saved"] == 0  # the ledger's count: step 0 runs full CFG
    # Only to the client that queued the prompt, each naming it.
    assert recorder.sids == {"tab-1"} and {data["prompt_id"] for _, data in recorder.events} == {"prompt-9"}
    # Decisions not yet sent when the run ends arrive with the ledger, which names every step.
    ledger = recorder.events[-1][1]["ledger"]
    assert len(ledger["steps"]) == 1000 and ledger["truncated_steps"] == list(range(900, 1000))
    assert recorder.events[0][1]["node"] == "7" and recorder.events[-1][1]["seconds"] == pytest.approx(1.5)
