"""The quality harness on ComfyUI: the shipped digits and shapes models, their training scripts, and tiny sweeps."""
import json
import sys

import numpy as np
import pytest
import torch
from hostenv import require_host

require_host()

import comfy.model_base  # noqa: E402
import comfy.model_management  # noqa: E402
import safetensors  # noqa: E402

from devtools.host import PACK_ROOT  # noqa: E402
from quality import train_digits  # noqa: E402
from quality.settings import (FULL, LAST_N, NO_CFG, SCHEDULE, UNCOND_KEPT, Setting, cache_settings,  # noqa: E402
                              sweep_settings)
from quality.judge import Judge  # noqa: E402
from quality.sweep import (DEFAULT_WEIGHTS, SweepConfig, load_harness_model, load_two_experts,  # noqa: E402
                           run_settings, run_sweep)
from sampling.rules import cfg_schedule_scales  # noqa: E402


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_shipped_weights_are_small_and_carry_their_provenance(name):
    from quality import train_shapes
    from quality.harness_models import MODELS
    from quality.training import state_digest

    harness, trainer = MODELS[name], {"digits": train_digits, "shapes": train_shapes}[name]
    assert harness.weights.stat().st_size <= 5_000_000
    with safetensors.safe_open(str(harness.weights), "pt") as f:
        meta = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    assert meta["truncated_cfg.provenance"].startswith(harness.trainer)
    assert json.loads(meta["truncated_cfg.arch"]) == trainer.ARCH
    assert json.loads(meta["truncated_cfg.args"])["seed"] == 0
    assert meta["truncated_cfg.weights_sha256"] == state_digest(state)


def test_comfyui_loads_the_digits_model_as_a_wan_t2v_model():
    model = load_harness_model(DEFAULT_WEIGHTS, shift=3.0)
    assert isinstance(model.model, comfy.model_base.WAN21)
    assert model.model.diffusion_model.dim == train_digits.ARCH["dim"]
    assert len(model.model.diffusion_model.blocks) == train_digits.ARCH["num_layers"]
    assert model.get_model_object("model_sampling").shift == 3.0


def test_a_missing_weights_file_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="train it with python quality/train_digits.py"):
        load_harness_model(tmp_path / "none.safetensors", shift=3.0)


def tiny_training(seed):
    args = train_digits.parse_args(["--steps", "3", "--batch", "8", "--seed", str(seed)])
    state, _ = train_digits.train(args, log=lambda line: None)
    return train_digits.state_digest(state)


def test_training_is_deterministic_and_follows_the_seed():
    threads = torch.get_num_threads()
    switch_before = getattr(comfy.model_management, "in_training", "absent")
    try:
        first, again, other = tiny_training(0), tiny_training(0), tiny_training(1)
    finally:
        torch.set_num_threads(threads)
    assert first == again
    assert other != first
    # ComfyUI's training switch (0.33: the plain torch rope, which has a backward) is left as it was.
    assert getattr(comfy.model_management, "in_training", "absent") == switch_before


@pytest.fixture(scope="module")
def tiny_sweep():
    settings = [Setting(FULL, "full CFG"), Setting(NO_CFG, "cfg 1", cfg_one=True),
                Setting(LAST_N, "last 2", {"cfg_truncate_steps": 2}),
                Setting(UNCOND_KEPT, "last 2, keep uncond", {"cfg_truncate_steps": 2, "keep": "uncond"}),
                Setting("renorm", "renorm 1.0, full CFG", renorm_cfg=1.0)]
    config = SweepConfig(per_class=2, steps=4)
    return run_sweep(settings, config, log=lambda line: None)


def test_tiny_sweep_counts_the_calls_the_model_ran(tiny_sweep):
    by = {r["label"]: r for r in tiny_sweep}
    assert by["full CFG"]["model_calls"] == 8 and by["full CFG"]["model_calls_saved"] == 0.0
    assert by["cfg 1"]["model_calls"] == 4 and by["cfg 1"]["model_calls_saved"] == 0.5
    assert by["last 2"]["model_calls"] == 6 and by["last 2"]["truncated_steps"] == [2, 3]
    assert by["last 2, keep uncond"]["truncated_steps"] == [2, 3]
    assert by["full CFG"]["truncated_steps"] == []
    for r in tiny_sweep:
        assert 0.0 <= r["accuracy"] <= 1.0 and r["frechet"] >= 0.0 and r["diversity"] > 0.0


def test_keeping_uncond_gives_other_samples_than_keeping_cond(tiny_sweep):
    by = {r["label"]: r for r in tiny_sweep}
    assert by["last 2"]["frechet"] != by["last 2, keep uncond"]["frechet"]


def test_shipped_model_meets_the_accuracy_target_with_full_cfg():
    """The issue's target: the judge finds the asked-for class in >= 90% of full-CFG samples."""
    config = SweepConfig(per_class=20)
    rows = run_sweep([Setting(FULL, "full CFG")], config, log=lambda line: None)
    assert rows[0]["accuracy"] >= 0.90


def test_shipped_shapes_model_needs_guidance_and_its_judge_is_not_saturated():
    """Issue 24's harder model: full CFG reads well under every class (measured 0.855 on seed 1, 100 samples),
    and cfg 1 clearly fewer (0.69), so a setting that loses guidance shows in accuracy, not only in drift."""
    from quality.harness_models import SHAPES

    def accuracy(cfg: float) -> float:
        config = SweepConfig(per_class=20, cfg=cfg, shift=SHAPES.shift, seed=1, model=SHAPES)
        return run_sweep([Setting(FULL, "full CFG")], config, log=lambda line: None)[0]["accuracy"]

    guided, unguided = accuracy(2.0), accuracy(1.0)
    assert 0.75 <= guided < 0.95
    assert guided - unguided >= 0.08


def test_the_benchmark_command_writes_table_picks_and_plot_on_a_tiny_run(tmp_path):
    sys.path.insert(0, str(PACK_ROOT / "benchmarks"))
    import quality_harness

    from quality.sweep import has_core_override

    assert quality_harness.main(["--model", "digits", "--full", "--per-class", "2", "--steps", "4", "--samplers",
                                 "euler,uni_pc", "--no-experts", "--no-long-run", "--cache-runs", "euler:6",
                                 "--cache-per-class", "2", "--out-dir", str(tmp_path)]) == 0
    text = (tmp_path / "quality.md").read_text()
    results = json.loads((tmp_path / "quality.json").read_text())
    assert list(results["samplers"]) == ["euler", "uni_pc"] and results["experts"] == results["long_run"] == []
    settings = sweep_settings(4, SweepConfig().cfg, has_core_override())
    for sampler, rows in results["samplers"].items():
        assert [r["label"] for r in rows] == [s.label for s in settings]
        assert rows[0]["drift"] == 0.0 and all(r["drift"] >= 0.0 for r in rows)
        # A cfg_schedule's steps at scale 1 ran one call each, counted as truncated; the others full CFG.
        for setting, r in zip(settings, rows, strict=True):
            if setting.family == SCHEDULE:
                at_one = [i for i, scale in enumerate(cfg_schedule_scales(setting.policy["cfg_schedule"]))
                          if scale == 1.0]
                assert at_one and r["truncated_steps"] == at_one and r["model_calls"] == 2 * 4 - len(at_one)
        # Picked on one seed, reported on another: the same settings, other samples.
        tuning = results["tuning"][sampler]
        assert [r["label"] for r in tuning] == [r["label"] for r in rows]
        assert [r["drift"] for r in tuning] != [r["drift"] for r in rows]
        floor = results["floors"][sampler]  # full CFG from the tuning seed, the report seed and four others
        assert len(floor["accuracies"]) == 6 and floor["accuracies"][:2] == [tuning[0]["accuracy"], rows[0]["accuracy"]]
    sweep_part = text.split("## With a step cache")[0]
    table_lines = sum(line.startswith("| ") for line in sweep_part.splitlines())
    assert table_lines == 2 * (1 + len(settings))  # a header and a row per setting, per sampler
    assert "## euler" in text and "## uni_pc" in text
    assert "Settings saving the most calls within 1%" in text and "The picture full CFG makes" in text
    assert ("Run: `bash benchmarks/quality.sh --model digits --full --per-class 2 --steps 4 --samplers euler,uni_pc"
            in text)
    assert "Settings are picked on seed 0 and every number here is seed 1's. Noise floor: full CFG from 6 seeds" in text
    assert "2 samples per class, 4 euler steps, 4 uni_pc steps (simple)" in text
    for plot in ("quality_pareto.png", "quality_pareto_uni_pc.png", "quality_caches_euler_6.png"):
        assert (tmp_path / plot).read_bytes()[:4] == b"\x89PNG"
    # The step caches: every setting ran, its ledger agreeing with the rows the network ran (sweep.sample checks).
    (cache_rows,) = results["caches"].values()
    assert [r["label"] for r in cache_rows] == [s.label for s in cache_settings()]  # every cache: each image alone
    assert "## With a step cache" in text and "### euler, 6 steps" in text
    by = {r["label"]: r for r in cache_rows}
    assert by["full CFG"]["model_calls"] == 12 and by["every 4, reuse_extrapolated"]["model_calls"] == 2 * 2 + 4
    for cache in ("LazyCache", "EasyCache"):
        assert by[f"{cache} 0.3 + every 4, coordinate"]["model_calls"] <= 8


def test_the_two_expert_digits_model_counts_both_networks_and_refreshes_at_the_switch():
    sys.path.insert(0, str(PACK_ROOT / "benchmarks"))
    import quality_harness

    model = load_two_experts(DEFAULT_WEIGHTS, DEFAULT_WEIGHTS, 1.0, quality_harness.EXPERT_BOUNDARY)
    config = SweepConfig(per_class=2, steps=20)
    rows = {r["label"]: r for r in run_settings(model, quality_harness.expert_settings(), config, Judge(),
                                                log=lambda line: None)}
    # Full CFG on steps 0, 4, 8, 12, 16, reuse between; the low-noise expert takes over at step 3.
    shipped = rows["every 4, reuse, full CFG after the switch"]
    assert shipped["model_calls"] == 2 * 6 + 14 and 3 not in shipped["truncated_steps"]
    kept = rows["every 4, reuse, cond after the switch"]
    assert kept["model_calls"] == 2 * 5 + 15 and 3 in kept["truncated_steps"]
    assert rows["full CFG"]["model_calls"] == 40 and rows["full CFG"]["drift"] == 0.0


@pytest.fixture(scope="module")
def tiny_shapes_weights(tmp_path_factory):
    """A shapes model trained for two steps: not a generator, but a file of the shapes model's layout."""
    import safetensors.torch

    from quality import train_shapes

    out = tmp_path_factory.mktemp("shapes") / "shapes.safetensors"
    threads = torch.get_num_threads()
    try:
        state, meta = train_shapes.train(train_shapes.parse_args(["--steps", "2", "--batch", "4", "--out", str(out)]),
                                         log=lambda line: None)
    finally:
        torch.set_num_threads(threads)
    safetensors.torch.save_file(state, str(out), metadata=meta)
    return out


def test_the_shapes_trainer_writes_a_file_comfyui_loads_as_wan_and_samples_at_sixty_four_tokens(tiny_shapes_weights):
    from quality import shapes_data, train_shapes

    from quality.training import build_model

    out = tiny_shapes_weights
    with safetensors.safe_open(str(out), "pt") as f:
        assert f.metadata()["truncated_cfg.provenance"].startswith("quality/train_shapes.py")
        saved = {k: f.get_tensor(k) for k in f.keys()}
    # The prompt embedding is frozen at its start; everything else trained.
    start = build_model(train_shapes.ARCH, seed=0, identity_blocks_at_start=True).state_dict()
    embedding = [k for k in saved if k.startswith("text_embedding.")]
    assert len(embedding) == 4 and all(torch.equal(saved[k], start[k].to(torch.float16)) for k in embedding)
    assert not torch.equal(saved["blocks.0.cross_attn.v.weight"], start["blocks.0.cross_attn.v.weight"].half())
    model = load_harness_model(out, shift=1.0)
    assert isinstance(model.model, comfy.model_base.WAN21)
    assert len(model.model.diffusion_model.blocks) == train_shapes.ARCH["num_layers"]
    x = shapes_data.to_model_space(shapes_data.real_set(1, seed=3)[0][:2])
    with torch.inference_mode():
        pred = model.model.diffusion_model(x, torch.full((2,), 500.0), shapes_data.class_context([0, 1]))
    assert pred.shape == x.shape and torch.isfinite(pred).all()


def test_the_benchmark_runs_the_shapes_model_through_the_same_sweep_into_its_own_report(tiny_shapes_weights, tmp_path):
    sys.path.insert(0, str(PACK_ROOT / "benchmarks"))
    import quality_harness

    from quality.harness_models import SHAPES

    from quality.settings import focused_settings
    from quality.sweep import has_core_override

    assert quality_harness.main(["--model", "shapes", "--weights", str(tiny_shapes_weights), "--per-class", "2",
                                 "--samplers", "euler:4", "--no-long-run", "--cache-runs", "",
                                 "--out-dir", str(tmp_path)]) == 0
    assert not (tmp_path / "quality.md").exists()  # the digits model's report is left alone
    text = (tmp_path / "quality_shapes.md").read_text()
    results = json.loads((tmp_path / "quality_shapes.json").read_text())
    assert results["config"]["model"] == "shapes" and results["config"]["weights"] == str(tiny_shapes_weights)
    assert results["config"]["shift"] == SHAPES.shift == 3.0 and "shift 3.0" in text
    rows = results["samplers"]["euler"]
    assert results["config"]["grid"] == "focused" and "## euler, 4 steps" in text
    assert [r["label"] for r in rows] == [s.label for s in focused_settings(4, has_core_override())]
    assert rows[0]["model_calls"] == 8 and rows[1]["model_calls"] == 4  # full CFG, then cfg 1
    by = {r["label"]: r for r in rows}
    if has_core_override():
        # Core's own truncation keeps cond on the steps its range covers: the pack keeping cond on the same steps
        # makes the same picture with the same calls, and its reuse runs those calls too.
        for part in ("last 25%", "last 50%"):
            core, cond = by[f"core CFGOverride cfg 1, {part}"], by[f"{part}, keep cond"]
            assert core["truncated_steps"] == cond["truncated_steps"] != []
            for key in ("model_calls", "accuracy", "drift", "frechet"):
                assert core[key] == cond[key], key
            assert by[f"{part}, reuse_extrapolated"]["model_calls"] == core["model_calls"]
        assert "Core's own truncation against the pack at equal model calls" in text and "(core's picture)" in text
    else:
        assert "no rows of core's own truncation" in text
    # Its own judge and span: drift is a share of the pictures' range [-1, 1], whatever a two-step model draws.
    assert all(0.0 <= r["drift"] <= 1.0 and 0.0 <= r["accuracy"] <= 1.0 for r in rows)
    assert text.startswith("# Quality harness: shapes") and SHAPES.about in text
    assert "a small convolutional classifier" in text and "/ 2 (the pictures' value span)" in text
    assert (tmp_path / "quality_shapes_pareto.png").stat().st_size > 0


def test_identity_blocks_start_as_the_identity_and_leave_every_other_draw_as_it_was():
    from quality import shapes_data, train_shapes
    from quality.training import BLOCK_OUTPUTS, build_model

    full = build_model(train_shapes.ARCH, seed=4)
    identity = build_model(train_shapes.ARCH, seed=4, identity_blocks_at_start=True)
    full_state, identity_state = full.state_dict(), identity.state_dict()
    for name, weight in identity_state.items():
        if name.endswith(BLOCK_OUTPUTS):
            assert not weight.any() and full_state[name].any(), name
        else:
            assert torch.equal(weight, full_state[name]), name
    # Cross-attention's output stays random: the prompt reaches every block from the first step.
    assert all(identity_state[f"blocks.{i}.cross_attn.o.weight"].any() for i in range(len(identity.blocks)))
    # Each block then returns what it was given plus its prompt's one vector on every token (cross-attention
    # over a one-token prompt), whatever the time and the rope.
    x = torch.randn(2, 16, 1, 16, 16, generator=torch.Generator().manual_seed(1))
    seen = []
    hooks = [block.register_forward_hook(lambda module, args, kwargs, out: seen.append((args[0], out)),
                                         with_kwargs=True) for block in identity.blocks]
    try:
        with torch.no_grad():
            identity(x, torch.tensor([300.0, 900.0]), shapes_data.class_context([0, 7]))
    finally:
        for hook in hooks:
            hook.remove()
    assert len(seen) == len(identity.blocks)
    for given, returned in seen:
        added = returned - given  # (prompt, token, channel)
        assert torch.allclose(added, added[:, :1].expand_as(added), atol=1e-5)
        assert (added[0, 0] - added[1, 0]).abs().max() > 1e-3  # the two prompts add different vectors


def test_a_step_cache_row_samples_each_image_alone_from_the_noise_it_has_in_the_batch(monkeypatch):
    from quality import sweep
    from quality.settings import CACHE_ALONE, StepCacheSetting

    model = load_harness_model(DEFAULT_WEIGHTS, 1.0)
    config = SweepConfig(per_class=1, steps=6)
    full = Setting(FULL, "full CFG")
    batch, _, _ = sweep.sample(model, full, config)
    labels = config.labels()
    alone = np.concatenate([sweep.sample_images(model, full, config, labels[i:i + 1], [i])[0] for i in (0, 4, 9)])
    np.testing.assert_allclose(alone, batch[[0, 4, 9]], atol=1e-3)
    assert np.abs(batch[0] - batch[4]).max() > 1.0  # the images differ: each has its own noise

    batches = []
    real = sweep.sample_images
    monkeypatch.setattr(sweep, "sample_images", lambda *a: batches.append(a[4]) or real(*a))
    cached = Setting(CACHE_ALONE, "LazyCache 0.3 alone", cache=StepCacheSetting("LazyCache", 0.3), core_guider=True)
    images, rows, _ = sweep.sample(model, cached, config)
    assert batches == [[i] for i in range(10)] and images.shape == (10, 8, 8)
    assert rows < 10 * 2 * config.steps  # the cache answered some calls, image by image
    batches.clear()
    sweep.sample(model, full, config)
    assert batches == [list(range(10))]  # no cache: one batch
