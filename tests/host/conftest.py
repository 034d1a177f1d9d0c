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
def lumina_file(tmp_path_factory):
    """A one-layer Lumina 2 NextDiT at the full width ComfyUI's detection fixes (~0.85 GB, ~10 s), built once."""
    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    from devtools.checkpoints import save_lumina2

    return save_lumina2(tmp_path_factory.mktemp("models") / "lumina2_tiny.safetensors", layers=1)


@pytest.fixture(scope="session")
def z_image_file():
    """A one-layer Z-Image NextDiT at the width ComfyUI's detection fixes (~1.8 GB, ~35 s): the cached model tree's
    (tests/conftest.py), built once per content; skipped on a host that does not know Z-Image."""
    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    import comfy.supported_models

    if not hasattr(comfy.supported_models, "ZImage"):
        pytest.skip("this ComfyUI does not know Z-Image (core added it in November 2025, after 0.3.64)")
    from devtools.model_tree import Z_IMAGE_UNET
    from devtools.test_cache import cached_model_tree

    return cached_model_tree() / "diffusion_models" / Z_IMAGE_UNET


@pytest.fixture(scope="session")
def z_image_model():
    """Z-Image's architecture at 256 wide (devtools.checkpoints.narrow_z_image_model: core's ZImage class and shift 3,
    every layer and rule of the full model), for the tests that sample it many times; the full-width file above is
    what the loaders, workflows and blueprints run."""
    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    import comfy.supported_models

    if not hasattr(comfy.supported_models, "ZImage"):
        pytest.skip("this ComfyUI does not know Z-Image (core added it in November 2025, after 0.3.64)")
    from devtools.checkpoints import narrow_z_image_model

    return narrow_z_image_model()


@pytest.fixture(scope="session")
def lumina_model(lumina_file):
    """That checkpoint loaded through ComfyUI's own detection."""
    from devtools.checkpoints import load_model

    return load_model(lumina_file)


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    """A model folder tree registered first in ComfyUI's folder_paths, as a user's models/ is."""
    if import_host()[0] is None:
        pytest.skip(import_host()[1])
    import folder_paths

    root = tmp_path_factory.mktemp("user_models")
    for kind in ("diffusion_models", "checkpoints", "text_encoders", "vae"):
        (root / kind).mkdir()
        folder_paths.add_model_folder_path(kind, str(root / kind), is_default=True)
    return root


@pytest.fixture(scope="session")
def wan_expert_files(models_dir):
    """Two Wan experts per task, built as the A14B files are laid out (t2v: 16, i2v: 36 input channels)."""
    from devtools.checkpoints import save_wan

    folder = models_dir / "diffusion_models"
    return {
        ("t2v", "high"): save_wan(folder / "wan_t2v_high_noise_tiny.safetensors", dim=128, layers=1, seed=10),
        ("t2v", "low"): save_wan(folder / "wan_t2v_low_noise_tiny.safetensors", dim=128, layers=1, seed=11),
        ("i2v", "high"): save_wan(folder / "wan_i2v_high_noise_tiny.safetensors", dim=128, layers=1, seed=12,
                                  in_dim=36),
        ("i2v", "low"): save_wan(folder / "wan_i2v_low_noise_tiny.safetensors", dim=128, layers=1, seed=13,
                                 in_dim=36),
    }


@pytest.fixture(scope="session")
def wan_experts(wan_expert_files):
    """The t2v pair loaded through ComfyUI, as UNETLoader would."""
    from devtools.checkpoints import load_model

    return load_model(wan_expert_files[("t2v", "high")]), load_model(wan_expert_files[("t2v", "low")])


@pytest.fixture(scope="session")
def wan_vae_file(models_dir):
    from devtools.checkpoints import save_state_dict, wan21_vae_state_dict

    return save_state_dict(models_dir / "vae" / "wan_2.1_vae_tiny.safetensors", wan21_vae_state_dict())
