"""Running the example workflows' API prompts on a real ComfyUI server, small enough for a CPU.

Shared by the demo and the tests: a prompt is shrunk (image size, frames, steps) without touching
its truncation settings, queued through POST /prompt, and read back: outputs from /history, wall
time from the executor's own start and success timestamps, the ledger from the pack's log line.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from pathlib import Path

from devtools.host import PACK_ROOT

API_DIR = PACK_ROOT / "workflows" / "api"
SUMMARY = re.compile(r"\[Truncated CFG\] (\d+) steps, (\d+) truncated, model calls (\d+) / (\d+) "
                     r"\(([\d.]+) % saved(?:; [^)]*)?\)(?:, guidance reused on (\d+) steps, refreshed on (\d+))?"
                     r"(?:, (\d+) model calls cached \((\d+) whole steps\))?(?:, output not finite from step \d+)?"
                     r"; sampling ([\d.]+) s")
TRUNCATING_NODES = ("TruncatedCFGGuider", "TruncatedCFGModelPatch")


def load_api(name: str) -> dict:
    return json.loads((API_DIR / f"{name}.json").read_text())


def shrink(prompt: dict, steps: int, side: int = 64, frames: int = 1) -> dict:
    """The same graph at ``side`` x ``side`` pixels, ``frames`` video frames, ``steps`` steps; truncation untouched."""
    small = copy.deepcopy(prompt)
    for node in small.values():
        inputs = node["inputs"]
        scheduler = node["class_type"].endswith("Scheduler")
        # A model's own scheduler (Ideogram4Scheduler) reads the size only to shape its sigmas, and refuses 64.
        for key, value in (("width", side), ("height", side), ("length", frames)):
            if key in inputs and not scheduler:
                inputs[key] = value
        if scheduler or node["class_type"] == "KSampler":
            inputs["steps"] = steps
    return small


def without_truncation(prompt: dict) -> dict:
    """The same graph with every truncation rule off: full CFG on every step."""
    from sampling.rules import RULES

    full = copy.deepcopy(prompt)
    for node in full.values():
        if node["class_type"] in TRUNCATING_NODES:
            inputs = node["inputs"]
            inputs.update({row.name: row.off for row in RULES if row.name in inputs or row.required})
    return full


@dataclass
class RunResult:
    status: str
    seconds: float  # the whole graph, as ComfyUI's executor timed it
    outputs: list[str]  # files written, relative to the server's output folder
    steps: int
    truncated: int
    model_calls: int  # branches the network ran
    model_calls_core: int  # what ComfyUI's own CFGGuider would have run
    saved_percent: float  # what the pack saved of that
    reused: int  # truncated steps that reused guidance (keep = reuse)
    refreshed: int
    model_calls_cached: int  # branches a step cache answered
    cached_steps: int  # steps a step cache answered whole
    sampling_seconds: float  # the sampler alone, as the pack timed it


def run(server, prompt: dict, timeout: float = 600) -> RunResult:
    log_start = len(server.log_text())
    status, answer = server.post("/prompt", {"prompt": prompt})
    if status != 200 or answer.get("node_errors"):
        raise RuntimeError(f"ComfyUI refused the prompt ({status}): {json.dumps(answer, indent=1)[:2000]}")
    history = server.wait_for(answer["prompt_id"], timeout)
    stamps = {name: data.get("timestamp") for name, data in history["status"].get("messages", [])}
    seconds = (stamps.get("execution_success", 0) - stamps.get("execution_start", 0)) / 1000.0
    outputs = [str(Path(item.get("subfolder", "")) / item["filename"])
               for node_output in history.get("outputs", {}).values()
               for key in ("images", "gifs", "videos") for item in node_output.get(key, [])]
    found = SUMMARY.findall(server.log_text()[log_start:])
    if not found:
        raise RuntimeError("the run logged no Truncated CFG summary")
    steps, truncated, model_calls, full, saved, reused, refreshed, cached, cached_steps, sampling = found[-1]
    return RunResult(history["status"]["status_str"], seconds, outputs, int(steps), int(truncated), int(model_calls),
                     int(full), float(saved), int(reused or 0), int(refreshed or 0), int(cached or 0),
                     int(cached_steps or 0), float(sampling))
