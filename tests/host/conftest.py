"""Fixtures shared by the host tier: a small Wan checkpoint and its conditioning."""
import pytest

from devtools.host import import_host


@pytest.fixture(scope="session")
def wan_model(tmp_path_factory):
    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    from devtools.checkpoints import load_model, save_wan

    return load_model(save_wan(tmp_path_factory.mktemp("models") / "wan_tiny.safetensors", dim=128, layers=2))


@pytest.fixture(scope="session")
def wan_conds():
    from devtools.checkpoints import wan_conditioning

    return wan_conditioning(1), wan_conditioning(2)


@pytest.fixture(scope="session")
def lumina_model(tmp_path_factory):
    """A one-layer Lumina 2 NextDiT at full width, loaded through ComfyUI's own detection (~10 s)."""
    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    from devtools.checkpoints import load_model, save_lumina2

    return load_model(save_lumina2(tmp_path_factory.mktemp("models") / "lumina2_tiny.safetensors", layers=1))
