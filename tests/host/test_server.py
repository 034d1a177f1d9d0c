"""The pack in a real ComfyUI server: it registers, validates, and runs a graph through the executor."""
import json

import pytest
from hostenv import require_host

HOST = require_host()

from devtools.comfy_server import ComfyServer  # noqa: E402

from devtools.checkpoints import save_wan  # noqa: E402
from sampling.keep import KEEP_MODES  # noqa: E402

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
    assert "[Truncated CFG] 6 steps, 2 truncated, model calls 10 / 12 (16.7 % saved)" in server.log_text()


def test_out_of_range_input_is_refused_before_anything_runs(server):
    policy = {"cfg_truncate_steps": 2, "cfg_trunc_ratio": 1.5, "keep": "cond"}
    status, answer = server.post("/prompt", {"prompt": ksampler_graph(policy)})
    assert status == 400
    errors = answer["node_errors"]["2"]["errors"]
    assert any("cfg_trunc_ratio" in e["details"] or "cfg_trunc_ratio" in e["message"] for e in errors), errors


def test_one_patched_model_in_two_samplers_keeps_two_ledgers(server):
    graph = ksampler_graph({"cfg_truncate_steps": 2, "cfg_trunc_ratio": 1.0, "keep": "cond"}, steps=6)
    graph["7"]["inputs"]["seed"] = 17  # not a graph an earlier test ran: ComfyUI would reuse its cached result
    graph["9"] = {"class_type": "KSampler", "inputs": {**graph["7"]["inputs"], "steps": 4, "seed": 5}}
    graph["10"] = {"class_type": "SaveLatent", "inputs": {"samples": ["9", 0], "filename_prefix": "tcfg_test_b"}}
    start = len(server.log_text())
    status, answer = server.post("/prompt", {"prompt": graph})
    assert status == 200, answer
    assert server.wait_for(answer["prompt_id"])["status"]["status_str"] == "success"
    log = server.log_text()[start:]
    assert "[Truncated CFG] 6 steps, 2 truncated, model calls 10 / 12" in log
    assert "[Truncated CFG] 4 steps, 2 truncated, model calls 6 / 8" in log


@pytest.mark.parametrize("name, value, words", [
    ("cfg_truncate_steps", "five", "cfg_truncate_steps"),
    ("cfg_truncate_steps", -1, "cfg_truncate_steps"),
    ("cfg_low_noise", -2.0, "cfg_low_noise"),
    ("sigma_high", "high", "sigma_high"),
])
def test_wrong_kinds_and_ranges_through_the_api_are_refused_by_name(server, name, value, words):
    policy = {"cfg_truncate_steps": 2, "cfg_trunc_ratio": 1.0, "keep": "cond", name: value}
    status, answer = server.post("/prompt", {"prompt": ksampler_graph(policy)})
    assert status == 400
    errors = answer["node_errors"]["2"]["errors"]
    assert any(words in (e.get("details", "") + e.get("message", "") + str(e.get("extra_info", ""))) for e in errors), \
        errors


def test_an_unknown_choice_through_the_api_fails_the_node_with_the_choices_named(server):
    # ComfyUI v0.3.64 does not check V3 combo values when validating; the node itself refuses them.
    status, answer = server.post("/prompt", {"prompt": ksampler_graph(
        {"cfg_truncate_steps": 2, "cfg_trunc_ratio": 1.0, "keep": "both"})})
    if status == 400:
        assert "keep" in json.dumps(answer["node_errors"])
        return
    result = server.wait_for(answer["prompt_id"])
    assert result["status"]["status_str"] == "error"
    failure = next(data for kind, data in result["status"]["messages"] if kind == "execution_error")
    assert failure["node_type"] == "TruncatedCFGModelPatch"
    assert f"keep must be one of {', '.join(KEEP_MODES)}, got 'both'" in failure["exception_message"]


def guider_graph(cfg, seed: int = 11) -> dict:
    return {
        "1": {"class_type": "UNETLoader", "inputs": {"unet_name": "wan_tiny.safetensors", "weight_dtype": "default"}},
        "2": {"class_type": "TCFGTestWanConditioning", "inputs": {"seed": 1}},
        "3": {"class_type": "TCFGTestWanConditioning", "inputs": {"seed": 2}},
        "4": {"class_type": "TruncatedCFGGuider", "inputs": {
            "model": ["1", 0], "positive": ["2", 0], "negative": ["3", 0], "cfg": cfg, "cfg_truncate_steps": 1,
            "cfg_trunc_ratio": 1.0, "keep": "cond"}},
        "5": {"class_type": "RandomNoise", "inputs": {"noise_seed": seed}},
        "6": {"class_type": "KSamplerSelect", "inputs": {"sampler_name": "euler"}},
        "7": {"class_type": "BasicScheduler", "inputs": {"model": ["1", 0], "scheduler": "simple", "steps": 3,
                                                         "denoise": 1.0}},
        "8": {"class_type": "EmptyHunyuanLatentVideo", "inputs": {"width": 32, "height": 32, "length": 1,
                                                                  "batch_size": 1}},
        "9": {"class_type": "SamplerCustomAdvanced", "inputs": {"noise": ["5", 0], "guider": ["4", 0],
                                                                "sampler": ["6", 0], "sigmas": ["7", 0],
                                                                "latent_image": ["8", 0]}},
        "10": {"class_type": "SaveLatent", "inputs": {"samples": ["9", 0], "filename_prefix": "tcfg_guider"}},
    }


@pytest.mark.parametrize("cfg", [float("nan"), float("inf"), 250.0])
def test_a_guidance_scale_that_is_not_a_number_or_out_of_range_is_refused_by_name_before_anything_runs(server, cfg):
    status, answer = server.post("/prompt", {"prompt": guider_graph(cfg)})
    assert status == 400, answer
    errors = json.dumps(answer["node_errors"]["4"])
    assert "cfg" in errors and ("finite" in errors or "must be in [0, 100]" in errors), errors


def test_the_guider_graph_runs_with_a_good_scale(server):
    status, answer = server.post("/prompt", {"prompt": guider_graph(4.0)})
    assert status == 200 and not answer.get("node_errors"), answer
    assert server.wait_for(answer["prompt_id"])["status"]["status_str"] == "success"
