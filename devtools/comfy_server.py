"""A real ComfyUI server on loopback with the pack in its custom_nodes/, for tests, the demo and the
workflow builder. Started as users start it (main.py), on a base directory of its own.

TCFG_FRONTEND_ROOT names another frontend build for it to serve (ComfyUI's --front-end-root: the static
folder of a comfyui-frontend-package wheel), to run the browser tier against a newer frontend than the
host's own.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.host import PACK_ROOT

STARTUP_SECONDS = 120
STAND_IN_TEXT_ENCODER = Path(__file__).with_name("stand_in_text_encoder.py")

# A test-only node that supplies Wan-shaped conditioning: text encoders cannot be built small.
TEST_CONDITIONING_NODE = '''
import torch

class TCFGTestWanConditioning:
    """Random embeddings of Wan's text width; another width makes the model fail at its first call."""
    @classmethod
    def INPUT_TYPES(cls):
        # width is optional: graphs written before it existed (and most tests) leave it out.
        return {"required": {"seed": ("INT", {"default": 0, "min": 0, "max": 2**31})},
                "optional": {"width": ("INT", {"default": 4096, "min": 1, "max": 8192})}}
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, seed, width=4096):
        g = torch.Generator().manual_seed(seed)
        return ([[torch.randn(1, 8, width, generator=g), {}]],)

class TCFGTestWait:
    """Holds the queue for a while, so that prompts queued behind it can be validated and withdrawn."""
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seconds": ("FLOAT", {"default": 1.0, "min": 0.0, "max": 60.0})}}
    RETURN_TYPES = ()
    FUNCTION = "wait"
    OUTPUT_NODE = True
    CATEGORY = "testing"

    def wait(self, seconds):
        import time
        time.sleep(seconds)
        return {}

NODE_CLASS_MAPPINGS = {"TCFGTestWanConditioning": TCFGTestWanConditioning, "TCFGTestWait": TCFGTestWait}
'''


def json_or_empty(body: bytes) -> dict:
    """Some ComfyUI routes (POST /queue, /interrupt) answer 200 with an empty body."""
    return json.loads(body) if body.strip() else {}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    pack_folder = "ComfyUI-TruncatedCFG"  # the pack's folder in custom_nodes/ (its web files: /extensions/<it>/)

    def __init__(self, host: Path, base: Path, stand_in_text_encoder: bool = True, other_packs: tuple = (),
                 env: dict | None = None):
        """``other_packs``: custom node folders copied into custom_nodes/ beside the pack (copied: some write into
        their own folder, as ComfyUI-Distributed its gpu_config.json); ``env``: variables set for this server."""
        self.host, self.base, self.port = host, base, free_port()
        self.stand_in_text_encoder = stand_in_text_encoder
        self.other_packs, self.env = tuple(Path(p) for p in other_packs), dict(env or {})
        self.log_path = base / "server.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ComfyServer":
        custom = self.base / "custom_nodes"
        custom.mkdir(parents=True, exist_ok=True)
        for entry in custom.iterdir():  # a base directory may be reused (the demo's); start from a known set
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        for pack in self.other_packs:
            shutil.copytree(pack, custom / pack.name, ignore=shutil.ignore_patterns(".git", "__pycache__"))
        (custom / self.pack_folder).symlink_to(PACK_ROOT, target_is_directory=True)
        (custom / "tcfg_test_conditioning.py").write_text(TEST_CONDITIONING_NODE)
        if self.stand_in_text_encoder:
            (custom / STAND_IN_TEXT_ENCODER.name).symlink_to(STAND_IN_TEXT_ENCODER)
        command = [sys.executable, str(self.host / "main.py"), "--cpu", "--listen", "127.0.0.1",
                   "--port", str(self.port), "--disable-auto-launch", "--base-directory", str(self.base),
                   "--database-url", "sqlite:///:memory:"]
        if os.environ.get("TCFG_FRONTEND_ROOT"):
            command += ["--front-end-root", os.environ["TCFG_FRONTEND_ROOT"]]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.host, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **self.env})
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited with {self.process.returncode}:\n{self.log_text()}")
            try:
                self.get("/system_stats")
                return self
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"ComfyUI did not answer within {STARTUP_SECONDS} s:\n{self.log_text()}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None:
            self.log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def get(self, path: str):
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json_or_empty(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json_or_empty(error.read())

    def validate_without_running(self, prompts: list[dict], hold_seconds: float = 5.0) -> list[tuple[int, dict]]:
        """POST /prompt each prompt behind a job that holds the queue, then withdraw them unrun.

        ComfyUI has no validate-only call: POST /prompt validates (400 with node_errors) and queues.
        """
        status, blocker = self.post("/prompt", {"prompt": {"1": {"class_type": "TCFGTestWait",
                                                                 "inputs": {"seconds": hold_seconds}}}})
        if status != 200:
            raise RuntimeError(f"could not queue the holding job: {blocker}")
        answers = [self.post("/prompt", {"prompt": prompt}) for prompt in prompts]
        queued = [answer["prompt_id"] for status, answer in answers if status == 200]
        pending = {item[1] for item in self.get("/queue")["queue_pending"]}
        if not set(queued) <= pending:
            raise RuntimeError("a validated prompt left the queue before it could be withdrawn; hold longer")
        self.post("/queue", {"delete": queued})
        self.wait_for(blocker["prompt_id"])
        return answers

    def poll(self, answer, seconds: float, waiting_for: str):
        """``answer()`` every 0.3 s until it is not None, and return it; fails if ComfyUI exits or time runs out."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            found = answer()
            if found is not None:
                return found
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited while running:\n{self.log_text()}")
            time.sleep(0.3)
        raise TimeoutError(f"{waiting_for} did not happen in {seconds} s")

    def wait_until_idle(self, seconds: float = 300) -> None:
        """Until nothing is running or pending: ComfyUI writes a prompt's history after its last node, which
        is later than the pack's last event about it."""
        def idle():
            queue = self.get("/queue")
            return True if not queue["queue_running"] and not queue["queue_pending"] else None
        self.poll(idle, seconds, "the queue emptying")

    def wait_for(self, prompt_id: str, seconds: float = 300) -> dict:
        def finished():
            entry = self.get(f"/history/{prompt_id}").get(prompt_id)
            return entry if entry is not None and entry.get("status", {}).get("completed") is not None else None
        return self.poll(finished, seconds, f"prompt {prompt_id} finishing")
