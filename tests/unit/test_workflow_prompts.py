"""The prompt edits the demo and the tests make to the published workflows (no host needed)."""
import importlib.util

from devtools.host import PACK_ROOT
from devtools.workflow_runs import SUMMARY, load_api, shrink, without_truncation

NAMES = ["lumina2_t2i_truncated_cfg", "lumina2_t2i_truncated_cfg_ksampler", "wan22_t2v_a14b_truncated_cfg",
         "wan22_i2v_a14b_truncated_cfg", "wan22_t2v_a14b_reuse_cfg"]


def nodes_of(prompt, class_type):
    return [n["inputs"] for n in prompt.values() if n["class_type"] == class_type]


def test_shrink_changes_size_frames_and_steps_only():
    for name in NAMES:
        published = load_api(name)
        small = shrink(published, steps=7, side=32)
        for key, node in published.items():
            changed = {k for k in node["inputs"] if node["inputs"][k] != small[key]["inputs"][k]}
            assert changed <= {"width", "height", "length", "steps"}, (name, node["class_type"], changed)
        for inputs in nodes_of(small, "BasicScheduler") + nodes_of(small, "KSampler"):
            assert inputs["steps"] == 7
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


def test_the_log_summary_parses():
    line = "[Truncated CFG] 40 steps, 5 truncated, branch evaluations 75 / 80 (6.2 % saved); sampling 12.34 s"
    assert SUMMARY.findall(line) == [("40", "5", "75", "80", "6.2", "", "", "12.34")]
    reuse = ("[Truncated CFG] 40 steps, 34 truncated, branch evaluations 46 / 80 (42.5 % saved), guidance reused on "
             "34 steps, refreshed on 1; sampling 3.00 s")
    assert SUMMARY.findall(reuse) == [("40", "34", "46", "80", "42.5", "34", "1", "3.00")]
