"""The log lines of one run: its notes and setup at the start, its counts at the end."""
from __future__ import annotations

import logging

from ..sampling.ledger import Ledger
from ..sampling.run import TruncationRun
from .multi_gpu import cfg_split_note

LOG_PREFIX = "[Truncated CFG]"
log = logging.getLogger(__name__)


def log_start(run: TruncationRun, guider) -> None:
    split = cfg_split_note(guider.model_patcher)
    if split is not None:
        log.info("%s %s", LOG_PREFIX, split)
    for note in run.ledger.notes:
        log.warning("%s %s", LOG_PREFIX, note)


def log_unreported(client_id) -> None:
    log.info("%s the page that queued this prompt (client %s) is not connected to this server, so no step strip "
             "shows this run (a ComfyUI-Distributed worker runs its master page's prompts); the counts are in the "
             "line this log prints after it", LOG_PREFIX, client_id)


def log_finish(ledger: Ledger, seconds: float, guider) -> None:
    log.info("%s %s; sampling %.2f s", LOG_PREFIX, ledger.summary(), seconds)
    if getattr(guider, "negative_patcher", None) is not None:  # the guider's model_negative (guider.py)
        log.info("%s the negative model ran %d model calls (core's DualModelGuider: %d), the model %d",
                 LOG_PREFIX, ledger.negative_calls, ledger.negative_calls_core,
                 ledger.model_calls - ledger.negative_calls)
