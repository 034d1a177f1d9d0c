"""The pack across servers with ComfyUI-Distributed (robertvoy/ComfyUI-Distributed): a master and one worker on
loopback, each its own ComfyUI with the pack, as its README sets them up (a copy of ComfyUI-Distributed per
server, since it writes gpu_config.json into its folder; COMFYUI_IS_WORKER=1 on the worker). The Lumina 2
example workflow goes to POST /distributed/queue with DistributedSeed on the noise seed and DistributedCollector
after decoding; both servers must log the same saving and the master must save its picture and the worker's.
Skipped with the reason where ComfyUI-Distributed is not found (devtools/host.py find_distributed).
"""
import asyncio
import contextlib
import json
import random
import shutil
import threading

import pytest
from hostenv import require_host

HOST = require_host()

from devtools.comfy_server import ComfyServer  # noqa: E402
from devtools.host import find_distributed  # noqa: E402
from devtools.workflow_runs import SUMMARY, load_api, shrink  # noqa: E402

DISTRIBUTED, WHY = find_distributed(HOST)
pytestmark = pytest.mark.skipif(DISTRIBUTED is None, reason=WHY)
STEPS = 8
WORKER_ID = "1"
CLIENT_ID = "tcfg-test"


@contextlib.contextmanager
def page_listening(server, client_id):
    """A page's websocket on ``server`` under ``client_id``, as the master's browser tab holds one."""
    import aiohttp

    connected, done = threading.Event(), threading.Event()

    async def listen():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{server.url}/ws?clientId={client_id}") as ws:
                connected.set()
                while not done.is_set():
                    with contextlib.suppress(asyncio.TimeoutError):
                        await ws.receive(timeout=0.5)

    thread = threading.Thread(target=asyncio.run, args=(listen(),), daemon=True)
    thread.start()
    assert connected.wait(30), f"no websocket on {server.url}"
    try:
        yield
    finally:
        done.set()
        thread.join(10)


def staged(tmp_path, name, config=None):
    """A copy of ComfyUI-Distributed for one server, with its gpu_config.json where one is given."""
    copy = tmp_path / name / DISTRIBUTED.name
    shutil.copytree(DISTRIBUTED, copy, ignore=shutil.ignore_patterns(".git", "__pycache__", "gpu_config.json"))
    if config is not None:
        (copy / "gpu_config.json").write_text(json.dumps(config))
    return copy


def base_on(tmp_path, name, model_tree_base):
    """A server's base directory on the shared small models."""
    base = tmp_path / f"{name}_base"
    base.mkdir()
    for folder in ("models", "input"):
        (base / folder).symlink_to(model_tree_base / folder, target_is_directory=True)
    return base


def distributed_prompt(seed):
    """The shrunk Lumina 2 workflow with DistributedSeed on its noise and DistributedCollector before saving."""
    prompt = shrink(load_api("lumina2_t2i_truncated_cfg"), STEPS)
    ids = {node["class_type"]: key for key, node in prompt.items()}
    prompt["900"] = {"class_type": "DistributedSeed", "inputs": {"seed": seed}}
    prompt["901"] = {"class_type": "DistributedCollector",
                     "inputs": {"images": [ids["VAEDecode"], 0], "load_balance": False}}
    prompt[ids["RandomNoise"]]["inputs"]["noise_seed"] = ["900", 0]
    prompt[ids["SaveImage"]]["inputs"]["images"] = ["901", 0]
    return prompt


@pytest.fixture(scope="module")
def servers(tmp_path_factory, model_tree_base):
    tmp = tmp_path_factory.mktemp("distributed")
    worker = ComfyServer(HOST, base_on(tmp, "worker", model_tree_base), other_packs=(staged(tmp, "worker"),),
                         env={"COMFYUI_IS_WORKER": "1"})
    worker.start()
    config = {"master": {"host": "127.0.0.1"},
              "workers": [{"id": WORKER_ID, "name": "worker 1", "host": "127.0.0.1", "port": worker.port,
                           "enabled": True, "type": "remote"}]}
    master = ComfyServer(HOST, base_on(tmp, "master", model_tree_base), other_packs=(staged(tmp, "master", config),))
    try:
        master.start()
    except RuntimeError:
        worker.stop()
        raise
    yield master, worker
    master.stop()
    worker.stop()


def test_master_and_worker_each_save_as_one_server_does_and_the_master_collects_both(servers):
    master, worker = servers
    worker_log_start = len(worker.log_text())
    seed = random.randrange(1, 2**31)  # a seed ComfyUI's cache has not seen: sampling runs every time
    with page_listening(master, CLIENT_ID):
        status, answer = master.post("/distributed/queue", {"prompt": distributed_prompt(seed), "client_id": CLIENT_ID,
                                                            "enabled_worker_ids": [WORKER_ID]})
        assert status == 200 and answer["worker_count"] == 1, (status, answer, master.log_text()[-3000:])
        history = master.wait_for(answer["prompt_id"], seconds=600)
    assert history["status"]["status_str"] == "success", master.log_text()[-3000:]
    saved = [item for output in history["outputs"].values() for item in output.get("images", [])]
    assert len(saved) == 2, saved  # the master's picture and the worker's, 1 + N
    worker.wait_until_idle()
    # Each server logs the single-server saving: Lumina's cfg_trunc_ratio 0.25 at 8 steps truncates 6.
    for server, text in ((master, master.log_text()), (worker, worker.log_text()[worker_log_start:])):
        found = SUMMARY.findall(text)
        assert found, f"{server.url} logged no Truncated CFG summary"
        steps, truncated, calls, core = (int(v) for v in found[-1][:4])
        assert (steps, truncated, calls, core) == (STEPS, 6, 2 * 2 + 6, 2 * STEPS)
    # The worker runs the prompt for the master page's client, which is not connected to it: said, not dropped.
    assert f"the page that queued this prompt (client {CLIENT_ID}) is not connected to this server" in worker.log_text()
    assert "is not connected to this server" not in master.log_text()
