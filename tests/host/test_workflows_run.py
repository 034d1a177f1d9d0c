"""The example workflows executed end to end by a real ComfyUI server on small checkpoints.

The API prompts in workflows/api/ are what the frontend's app.graphToPrompt() makes of the UI files
(the browser tier checks that). Here they run shrunk (64 px, one frame, 8 steps) on small models
with the users' file names. Text encoders are stand-ins (devtools/stand_in_text_encoder.py): real
ones cannot be built small. Everything else, loaders and decoding and saving included, is real.
"""
import urllib.request

import pytest
from hostenv import require_host

HOST = require_host()

from devtools.comfy_server import ComfyServer  # noqa: E402
from devtools.workflow_runs import load_api, run, shrink  # noqa: E402
from devtools.workflow_specs import WORKFLOWS, not_on_this_host  # noqa: E402

STEPS = 8
# (truncated steps, what the log must show) per workflow at 8 steps:
EXPECTED = {
    "lumina2_t2i_truncated_cfg": 6,  # cfg_trunc_ratio 0.25: steps 2..7
    "lumina2_t2i_truncated_cfg_ksampler": 6,
    "netayume_lumina_t2i_truncated_cfg": 6,  # Lumina 2's recipe on core's template
    "wan22_t2v_a14b_truncated_cfg": 5,  # cfg_truncate_steps 5
    "wan22_i2v_a14b_truncated_cfg": 5,
    "wan22_t2v_a14b_reuse_cfg": 6,  # cfg_every 8: steps 1..7, but the first after the expert switch runs full CFG
    "wan22_t2v_a14b_reuse_cache": 6,  # the same, LazyCache answering some of them
    "z_image_t2i_truncated_cfg": 1,  # z_image_cfg_truncation 0.5 at shift 3: step 7 (step 6, at sigma 0.5, is guided)
    "z_image_t2i_reuse_cfg": 6,  # cfg_every 4: steps 1..3 and 5..7
    "qwen_image_t2i_rescale_cfg": 0,  # QwenImagePipeline's recipe: full CFG on every step, rescaled
    "qwen_image_t2i_reuse_cfg": 7,
    "wan22_ti2v_5b_truncated_cfg": 5,  # cfg_truncate_steps 5
    "ideogram4_t2i_reuse_cfg": 6,  # cfg_every 4: steps 1..3 and 5..7 (CFGOverride's cfg 3 is not cfg 1)
    "flux2_klein_t2i_reuse_cfg": 6,  # cfg_every 4
    "qwen_image_edit_2511_reuse_cfg": 2,  # cfg_every 8, at 3 steps (below)
    "hunyuan_video_15_t2v_reuse_cfg": 6,  # cfg_every 4
}
# Fewer steps where each model call is slow on a CPU: Qwen-Image-Edit's reference latents are 1 megapixel whatever
# the picture's size (TextEncodeQwenImageEditPlus scales them so), 4,096 tokens through the full-width layer.
STEPS_OF = {"qwen_image_edit_2511_reuse_cfg": 3}
RUNNABLE = sorted(name for name in EXPECTED if not_on_this_host(name) is None)


def runnable(name):
    reason = not_on_this_host(name)
    if reason is not None:
        pytest.skip(f"{name}: {reason}")


@pytest.fixture(scope="module")
def server(model_tree_base):
    running = ComfyServer(HOST, model_tree_base).start()
    yield running
    running.stop()


def test_the_specs_and_the_files_name_the_same_workflows():
    assert set(EXPECTED) == set(WORKFLOWS)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_workflow_runs_and_truncates_the_expected_steps(server, name):
    runnable(name)
    steps = STEPS_OF.get(name, STEPS)
    result = run(server, shrink(load_api(name), steps))
    assert result.status == "success"
    assert (result.steps, result.truncated) == (steps, EXPECTED[name])
    assert result.model_calls <= result.model_calls_core and result.sampling_seconds > 0
    assert (result.model_calls < result.model_calls_core) == (EXPECTED[name] > 0)
    # Each truncated step either reused the guidance or came whole from the cache (never a full step).
    # (Wan A14B: the first step after the expert switch runs full CFG, refreshed.)
    reused = (0, 0) if "reuse" not in name else (6, 1) if name.startswith("wan22") else (EXPECTED[name], 0)
    assert (result.reused + result.cached_steps, result.refreshed) == reused
    # Every planned branch either ran or came from the cache: two a full step, one a truncated one.
    assert result.model_calls + result.model_calls_cached == 2 * (steps - result.truncated) + result.truncated
    assert result.outputs, "the workflow saved nothing"
    for output in result.outputs:
        assert (server.base / "output" / output).stat().st_size > 0


def test_workflows_as_published_pass_comfyui_validation(server):
    # Full size and step count, as users load them; validated by POST /prompt, withdrawn before running.
    # (A workflow whose model this ComfyUI does not know is left out: its files are not in the tree.)
    answers = server.validate_without_running([load_api(name) for name in RUNNABLE])
    for name, (status, answer) in zip(RUNNABLE, answers, strict=True):
        assert status == 200 and answer["node_errors"] == {}, (name, answer)
        assert answer["prompt_id"] not in server.get("/history"), f"{name} ran; it should only be validated"


def test_template_browser_lists_the_workflows_and_serves_thumbnails(server):
    listed = server.get("/workflow_templates")
    assert sorted(listed["ComfyUI-TruncatedCFG"]) == sorted(EXPECTED)
    for name in EXPECTED:
        with urllib.request.urlopen(f"{server.url}/api/workflow_templates/ComfyUI-TruncatedCFG/{name}.jpg") as r:
            assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg" and len(r.read()) > 1000
