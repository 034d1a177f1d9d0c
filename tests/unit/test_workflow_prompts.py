"""The prompt edits the demo and the tests make to the published workflows (no host needed)."""
import importlib.util

from devtools.host import PACK_ROOT
from devtools.workflow_runs import SUMMARY, load_api, shrink, without_truncation
from devtools.workflow_specs import WORKFLOWS
from sampling.ledger import Ledger

NAMES = sorted(WORKFLOWS)


def nodes_of(prompt, class_type):
    return [n["inputs"] for n in prompt.values() if n["class_type"] == class_type]


def test_shrink_changes_size_frames_and_steps_only():
    for name in NAMES:
        published = load_api(name)
        small = shrink(published, steps=7, side=32)
        for key, node in published.items():
            changed = {k for k in node["inputs"] if node["inputs"][k] != small[key]["inputs"][k]}
            assert changed <= {"width", "height", "length", "steps"}, (name, node["class_type"], changed)
        for inputs in nodes_of(small, "BasicScheduler") + nodes_of(small, "KSampler") \
                + nodes_of(small, "Ideogram4Scheduler"):
            assert inputs["steps"] == 7
        for inputs in nodes_of(small, "Ideogram4Scheduler"):  # its size shapes the sigmas; it refuses under 256
            assert (inputs["width"], inputs["height"]) == (1024, 1024)
        for inputs in nodes_of(small, "EmptyHunyuanLatentVideo") + nodes_of(small, "WanImageToVideo"):
            assert (inputs["width"], inputs["height"], inputs["length"]) == (32, 32, 1)


def test_without_truncation_turns_every_rule_off_and_nothing_else():
    wan = without_truncation(load_api("wan22_t2v_a14b_truncated_cfg"))
    (guider,) = nodes_of(wan, "TruncatedCFGGuider")
    assert (guider["cfg_truncate_steps"], guider["cfg_trunc_ratio"]) == (0, 1.0)
    assert (guider["cfg"], guider["cfg_low_noise"]) == (4.0, 3.0)
    (patch,) = nodes_of(without_truncation(load_api("lumina2_t2i_truncated_cfg_ksampler")), "TruncatedCFGModelPatch")
    assert (patch["cfg_truncate_steps"], patch["cfg_trunc_ratio"]) == (0, 1.0)
    (reuse,) = nodes_of(without_truncation(load_api("wan22_t2v_a14b_reuse_cfg")), "TruncatedCFGGuider")
    assert (reuse["cfg_every"], reuse["keep"]) == (0, "reuse_extrapolated")  # every rule off: full CFG


def test_published_settings_are_the_documented_ones():
    (lumina,) = nodes_of(load_api("lumina2_t2i_truncated_cfg"), "TruncatedCFGGuider")
    assert (lumina["cfg"], lumina["cfg_trunc_ratio"], lumina["cfg_truncate_steps"]) == (4.0, 0.25, 0)
    (i2v,) = nodes_of(load_api("wan22_i2v_a14b_truncated_cfg"), "TruncatedCFGGuider")
    assert (i2v["cfg"], i2v["cfg_low_noise"], i2v["cfg_truncate_steps"]) == (3.5, 3.5, 5)
    (reuse,) = nodes_of(load_api("wan22_t2v_a14b_reuse_cfg"), "TruncatedCFGGuider")
    assert (reuse["cfg"], reuse["cfg_low_noise"], reuse["keep"], reuse["cfg_every"]) == (4.0, 3.0,
                                                                                         "reuse_extrapolated", 8)
    cached = load_api("wan22_t2v_a14b_reuse_cache")
    (guider,) = nodes_of(cached, "TruncatedCFGGuider")
    assert {k: v for k, v in guider.items() if k != "model"} == {k: v for k, v in reuse.items() if k != "model"}
    assert guider["step_cache"] == "coordinate" and guider["model"][0] in cached  # the LazyCache node's output
    (cache,) = nodes_of(cached, "LazyCache")
    assert (cache["reuse_threshold"], cache["start_percent"], cache["end_percent"]) == (0.3, 0.15, 0.95)
    (loader,) = nodes_of(load_api("wan22_i2v_a14b_truncated_cfg"), "TruncatedCFGWanA14BLoader")
    assert loader["task"] == "i2v" and (loader["shift"], loader["boundary"]) == (0, 0)  # 0 = the task's official


def test_demo_reseeds_every_sampler_so_the_cache_cannot_skip_it():
    spec = importlib.util.spec_from_file_location("run_demo", PACK_ROOT / "demo" / "run_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    for name in NAMES:
        prompt = load_api(name)
        moved = demo.reseeded(prompt, 1000)
        seeds = [(n["inputs"].get("noise_seed", n["inputs"].get("seed")), m["inputs"].get("noise_seed",
                 m["inputs"].get("seed"))) for n, m in zip(prompt.values(), moved.values(), strict=True)
                 if "seed" in n["inputs"] or "noise_seed" in n["inputs"]]
        assert seeds and all(after == before + 1000 for before, after in seeds)


def test_demo_warms_up_only_where_a_workflow_loads_other_files_than_the_last():
    spec = importlib.util.spec_from_file_location("run_demo", PACK_ROOT / "demo" / "run_demo.py")
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    files = {name: demo.model_files(load_api(name)) for name in NAMES}
    assert files["z_image_t2i_truncated_cfg"] == files["z_image_t2i_reuse_cfg"]
    assert "z_image_bf16.safetensors" in files["z_image_t2i_reuse_cfg"]
    assert files["wan22_t2v_a14b_reuse_cfg"] != files["wan22_i2v_a14b_truncated_cfg"]  # other experts
    assert files["lumina2_t2i_truncated_cfg"] != files["z_image_t2i_truncated_cfg"]


def logged(ledger) -> str:
    """The line the pack logs after a run (nodes/run_log.py), for this ledger."""
    return f"[Truncated CFG] {ledger.summary()}; sampling 3.00 s"


def test_the_log_summary_of_every_kind_of_run_parses():
    ledger = Ledger.for_schedule([1.0 - i / 40 for i in range(41)])
    for step in ledger.steps:
        step.sampler_calls, step.full, step.model_calls = 1, step.index < 35, 2 if step.index < 35 else 1
        step.planned, step.model_calls_core = "full" if step.full else "cond", 2
    assert SUMMARY.findall(logged(ledger)) == [("40", "5", "75", "80", "6.2", "", "", "", "", "3.00")]
    for step in ledger.steps[1:35]:
        step.full, step.kept, step.planned, step.model_calls = False, "reuse", "reuse", 1
    ledger.steps[20].model_calls, ledger.steps[20].model_calls_cached = 0, 1
    assert SUMMARY.findall(logged(ledger)) == [("40", "39", "40", "80", "48.8", "33", "0", "1", "1", "3.00")]
    for step in ledger.steps:
        step.full, step.planned, step.kept, step.model_calls, step.model_calls_cached = True, "cfg1", None, 1, 0
        step.model_calls_core = 1
    ledger.not_finite_from = 12
    line = logged(ledger)
    assert "at cfg 1 ComfyUI runs no negative branch, so there is none to skip" in line
    assert "output not finite from step 13" in line
    assert SUMMARY.findall(line) == [("40", "0", "40", "40", "0.0", "", "", "", "", "3.00")]
