"""The pack in a real ComfyUI server: it registers, validates, and runs a graph through the executor."""
import pytest
from hostenv import require_host

HOST = require_host()

from devtools.comfy_server import ComfyServer  # noqa: E402

from devtools.checkpoints import save_wan  # noqa: E402

NODE_IDS = ["TruncatedCFGGuider", "TruncatedCFGModelPatch", "TruncatedCFGRenorm", "TruncatedCFGLumina2Loader",
            "TruncatedCFGWanA14BLoader", "TruncatedCFGWanA14BExperts"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("comfy")
    save_wan(base / "models" / "diffusion_models" / "wan_tiny.safetensors", dim=128, layers=1)
    running = ComfyServer(HOST, base).start()
    yield running
    running.stop()


def ksampler_graph(policy: dict, steps: int = 6) -> dict:
    patch = {"model": ["1", 0], **policy}
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "wan_tiny.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "TruncatedCFGModelPatch", "inputs": patch},
        "3": {"class_type": "TruncatedCFGRenorm", "inputs": {"model": ["2", 0], "renorm_cfg": 1.0, "mode": "lumina"}},
        "4": {"class_type": "TCFGTestWanConditioning", "inputs": {"seed": 1}},
        "5": {"class_type": "TCFGTestWanConditioning", "inputs": {"seed": 2}},
        "6": {"class_type": "EmptyHunyuanLatentVideo",
              "inputs": {"width": 32, "height": 32, "length": 1, "batch_size": 2}},
        "7": {"class_type": "KSampler", "inputs": {
            "model": ["3", 0], "seed": 3, "steps": steps, "cfg": 4.0, "sampler_name": "euler", "scheduler": "simple",
            "positive": ["4", 0], "negative": ["5", 0], "latent_image": ["6", 0], "denoise": 1.0}},
        "8": {"class_type": "SaveLatent", "inputs": {"samples": ["7", 0], "filename_prefix": "tcfg_test"}},
    }


def test_object_info_lists_every_node_and_the_log_has_no_pack_warning(server):
    info = server.get("/object_info")
    for node_id in NODE_IDS:
        assert node_id in info, f"{node_id} missing from /object_info"
    assert info["TruncatedCFGGuider"]["display_name"] == "Truncated CFG Guider"
    # Core logs its own import failures (torchaudio); none may name the pack.
    pack_lines = [line for line in server.log_text().splitlines() if "TruncatedCFG" in line or "Truncated CFG" in line]
    assert pack_lines, "the pack does not appear in the server's import log"
    assert not [line for line in pack_lines if "IMPORT FAILED" in line or "WARNING" in line or "rror" in line]


def test_a_ksampler_graph_with_the_patch_and_renorm_runs_and_reports(server):
    policy = {"cfg_truncate_steps": 2, "cfg_trunc_ratio": 1.0, "keep": "cond"}
    status, answer = server.post("/prompt", {"prompt": ksampler_graph(policy)})
    assert status == 200 and not answer.get("node_errors"), answer
    result = server.wait_for(answer["prompt_id"])
    assert result["status"]["status_str"] == "success", result["status"]
    assert "[Truncated CFG] 6 steps, 2 truncated, branch evaluations 10 / 12 (16.7 % saved)" in server.log_text()


def test_out_of_range_input_is_refused_before_anything_runs(server):
    policy = {"cfg_truncate_steps": 2, "cfg_trunc_ratio": 1.5, "keep": "cond"}
    status, answer = server.post("/prompt", {"prompt": ksampler_graph(policy)})
    assert status == 400
    errors = answer["node_errors"]["2"]["errors"]
    assert any("cfg_trunc_ratio" in e["details"] or "cfg_trunc_ratio" in e["message"] for e in errors), errors
