"""The quality harness's pieces that need no ComfyUI: data mapping, judge, settings, Pareto picks, report."""
import numpy as np
import pytest
import torch

from quality import digits_data
from quality.judge import Judge, frechet_distance, mean_pairwise_distance
from quality.pareto import BY_DRIFT, best_at_full_cfg_quality, best_within, pareto_front
from quality.report import (_steps, markdown_table, picks, plot_cache_front, plot_pareto, same_picture_picks,
                            same_picture_picks_by_family, save_sample_grid)
from quality.settings import (CACHE_ALONE, CACHE_ANSWERED, CORE_OVERRIDE_FROM, CORE_TRUNCATION, FAMILIES,
                              FOCUSED_CACHE_THRESHOLDS, FULL, NO_CFG, REUSE, SCHEDULE, STACKED_COORDINATED,
                              STACKED_INDEPENDENT, Z_IMAGE, cache_settings, core_truncation_settings,
                              focused_cache_settings, focused_settings, recipe_settings, sweep_settings)
from sampling.policy import TruncationPolicy
from sampling.rules import OFF as RULES_OFF
from sampling.rules import RULES, cfg_schedule_scales


@pytest.fixture(scope="module")
def judge():
    return Judge()


@pytest.fixture(scope="module")
def split():
    return digits_data.load_split()


def test_digits_round_trip_through_model_space_exactly(split):
    x_train = split[0]
    x = digits_data.to_model_space(x_train[:50])
    assert x.shape == (50, 16, 1, 2, 2)
    assert float(x.min()) == -1.0 and float(x.max()) == 1.0
    assert np.array_equal(digits_data.from_model_space(x), x_train[:50])


def test_channels_hold_4x4_blocks_of_the_picture():
    pixels = np.arange(64, dtype=np.float64).reshape(1, 8, 8) % 17
    x = digits_data.to_model_space(pixels)
    # Latent pixel (row 1, col 0), channel 4 * 2 + 3: picture pixel (4 + 2, 0 + 3).
    assert float(x[0, 11, 0, 1, 0]) == pytest.approx(pixels[0, 6, 3] / 8 - 1)


def test_decoding_clips_to_the_pixel_range():
    x = torch.zeros(1, 16, 1, 2, 2)
    x[0, 0] = 3.0
    x[0, 1] = -5.0
    pixels = digits_data.from_model_space(x)
    assert pixels[0, 0, 0] == 16.0 and pixels[0, 0, 1] == 0.0 and pixels[0, 1, 1] == 8.0


def test_wrong_shapes_are_refused_with_the_shape_named():
    with pytest.raises(ValueError, match=r"\(n, 8, 8\), got \(3, 9, 9\)"):
        digits_data.to_model_space(np.zeros((3, 9, 9)))
    with pytest.raises(ValueError, match=r"got \(2, 16, 1, 8, 8\)"):
        digits_data.from_model_space(torch.zeros(2, 16, 1, 8, 8))


def test_class_prompts_are_orthogonal_sign_vectors():
    context = digits_data.class_context(np.arange(11))
    assert context.shape == (11, 1, 4096)
    assert set(context.unique().tolist()) == {-1.0, 1.0}
    gram = context[:, 0] @ context[:, 0].T
    assert torch.equal(gram, 4096 * torch.eye(11))


def test_class_labels_out_of_range_are_refused():
    with pytest.raises(ValueError, match="0..9, or 10 for none"):
        digits_data.class_context([3, 11])


def test_split_is_fixed_and_stratified(split):
    x_train, y_train, x_test, y_test = split
    again = digits_data.load_split()
    assert np.array_equal(again[1], y_train) and np.array_equal(again[2], x_test)
    assert len(y_train) + len(y_test) == 1797
    train_share = np.bincount(y_train) / len(y_train)
    test_share = np.bincount(y_test) / len(y_test)
    assert np.abs(train_share - test_share).max() < 0.01


def test_judge_scores_real_test_digits_as_real(judge, split):
    x_test, y_test = split[2], split[3]
    scores = judge.score(x_test, y_test)
    assert judge.real_accuracy == scores.accuracy >= 0.97
    assert scores.frechet == pytest.approx(0.0, abs=1e-6)
    assert scores.diversity == pytest.approx(1.0)
    assert f"scores {judge.real_accuracy:.3f} on the real test split" in judge.describe()


def test_judge_sees_wrong_labels_and_noise(judge, split):
    x_test, y_test = split[2], split[3]
    assert judge.score(x_test, (y_test + 1) % 10).accuracy < 0.05
    noise = np.random.default_rng(0).uniform(0, 16, (200, 8, 8))
    scores = judge.score(noise, np.arange(200) % 10)
    assert scores.frechet > 50 * judge.real_frechet
    # Copies of one digit per class: no diversity at all.
    one_each = np.stack([x_test[y_test == c][0] for c in range(10)] * 5)
    assert judge.score(one_each, np.tile(np.arange(10), 5)).diversity == pytest.approx(0.0, abs=1e-6)


def test_judge_refuses_broken_input(judge):
    with pytest.raises(ValueError, match="NaN or infinity"):
        judge.score(np.full((4, 8, 8), np.nan), np.arange(4))
    with pytest.raises(ValueError, match="4 samples but 3 labels"):
        judge.score(np.zeros((4, 8, 8)), np.arange(3))


def test_frechet_distance_of_a_shift_is_its_squared_length():
    a = np.random.default_rng(1).normal(size=(500, 5))
    assert frechet_distance(a, a + np.array([3.0, 0, 0, 4.0, 0])) == pytest.approx(25.0)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-9)
    # Same mean, twice the spread: trace(C + 4C - 2 * 2C) = trace(C).
    assert frechet_distance(a, 2 * (a - a.mean(0)) + a.mean(0)) == pytest.approx(np.trace(np.cov(a, rowvar=False)))


def test_mean_pairwise_distance():
    assert mean_pairwise_distance(np.array([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="at least two"):
        mean_pairwise_distance(np.zeros((1, 3)))


@pytest.mark.parametrize("steps", [4, 20, 30])
def test_every_setting_is_a_valid_guider_input(steps):
    settings = sweep_settings(steps, 2.0)
    assert len({s.label for s in settings}) == len(settings)
    assert ({s.family for s in settings} | {s.family for s in cache_settings()}
            | {s.family for s in core_truncation_settings()} == set(FAMILIES))
    for s in settings:
        inputs = s.guider_inputs()
        policy = TruncationPolicy(**inputs)
        rules_on = any(getattr(policy, row.name) != row.off for row in RULES)
        assert rules_on == (s.family not in (FULL, NO_CFG) and s.label != "renorm 1.0, full CFG")
    last_n = [s.policy["cfg_truncate_steps"] for s in settings if s.family == "last N"]
    assert last_n[-1] == steps and last_n == sorted(last_n)


def test_core_truncation_rows_pair_cfgoverride_with_the_pack_on_the_same_steps():
    """Each of core's CFGOverride rows (cfg 1 from start_percent to the end) comes with the pack on the same steps:
    keep cond (core's own picture), reuse and reuse_extrapolated, which the sweep resolves to sigma_low there."""
    settings = core_truncation_settings()
    core = [s for s in settings if s.family == CORE_TRUNCATION]
    assert [s.from_percent for s in core] == list(CORE_OVERRIDE_FROM) and all(s.core_guider for s in core)
    for start in CORE_OVERRIDE_FROM:
        pack = [s for s in settings if s.from_percent == start and not s.core_guider]
        assert [s.guider_inputs()["keep"] for s in pack] == ["cond", "reuse", "reuse_extrapolated"]
        assert all(s.guider_inputs()["sigma_low"] == 0.0 for s in pack)  # set at run time, from the model
    assert sweep_settings(20, 2.0, with_core_override=True)[2:2 + len(settings)] == settings


@pytest.mark.parametrize("steps", [20, 40])
def test_the_default_grid_holds_the_rows_users_choose_between(steps):
    labels = [s.label for s in focused_settings(steps, with_core_override=True)]
    assert labels[:2] == ["full CFG", "cfg 1"] and len(set(labels)) == len(labels)
    assert {f"last {steps // 4}", f"last {steps // 2}", "core CFGOverride cfg 1, last 25%",
            "core CFGOverride cfg 1, last 50%"} <= set(labels)
    assert {f"every {k}, reuse_extrapolated" for k in (2, 3, 4, 8)} <= set(labels)
    assert not any(s.family == CORE_TRUNCATION for s in focused_settings(steps, with_core_override=False))
    caches = focused_cache_settings()
    families = {s.family for s in caches}
    assert {CACHE_ALONE, CACHE_ANSWERED, STACKED_COORDINATED, STACKED_INDEPENDENT} <= families
    for node, thresholds in FOCUSED_CACHE_THRESHOLDS.items():
        assert len(thresholds) == 3
        assert {s.cache.reuse_threshold for s in caches if s.cache and s.cache.node == node} == set(thresholds)


@pytest.mark.parametrize("steps", [4, 20, 30])
def test_the_recipe_rows_are_z_images_mapping_and_per_step_lists(steps):
    cfg = 2.0
    settings = recipe_settings(steps, cfg)
    z_image = [s for s in settings if s.family == Z_IMAGE]
    # Z-Image's g = cfg - 1; truncation c is its own rule's c; normalisation k is CFG Renorm's renorm_cfg.
    assert [(s.policy, s.renorm_cfg) for s in z_image] == [({"z_image_cfg_truncation": c}, 1.0)
                                                           for c in (0.25, 0.5, 0.75)]
    schedules = {s.label: cfg_schedule_scales(s.policy["cfg_schedule"]) for s in settings if s.family == SCHEDULE}
    assert all(len(scales) == steps for scales in schedules.values())
    ramp = schedules["schedule: ramp to 1 over the run"]
    assert ramp[0] == cfg and ramp[-1] == 1.0 and list(ramp) == sorted(ramp, reverse=True) and ramp.count(1.0) == 1
    half = schedules["schedule: ramp to 1 over the first half"]
    assert half[0] == cfg and half[steps // 2 - 1] > 1.0 and half[steps // 2:] == (1.0,) * (steps - steps // 2)
    early = schedules["schedule: 1.5 cfg for the first quarter, then 1"]
    assert early == (1.5 * cfg,) * (steps // 4) + (1.0,) * (steps - steps // 4)


def test_too_few_steps_are_refused():
    with pytest.raises(ValueError, match="at least 2 steps"):
        sweep_settings(1, 2.0)


def row(label, saved, accuracy, family="last N", drift=0.02, frechet=1.0):
    return {"label": label, "family": family, "model_calls_saved": saved, "accuracy": accuracy,
            "model_calls": 40 * (1 - saved),
            "frechet": frechet, "diversity": 1.0, "truncated_steps": [], "drift": 0.0 if family == FULL else drift}


ROWS = [row("full", 0.0, 0.95, FULL), row("a", 0.1, 0.95), row("b", 0.2, 0.945), row("c", 0.2, 0.94),
        row("d", 0.3, 0.93), row("e", 0.5, 0.8), row("f", 0.1, 0.90), row("g", 0.5, 0.80)]


def test_pareto_front_drops_dominated_rows():
    front = [r["label"] for r in pareto_front(ROWS)]
    assert front == ["a", "b", "d", "e", "g"]  # full is dominated by a; c by b; f by a


def test_best_within_tolerance_takes_the_most_calls_saved():
    assert [r["label"] for r in best_within(ROWS, 0.95, 0.01)] == ["b", "c"]
    assert [r["label"] for r in best_within(ROWS, 0.95, 0.02)] == ["d"]
    assert best_within(ROWS, 0.99, 0.001) == []
    assert [r["label"] for r in picks(ROWS)] == ["b", "c"]


def test_steps_are_written_as_runs():
    assert _steps([]) == "none"
    assert _steps([3]) == "3"
    assert _steps([0, 1, 2, 5, 7, 8]) == "0-2, 5, 7-8"


def test_table_has_a_line_per_row_and_deltas_against_full_cfg():
    table = markdown_table(ROWS).splitlines()
    assert len(table) == 2 + len(ROWS)
    assert "| d | none | 28.0 | 30.0% | 0.930 | -0.020 | 0.0200 |" in table[6]


def test_with_a_noise_floor_the_table_says_which_rows_are_at_full_cfgs_picture():
    from quality.noise_floor import NoiseFloor

    floor = NoiseFloor((0.95, 0.94), (1.0, 1.5))  # accuracy spread 0.01, Fréchet spread 0.5
    rows = [row("full", 0.0, 0.95, FULL, drift=0.0), row("near", 0.3, 0.945, drift=0.005),
            row("drifts", 0.4, 0.95, drift=0.02), row("loses", 0.5, 0.90, drift=0.005)]
    table = markdown_table(rows, floor).splitlines()
    assert table[0].endswith(" full CFG's picture |") and table[1].endswith(":---:|")
    assert [line.rsplit("|", 2)[1].strip() for line in table[2:]] == ["yes", "yes", "no", "no"]


def test_the_drift_front_and_the_same_picture_pick():
    rows = ROWS + [row("r", 0.4, 0.949, REUSE, drift=0.008), row("s", 0.45, 0.95, REUSE, drift=0.015),
                   row("t", 0.4, 0.95, REUSE, drift=0.009)]
    front = [r["label"] for r in pareto_front(rows, BY_DRIFT)]
    assert front == ["full", "r", "s", "e", "g"]  # r beats t on drift at equal savings; s saves more
    assert [r["label"] for r in same_picture_picks(rows)] == ["t", "r"]  # within 0.002 and 0.010; t first
    assert [r["label"] for r in best_at_full_cfg_quality(rows, 0.95, 0.0, 0.010)] == ["t"]


def test_table_needs_a_full_cfg_row():
    with pytest.raises(ValueError, match="no full-CFG row"):
        markdown_table(ROWS[1:])


def test_pareto_plot_is_a_png(tmp_path):
    path = plot_pareto(ROWS, tmp_path / "sub" / "p.png", "test")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert path.stat().st_size > 10_000


def test_sample_grid_is_a_png_and_needs_every_class(tmp_path, split):
    x_test, y_test = split[2], split[3]
    path = save_sample_grid({"real": (x_test, y_test), "again": (x_test, y_test)}, tmp_path / "g.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="3 samples of every class"):
        save_sample_grid({"few": (x_test[y_test < 9], y_test[y_test < 9])}, tmp_path / "h.png")


def test_same_picture_picks_by_family_never_pick_full_cfg_itself():
    rows = [row("full", 0.0, 0.95, FULL), row("alone", 0.5, 0.95, CACHE_ALONE, drift=0.02),
            row("coordinated", 0.7, 0.95, STACKED_COORDINATED, drift=0.006),
            row("coordinated, far", 0.8, 0.95, STACKED_COORDINATED, drift=0.03)]
    picked = {family: [r["label"] for r in found] for family, found in same_picture_picks_by_family(rows).items()}
    assert picked == {CACHE_ALONE: [], STACKED_COORDINATED: ["coordinated"]}


def test_the_cache_front_plot_is_a_png(tmp_path):
    rows = [row("full", 0.0, 0.95, FULL), row("alone", 0.5, 0.95, CACHE_ALONE, drift=0.02),
            row("coordinated", 0.7, 0.95, STACKED_COORDINATED, drift=0.006)]
    path = plot_cache_front(rows, tmp_path / "c.png", "test", 0.7)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cache_settings_pair_every_cache_setting_both_ways():
    settings = cache_settings()
    labels = [s.label for s in settings]
    assert len(labels) == len(set(labels)) and labels[0] == "full CFG"
    stacked = [s for s in settings if s.cache and not s.core_guider]
    assert {s.policy["step_cache"] for s in stacked} == {"independent", "coordinate"}
    assert all(s.core_guider for s in settings if s.family == CACHE_ALONE)
    assert {s.cache.node for s in cache_settings(("LazyCache",)) if s.cache} == {"LazyCache"}
    # Beside each cache alone: the same cache under the pack with every rule off (nothing truncated, the calls the
    # cache answers get the pack's cache answer).
    held = [s for s in settings if s.family == CACHE_ANSWERED]
    assert [s.cache for s in held] == [s.cache for s in settings if s.family == CACHE_ALONE]
    assert all(s.guider_inputs() == {**RULES_OFF, "step_cache": "coordinate"} and not s.core_guider for s in held)


def test_the_noise_floor_is_full_cfgs_own_spread_and_judges_the_same_picture_by_it():
    from quality.noise_floor import NoiseFloor

    floor = NoiseFloor.of([row("full", 0.0, 0.95, FULL, frechet=2.0), row("full", 0.0, 0.93, FULL, frechet=3.0),
                           row("full", 0.0, 0.96, FULL, frechet=2.5)])
    assert floor.accuracy_spread == pytest.approx(0.03) and floor.frechet_spread == 1.0
    ref = row("full", 0.0, 0.95, FULL, frechet=2.0)
    assert floor.holds(row("a", 0.5, 0.925, REUSE, drift=0.005, frechet=2.9), ref)
    assert floor.holds(row("nearer real", 0.5, 0.95, REUSE, drift=0.005, frechet=0.5), ref)
    assert not floor.holds(row("low", 0.5, 0.91, REUSE, drift=0.005, frechet=2.9), ref)  # accuracy beyond it
    assert not floor.holds(row("far", 0.5, 0.95, REUSE, drift=0.005, frechet=3.1), ref)  # Fréchet beyond it
    assert not floor.holds(row("moved", 0.5, 0.95, REUSE, drift=0.02, frechet=2.0), ref)  # other pictures
    rows = [ref, row("a", 0.5, 0.925, REUSE, drift=0.005, frechet=2.9), row("b", 0.6, 0.90, REUSE, drift=0.005)]
    assert [r["label"] for r in same_picture_picks(rows, floor)] == ["a"]
    assert [r["label"] for r in same_picture_picks(rows)] == ["full"]  # the fixed 0.002 without a floor: none
    with pytest.raises(ValueError, match="at least two seeds"):
        NoiseFloor.of([ref])


def test_picks_from_the_tuning_seed_are_scored_by_the_report_seeds_rows():
    from quality.noise_floor import reported

    tune = [row("full", 0.0, 0.95, FULL), row("a", 0.5, 0.95, REUSE, drift=0.005)]
    report = [row("full", 0.0, 0.94, FULL), row("a", 0.5, 0.90, REUSE, drift=0.02)]
    assert reported(tune[1:], report) == [report[1]]
    with pytest.raises(ValueError, match="no row for b"):
        reported([row("b", 0.5, 0.9, REUSE)], report)


@pytest.mark.parametrize("name", ["digits", "shapes"])
def test_every_harness_model_offers_what_the_sweep_reads(name):
    from devtools.host import PACK_ROOT
    from quality.harness_models import MODELS, WEIGHTS

    model = MODELS[name]
    labels = model.labels(3)
    assert labels.tolist() == sorted(labels.tolist()) and len(labels) == 3 * model.data.CLASSES
    prompts = model.data.class_context(np.append(labels[:2], model.data.NULL_CLASS))
    assert prompts.shape == (3, 1, 4096)
    side = model.data.LATENT_SIDE
    lowest, highest = (np.asarray(model.data.from_model_space(torch.full((1, model.data.CHANNELS, 1, side, side), v)))
                       for v in (-1.0, 1.0))
    assert lowest.shape == (1, model.data.SIDE, model.data.SIDE)
    assert np.all(highest - lowest == model.pixel_span)  # drift's unit: the pictures' whole range
    assert model.weights.parent == WEIGHTS and (PACK_ROOT / model.trainer).is_file()


def test_the_benchmark_runs_every_model_by_default_each_at_its_own_shift(capsys):
    import sys

    from devtools.host import PACK_ROOT
    from quality.harness_models import DIGITS, SHAPES

    sys.path.insert(0, str(PACK_ROOT / "benchmarks"))
    import quality_harness

    assert quality_harness.parse_args([]).models == [DIGITS, SHAPES]
    args = quality_harness.parse_args(["--model", "shapes", "--weights", "elsewhere.safetensors"])
    assert args.models == [SHAPES] and str(args.weights) == "elsewhere.safetensors" and args.shift is None
    assert (DIGITS.shift, SHAPES.shift) == (1.0, 3.0)  # the shapes model trained on sigmas shifted by 3
    with pytest.raises(SystemExit):
        quality_harness.parse_args(["--weights", "elsewhere.safetensors"])
    assert "--weights names one model's file; add --model digits or --model shapes" in capsys.readouterr().err
    assert quality_harness.report_stem(DIGITS) == "quality" and quality_harness.report_stem(SHAPES) == "quality_shapes"


def test_the_shapes_ship_check_refuses_a_model_guidance_does_not_help_or_the_judge_saturates():
    from quality.ship_check import verdict

    def scores(acc1, fre1, acc2, fre2):
        return {1.0: {"accuracy": acc1, "frechet": fre1}, 2.0: {"accuracy": acc2, "frechet": fre2},
                4.0: {"accuracy": acc2, "frechet": 10 * fre2}}

    assert verdict(scores(0.690, 101.22, 0.855, 39.55)) == []  # the shipped model, measured on 2026-12-06
    assert "guidance does not matter enough" in verdict(scores(0.80, 101.0, 0.89, 39.0))[0]
    assert "the judge saturates" in verdict(scores(0.70, 101.0, 0.97, 39.0))[0]
    assert "is not below cfg 1's" in verdict(scores(0.60, 50.0, 0.80, 60.0))[0]
