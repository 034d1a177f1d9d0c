"""Live progress for the browser extension: namespaced events over ComfyUI's websocket.

Fire and forget: without a running PromptServer (API scripts, tests in one process) nothing is sent
and nothing else changes. Step events are throttled, so a 1000-step run or a batch of videos sends
a few per second at most; each carries every decision made since the previous one, so the browser
never misses a step. The run's full ledger follows at the end.
"""
from __future__ import annotations

import time
from typing import Optional

from server import PromptServer

from ..sampling.experts import first_low_noise_step
from ..sampling.ledger import BRANCHES_PER_FULL_CALL, Ledger
from ..sampling.run import StepDecision, TruncationRun

EVENT_START = "truncated_cfg.start"
EVENT_STEP = "truncated_cfg.step"
EVENT_LEDGER = "truncated_cfg.ledger"
MIN_INTERVAL_S = 0.1


def send(event: str, data: dict) -> bool:
    instance = getattr(PromptServer, "instance", None)
    if instance is None:
        return False
    instance.send_sync(event, data)
    return True


class RunReporter:
    """Reports one run of one node (the guider or the model patch) to the browser."""

    def __init__(self, node_id: str, run: TruncationRun):
        self.node_id = node_id
        self.run = run
        self.pending: list[list] = []
        self.last_step: Optional[int] = None
        self.last_sent = 0.0

    def start(self) -> None:
        schedule = self.run.schedule
        switch = None if self.run.boundary is None else first_low_noise_step(schedule, self.run.boundary)
        send(EVENT_START, {"node": self.node_id, "steps": len(self.run.ledger.steps), "sigmas": schedule,
                           "switch_step": switch})

    def call(self, decision: StepDecision, branches: int) -> None:
        """Announce a call about to run; ``branches``, the halves it evaluates, are counted with it."""
        if decision.step != self.last_step:
            self.last_step = decision.step
            self.pending.append([decision.step, decision.full, decision.keep, decision.refreshed])
        now = time.monotonic()
        if self.pending and now - self.last_sent >= MIN_INTERVAL_S:
            self.last_sent = now
            ledger = self.run.ledger
            send(EVENT_STEP, {"node": self.node_id, "decisions": self.pending, "step": decision.step,
                              "branches": ledger.branches + branches,
                              "branches_full_cfg": ledger.branches_full_cfg + BRANCHES_PER_FULL_CALL})
            self.pending = []

    def finish(self, ledger: Ledger, seconds: float) -> None:
        send(EVENT_LEDGER, {"node": self.node_id, "ledger": ledger.to_dict(), "seconds": seconds,
                            "outcome": "finished"})

    def stopped(self, ledger: Ledger, seconds: float, outcome: str, message: str) -> None:
        """The run ended early (``outcome``: "interrupted" or "failed"): what ran until then."""
        send(EVENT_LEDGER, {"node": self.node_id, "ledger": ledger.to_dict(), "seconds": seconds,
                            "outcome": outcome, "message": message[:300]})
