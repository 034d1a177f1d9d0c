"""A real ComfyUI server on loopback with the pack in its custom_nodes/ (host tier only)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from devtools.host import PACK_ROOT

STARTUP_SECONDS = 120

# A test-only node that supplies Wan-shaped conditioning: text encoders cannot be built small.
TEST_CONDITIONING_NODE = '''
import torch

class TCFGTestWanConditioning:
    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"seed": ("INT", {"default": 0, "min": 0, "max": 2**31})}}
    RETURN_TYPES = ("CONDITIONING",)
    FUNCTION = "make"
    CATEGORY = "testing"

    def make(self, seed):
        g = torch.Generator().manual_seed(seed)
        return ([[torch.randn(1, 8, 4096, generator=g), {}]],)

NODE_CLASS_MAPPINGS = {"TCFGTestWanConditioning": TCFGTestWanConditioning}
'''


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ComfyServer:
    def __init__(self, host: Path, base: Path):
        self.host, self.base, self.port = host, base, free_port()
        self.log_path = base / "server.log"
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ComfyServer":
        custom = self.base / "custom_nodes"
        custom.mkdir(parents=True, exist_ok=True)
        (custom / "ComfyUI-TruncatedCFG").symlink_to(PACK_ROOT, target_is_directory=True)
        (custom / "tcfg_test_conditioning.py").write_text(TEST_CONDITIONING_NODE)
        command = [sys.executable, str(self.host / "main.py"), "--cpu", "--listen", "127.0.0.1",
                   "--port", str(self.port), "--disable-auto-launch", "--base-directory", str(self.base),
                   "--database-url", "sqlite:///:memory:"]
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(command, cwd=self.host, stdout=self.log, stderr=subprocess.STDOUT)
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
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_for(self, prompt_id: str, seconds: float = 300) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            history = self.get(f"/history/{prompt_id}")
            if prompt_id in history and history[prompt_id].get("status", {}).get("completed") is not None:
                return history[prompt_id]
            if self.process.poll() is not None:
                raise RuntimeError(f"ComfyUI exited while running:\n{self.log_text()}")
            time.sleep(0.3)
        raise TimeoutError(f"prompt {prompt_id} did not finish in {seconds} s")
