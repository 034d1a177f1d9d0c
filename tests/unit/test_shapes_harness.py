"""The shapes data and its judge: pictures made by arithmetic, classes a judge cannot read perfectly."""
import numpy as np
import pytest
import torch

from quality import digits_data, shapes_data
from quality.shapes_judge import (DIGEST_KEY, WEIGHTS, ShapesClassifier, ShapesJudge, load_classifier,
                                  train_classifier)
from quality.training import state_digest


def test_pictures_round_trip_through_a_sixty_four_token_latent():
    pictures, labels = shapes_data.real_set(3, seed=5)
    assert pictures.shape == (30, 64, 64) and labels.tolist() == sorted(labels.tolist())
    assert pictures.min() >= -1.0 and pictures.max() <= 1.0
    x = shapes_data.to_model_space(pictures)
    assert x.shape == (30, 16, 1, 16, 16)  # Wan's 2x2 patches: 8 x 8 = 64 tokens
    assert torch.equal(shapes_data.from_model_space(x), pictures)


def test_the_same_seed_draws_the_same_pictures_and_another_seed_others():
    first, again, other = (shapes_data.real_set(2, seed)[0] for seed in (7, 7, 8))
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_a_class_draws_its_shape_mostly_at_its_own_size():
    pictures, labels = shapes_data.real_set(200, seed=1)
    # The disc's area gives its radius: the pixels brighter than halfway between background and shape.
    discs = torch.as_tensor(labels // 2 == shapes_data.SHAPES.index("disc"))
    floor = pictures.amin(dim=(1, 2), keepdim=True)
    inside = pictures > (floor + pictures.amax(dim=(1, 2), keepdim=True)) / 2
    radius = torch.sqrt(inside.sum(dim=(1, 2)) / torch.pi) / 64
    large = torch.as_tensor(labels % 2 == 1)
    middle = sum(shapes_data.SIZE_RADII) / 2
    its_size = torch.where(large, radius > middle, radius < middle)[discs].float().mean().item()
    assert 0.8 < its_size < 0.97  # mostly, and not always: the sizes overlap on purpose


def test_bad_labels_and_shapes_are_refused_with_what_was_wrong():
    with pytest.raises(ValueError, match="shape classes are 0..9"):
        shapes_data.draw([3, 10], torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match=r"shape labels must be 0..9, or 10 for none"):
        shapes_data.class_context([11])
    with pytest.raises(ValueError, match=r"expected pictures of shape \(n, 64, 64\)"):
        shapes_data.to_model_space(torch.zeros(2, 32, 32))
    with pytest.raises(ValueError, match=r"expected samples of shape \(n, 16, 1, 16, 16\)"):
        shapes_data.from_model_space(torch.zeros(2, 16, 1, 2, 2))


def test_class_prompts_are_orthogonal_to_each_other_and_to_the_digits_prompts():
    shapes = shapes_data.class_context(np.arange(shapes_data.NULL_CLASS + 1))[:, 0]
    digits = digits_data.class_context(np.arange(digits_data.NULL_CLASS + 1))[:, 0]
    assert torch.equal(shapes @ shapes.T, 4096 * torch.eye(11))
    assert torch.equal(shapes @ digits.T, torch.zeros(11, 11))


@pytest.fixture(scope="module")
def judge():
    return ShapesJudge()  # the shipped classifier (quality/weights/shapes_judge.safetensors)


def test_the_judge_training_is_deterministic_and_learns_on_a_tiny_set():
    """The training itself on 10 pictures per class (one batch an epoch, 12 epochs); the full run (2000 per class,
    4 epochs) is `python -m quality.shapes_judge --check`, which retrains and compares with the shipped weights."""
    first, second = (train_classifier(threads=1, per_class=10, epochs=12) for _ in range(2))
    assert state_digest(first.state_dict()) == state_digest(second.state_dict())
    # Its own training pictures (the judge's stream from its start) and the same layers before training.
    labels = torch.as_tensor(shapes_data.balanced_labels(10))
    pictures = shapes_data.draw(labels, torch.Generator().manual_seed(shapes_data.JUDGE_DATA_SEED))
    torch.manual_seed(0)
    untrained = ShapesClassifier()

    def loss(model):
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(model(pictures)[0], labels).item()

    assert loss(first) < 0.95 * loss(untrained)


def test_the_shipped_weights_are_checked_against_their_digest(tmp_path):
    import safetensors.torch

    state = safetensors.torch.load_file(str(WEIGHTS))
    state["head.bias"] = state["head.bias"] + 1
    damaged = tmp_path / "judge.safetensors"
    safetensors.torch.save_file(state, str(damaged), metadata={DIGEST_KEY: "0" * 64})
    with pytest.raises(ValueError, match="do not match the digest in its metadata"):
        load_classifier(damaged)
    with pytest.raises(FileNotFoundError, match="python -m quality.shapes_judge"):
        load_classifier(tmp_path / "missing.safetensors")


def test_the_judge_reads_real_pictures_well_but_not_perfectly(judge):
    assert 0.8 < judge.real_accuracy < 0.95
    pictures, labels = shapes_data.real_set(30, seed=11)
    scores = judge.score(pictures.numpy(), labels)
    assert 0.8 < scores.accuracy < 0.97
    assert scores.frechet < 5 * max(judge.real_frechet, 1.0)
    assert f"reads {judge.real_accuracy:.3f} of the real set's classes" in judge.describe()


def test_the_judge_sees_blur_and_wrong_classes(judge):
    pictures, labels = shapes_data.real_set(30, seed=11)
    sharp = judge.score(pictures.numpy(), labels)
    blurred = torch.nn.functional.avg_pool2d(pictures[:, None], 5, 1, 2)[:, 0]
    assert judge.score(blurred.numpy(), labels).frechet > 5 * sharp.frechet
    assert judge.score(pictures.numpy(), np.roll(labels, 30)).accuracy < 0.2


def test_the_judge_refuses_what_it_cannot_score(judge):
    with pytest.raises(ValueError, match=r"expected pictures of shape \(n, 64, 64\)"):
        judge.score(np.zeros((4, 8, 8)), np.zeros(4, dtype=int))
    with pytest.raises(ValueError, match="4 samples but 3 labels"):
        judge.score(np.zeros((4, 64, 64)), np.zeros(3, dtype=int))
    with pytest.raises(ValueError, match="NaN or infinity"):
        judge.score(np.full((2, 64, 64), np.nan), np.zeros(2, dtype=int))


def test_the_training_shift_moves_sigmas_toward_noise_and_keeps_both_ends():
    from quality.training import shifted

    sigma = torch.linspace(0, 1, 11)
    assert torch.equal(shifted(sigma, 1.0), sigma)
    moved = shifted(sigma, 3.0)
    assert moved[0] == 0 and moved[-1] == 1 and torch.isclose(moved[5], torch.tensor(0.75))
    assert (moved[1:-1] > sigma[1:-1]).all() and (moved.diff() > 0).all()
