"""Wan A14B Loader and Lumina2 Loader: files from ComfyUI's model folders, safetensors only, clear refusals."""
import os
import pickle
import shutil

import pytest
import torch
from hostenv import require_host

require_host()

import comfy.sd  # noqa: E402
import comfy.supported_models  # noqa: E402

from devtools.checkpoints import flux_vae_state_dict, save_state_dict, save_wan  # noqa: E402
from truncated_cfg.nodes.models.expert_routing import experts_of  # noqa: E402
from truncated_cfg.nodes.models.lumina2 import Lumina2Loader  # noqa: E402
from truncated_cfg.nodes.models.wan_a14b import WanA14BLoader  # noqa: E402

T2V = ("wan_t2v_high_noise_tiny.safetensors", "wan_t2v_low_noise_tiny.safetensors")
I2V = ("wan_i2v_high_noise_tiny.safetensors", "wan_i2v_low_noise_tiny.safetensors")
WAN_TE = "umt5_xxl_stand_in.safetensors"
GEMMA_TE = "gemma_2_2b_stand_in.safetensors"
QWEN3_TE = "qwen_3_4b_stand_in.safetensors"
WAN_VAE = "wan_2.1_vae_tiny.safetensors"
FLUX_VAE = "ae_tiny.safetensors"


@pytest.fixture(scope="module")
def files(models_dir, wan_expert_files, wan_vae_file, lumina_file):
    """The user's models/ tree: experts, VAEs, a Lumina 2 model in both places, stand-in text encoders."""
    te = models_dir / "text_encoders"
    # Text encoders are far too large to build; the loader's call to ComfyUI's text-encoder loader is spied.
    for name in (WAN_TE, GEMMA_TE):
        save_state_dict(te / name, {"stand_in": torch.zeros(1)})
    save_state_dict(models_dir / "vae" / FLUX_VAE, flux_vae_state_dict())
    diffusion = models_dir / "diffusion_models"
    os.symlink(lumina_file, diffusion / "lumina_2_model_tiny.safetensors")
    save_wan(diffusion / "wan_t2v_wide_tiny.safetensors", dim=256, layers=1, seed=14)
    (diffusion / "empty.safetensors").write_bytes(b"")
    whole = (diffusion / T2V[0]).read_bytes()
    (diffusion / "truncated.safetensors").write_bytes(whole[: len(whole) // 3])
    return models_dir


@pytest.fixture
def clip_spy(monkeypatch):
    """The one spy: records what the loaders ask of ComfyUI's own text-encoder loader."""
    calls = []

    def load_clip(ckpt_paths, embedding_directory=None, clip_type=None, model_options={}):  # noqa: B006
        calls.append({"paths": ckpt_paths, "type": clip_type})
        return "CLIP"

    monkeypatch.setattr(comfy.sd, "load_clip", load_clip)
    return calls


def wan_loader(high=T2V[0], low=T2V[1], task="t2v", shift=0.0, boundary=0.0, clip=WAN_TE, vae=WAN_VAE):
    return WanA14BLoader.execute(high, low, clip, vae, task, shift, boundary, "default").result


@pytest.mark.parametrize("task, names, shift, boundary", [("t2v", T2V, 12.0, 0.875), ("i2v", I2V, 5.0, 0.9)])
def test_wan_loader_applies_the_official_presets(files, clip_spy, task, names, shift, boundary):
    model, clip, vae = wan_loader(*names, task=task)
    sampling = model.get_model_object("model_sampling")
    assert (sampling.shift, sampling.multiplier) == (shift, 1000.0)
    assert experts_of(model).boundary == boundary
    assert clip == "CLIP" and clip_spy == [{"paths": [str(files / "text_encoders" / WAN_TE)],
                                            "type": comfy.sd.CLIPType.WAN}]
    assert vae.latent_channels == 16 and vae.latent_dim == 3


def test_wan_loader_takes_explicit_shift_and_boundary(files, clip_spy):
    model = wan_loader(shift=8.0, boundary=0.9)[0]
    assert model.get_model_object("model_sampling").shift == 8.0 and experts_of(model).boundary == 0.9


@pytest.mark.parametrize("kwargs, message", [
    (dict(high="lumina_2_model_tiny.safetensors"), "high_noise_unet is a Lumina 2 model, expected Wan 2.1/2.2 14B"),
    (dict(low=I2V[1]), r"low_noise_unet is a i2v expert \(36 input channels\); task t2v needs the T2V-A14B"),
    (dict(high=I2V[0], low=I2V[1]), "high_noise_unet is a i2v expert"),
    (dict(low="wan_t2v_wide_tiny.safetensors"), r"do not match \(dim 128 vs 256\)"),
    (dict(high="missing.safetensors"),
     "high_noise_unet 'missing.safetensors' was not found in models/diffusion_models"),
    (dict(high="empty.safetensors"), "high_noise_unet: .*empty.safetensors is empty"),
    (dict(low="truncated.safetensors"), "low_noise_unet: .*truncated.safetensors is not a readable safetensors file"),
    (dict(high="../vae/" + WAN_VAE), "high_noise_unet '../vae/.*' is refused"),
    (dict(high="/etc/passwd.safetensors"), "high_noise_unet '/etc/passwd.safetensors' is refused"),
    (dict(high="model.gguf"), "GGUF file: load it with your GGUF loader and connect it to Wan A14B Experts"),
    (dict(task="ti2v"), "task must be one of t2v, i2v"),
    (dict(vae="missing_vae.safetensors"), "vae_name 'missing_vae.safetensors' was not found in models/vae"),
])
def test_wan_loader_refuses_bad_files_saying_what_is_wrong(files, clip_spy, kwargs, message):
    with pytest.raises(ValueError, match=message):
        wan_loader(**kwargs)


class _Tripwire:
    """Unpickling this writes a file: the test proves the loader never unpickles."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (shutil.copyfile, (os.devnull, self.path))


def test_pickle_checkpoints_are_refused_and_never_unpickled(files, clip_spy, tmp_path):
    tripwire = tmp_path / "unpickled"
    (files / "diffusion_models" / "evil.ckpt").write_bytes(pickle.dumps(_Tripwire(str(tripwire))))
    with pytest.raises(ValueError, match="'evil.ckpt' is a pickle checkpoint; it is refused and never unpickled"):
        wan_loader(high="evil.ckpt")
    assert not tripwire.exists()


@pytest.fixture(scope="module")
def all_in_one(files, lumina_file):
    """Lumina 2's all-in-one checkpoint layout: the diffusion model under model.diffusion_model."""
    import safetensors.torch

    state = safetensors.torch.load_file(str(lumina_file))
    path = files / "checkpoints" / "lumina_2_all_in_one_tiny.safetensors"
    save_state_dict(path, {f"model.diffusion_model.{k}": v for k, v in state.items()})
    return path.name


@pytest.mark.parametrize("unet", ["lumina_2_model_tiny.safetensors", "all_in_one"])
def test_lumina2_loader_loads_the_model_with_its_shift(files, clip_spy, all_in_one, unet):
    name = all_in_one if unet == "all_in_one" else unet
    model, clip, vae = Lumina2Loader.execute(name, GEMMA_TE, FLUX_VAE, 6.0, "default").result
    assert type(model.model).__name__ == "Lumina2"
    sampling = model.get_model_object("model_sampling")
    assert (sampling.shift, sampling.multiplier) == (6.0, 1.0)
    assert clip_spy == [{"paths": [str(files / "text_encoders" / GEMMA_TE)], "type": comfy.sd.CLIPType.LUMINA2}]
    assert vae.latent_channels == 16 and vae.latent_dim == 2


def test_lumina2_loader_refuses_another_architecture(files, clip_spy):
    with pytest.raises(ValueError, match="unet_name is a Wan 2.1/2.2 14B model, expected the Lumina 2 family "
                                         r"\(Lumina-Image-2.0, Neta / NetaYume Lumina, Z-Image\); load other models"):
        Lumina2Loader.execute(T2V[0], GEMMA_TE, FLUX_VAE, 6.0, "default")


@pytest.mark.parametrize("shift, expected", [(0.0, 6.0), (4.0, 4.0)])
def test_lumina2_loader_shift_0_is_the_familys_own(files, clip_spy, shift, expected):
    model = Lumina2Loader.execute("lumina_2_model_tiny.safetensors", GEMMA_TE, FLUX_VAE, shift, "default").result[0]
    assert model.get_model_object("model_sampling").shift == expected


@pytest.mark.skipif(hasattr(comfy.supported_models, "ZImage"), reason="this ComfyUI knows Z-Image (test_lumina2_"
                    "loader_loads_z_image_with_its_shift_and_text_encoder_type runs instead)")
def test_a_z_image_file_on_a_comfyui_that_does_not_know_z_image_is_refused_by_name(files, clip_spy):
    # What ComfyUI's detection reads of a Z-Image file (its caption embedder, a refiner), the weights left out.
    name = "z_image_header_only.safetensors"
    save_state_dict(files / "diffusion_models" / name, {
        "cap_embedder.0.weight": torch.ones(2560, dtype=torch.bfloat16),
        "cap_embedder.1.weight": torch.zeros(3840, 2560, dtype=torch.bfloat16),
        "noise_refiner.0.attention.k_norm.weight": torch.ones(128, dtype=torch.bfloat16),
        "layers.0.attention.k_norm.weight": torch.ones(128, dtype=torch.bfloat16)})
    with pytest.raises(ValueError, match=r"unet_name is a Z-Image model \(3840 wide\), which this ComfyUI does not "
                                         "know: update ComfyUI"):
        Lumina2Loader.execute(name, GEMMA_TE, FLUX_VAE, 0.0, "default")
    assert clip_spy == []


def test_lumina2_loader_loads_z_image_with_its_shift_and_text_encoder_type(files, clip_spy, z_image_file):
    os.symlink(z_image_file, files / "diffusion_models" / "z_image_tiny.safetensors")
    save_state_dict(files / "text_encoders" / QWEN3_TE, {"stand_in": torch.zeros(1)})
    model, _, vae = Lumina2Loader.execute("z_image_tiny.safetensors", QWEN3_TE, FLUX_VAE, 0.0, "default").result
    assert type(model.model.model_config).__name__ == "ZImage"
    sampling = model.get_model_object("model_sampling")
    assert (sampling.shift, sampling.multiplier) == (3.0, 1.0)
    # ComfyUI picks Qwen3 4B over Gemma 2 by the file's keys under the one CLIP type, as core's CLIPLoader lumina2.
    assert clip_spy == [{"paths": [str(files / "text_encoders" / QWEN3_TE)], "type": comfy.sd.CLIPType.LUMINA2}]
    assert vae.latent_channels == 16
