"""The demo's models/ tree: built once, reused while it holds the same models, rebuilt when it does not."""
from hostenv import require_host

require_host()

from safetensors import safe_open  # noqa: E402

from devtools import model_tree  # noqa: E402

EXPERT = model_tree.WAN_EXPERTS[("t2v", "high")]


def mtimes(models):
    return {path: path.stat().st_mtime_ns for path in models.rglob("*") if path.is_file()}


def test_a_finished_tree_of_the_same_kind_is_reused_untouched(model_tree_base):
    models = model_tree_base / "models"
    assert (models / model_tree.DONE).read_text() == model_tree.kind()
    before = mtimes(models)
    model_tree.build(models)
    assert mtimes(models) == before


def test_a_tree_from_an_earlier_kind_is_rebuilt(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / model_tree.DONE).write_text("complete\n")  # what trees before the marker named their kind held
    model_tree.build(models)
    assert (models / model_tree.DONE).read_text() == model_tree.kind()
    with safe_open(str(models / "diffusion_models" / EXPERT), "pt") as expert:
        assert expert.get_slice("patch_embedding.weight").get_shape()[0] == 512  # the Wan experts' width
