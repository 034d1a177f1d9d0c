"""Live progress for the browser extension: namespaced events over ComfyUI's websocket.

Fire and forget: without a running PromptServer (API scripts, tests in one process) nothing is sent
and nothing else changes. As ComfyUI sends its own progress, the events go to the client that
queued the prompt (to every client for a prompt queued without one) and carry its ``prompt_id``,
so a strip in another tab, or for another prompt, ignores them. Step events are throttled, so a
1000-step run or a batch of videos sends a few per second at most; each carries every step that
changed since the previous one, so the browser never misses a step. The run's full ledger follows
at the end.
"""
from __future__ import annotations

import time
from typing import Optional

import comfy_execution.utils
from server import PromptServer

from ..sampling.experts import first_low_noise_step
from ..sampling.ledger import Ledger
from ..sampling.run import TruncationRun

EVENT_START = "truncated_cfg.start"
EVENT_STEP = "truncated_cfg.step"
EVENT_LEDGER = "truncated_cfg.ledger"
MIN_INTERVAL_S = 0.1


def send(event: str, data: dict, client_id: Optional[str] = None) -> bool:
    instance = getattr(PromptServer, "instance", None)
    if instance is None:
        return False
    instance.send_sync(event, data, client_id)
    return True


def current_prompt() -> tuple[Optional[str], Optional[str]]:
    """(the client that queued the executing prompt, its prompt_id), as ComfyUI's executor set them."""
    instance = getattr(PromptServer, "instance", None)
    context = comfy_execution.utils.get_executing_context()
    prompt_id = context.prompt_id if context is not None else getattr(instance, "last_prompt_id", None)
    return getattr(instance, "client_id", None), prompt_id


class RunReporter:
    """Reports one run of one node (the guider or the model patch) to the browser."""

    def __init__(self, node_id: str, run: TruncationRun, negative_model: bool = False):
        """``negative_model``: the guider runs its negative branch on a second model (its calls counted apart)."""
        self.node_id = node_id
        self.run = run
        self.negative_model = negative_model
        self.client_id, self.prompt_id = current_prompt()
        sockets = getattr(getattr(PromptServer, "instance", None), "sockets", None)
        # A client id no page of this server holds (a ComfyUI-Distributed worker runs the master page's prompts):
        # ComfyUI drops events to it without a word.
        self.nobody_listens = self.client_id is not None and sockets is not None and self.client_id not in sockets
        self.changed: dict[int, None] = {}  # the steps changed since the last event, in order
        self.last_sent = 0.0

    def _send(self, event: str, data: dict) -> None:
        send(event, {"node": self.node_id, "prompt_id": self.prompt_id, **data}, self.client_id)

    def start(self) -> None:
        schedule = self.run.schedule
        switch = None if self.run.boundary is None else first_low_noise_step(schedule, self.run.boundary)
        self._send(EVENT_START, {"steps": len(self.run.ledger.steps), "sigmas": schedule, "switch_step": switch,
                                 "negative_model": self.negative_model})

    def after_call(self, step: int) -> None:
        """After the ledger took a sampler call of ``step``: its counts include that call."""
        self.changed[step] = None
        now = time.monotonic()
        if now - self.last_sent < MIN_INTERVAL_S:
            return
        self.last_sent = now
        ledger = self.run.ledger
        self._send(EVENT_STEP, {"cells": [[i, ledger.steps[i].kind] for i in self.changed], "step": step,
                                "model_calls": ledger.model_calls, "model_calls_cached": ledger.model_calls_cached,
                                "model_calls_core": ledger.model_calls_core,
                                "model_calls_saved": ledger.model_calls_saved,
                                "negative_calls": ledger.negative_calls,
                                "negative_calls_core": ledger.negative_calls_core})
        self.changed = {}

    def finish(self, ledger: Ledger, seconds: float) -> None:
        self._send(EVENT_LEDGER, {"ledger": ledger.to_dict(), "seconds": seconds, "outcome": "finished",
                                  "negative_model": self.negative_model})

    def stopped(self, ledger: Ledger, seconds: float, outcome: str, message: str) -> None:
        """The run ended early (``outcome``: "interrupted" or "failed"): what ran until then."""
        self._send(EVENT_LEDGER, {"ledger": ledger.to_dict(), "seconds": seconds, "outcome": outcome,
                                  "message": message[:300], "negative_model": self.negative_model})
