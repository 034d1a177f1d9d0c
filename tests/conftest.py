"""Puts the pack root on sys.path (unit tests import ``sampling``, host tests ``devtools``) and tests/
itself, for the helpers shared by the host and browser tiers (hostenv, bad_policy_inputs, strip_page)."""
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
for path in (TESTS.parent, TESTS):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


import pytest  # noqa: E402


@pytest.fixture(scope="session")
def model_tree_base(tmp_path_factory):
    """A ComfyUI base directory whose models/ holds small files under the example workflows' names (a link to the
    tree devtools/test_cache.py keeps, built once per content)."""
    from devtools.host import import_host

    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    from devtools import model_tree
    from devtools.test_cache import cached_model_tree

    base = tmp_path_factory.mktemp("comfy_models")
    (base / "models").symlink_to(cached_model_tree(), target_is_directory=True)
    model_tree.write_start_image(base / "input" / model_tree.START_IMAGE)
    return base

