"""Helpers for running ComfyUI's real sampler nodes on the small test model (host tier only)."""
from __future__ import annotations

import contextlib

import comfy.samplers
import nodes
import torch
from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

from sampling.rules import OFF as ALL_OFF
from truncated_cfg.nodes.guider import TruncatedCFGGuider
from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch
from truncated_cfg.nodes.truncation import PATCH_KEY

SEED = 7
STEPS = 8
CFG = 4.0


def full_steps(ledger) -> list[int]:
    """The steps that ran full CFG (refreshed ones too)."""
    return [s.index for s in ledger.steps if s.full]


def latent(batch: int) -> dict:
    return {"samples": torch.zeros(batch, 16, 1, 8, 8)}


def schedule(model, steps: int = STEPS, scheduler: str = "simple") -> torch.Tensor:
    return comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), scheduler, steps)


def sample_custom_advanced(guider, sampler_name: str, batch: int, sigmas: torch.Tensor, lat=None) -> torch.Tensor:
    """ComfyUI's SamplerCustomAdvanced node, as a graph runs it; ``lat`` replaces the empty (Wan) latent."""
    sampler = comfy.samplers.sampler_object(sampler_name)
    lat = latent(batch) if lat is None else lat
    out = SamplerCustomAdvanced().sample(Noise_RandomNoise(SEED), guider, sampler, sigmas, lat)
    return out[0]["samples"]


def ksampler(model, conds, batch: int = 1, sampler_name: str = "euler", cfg: float = CFG, steps: int = STEPS,
             lat=None, denoise: float = 1.0) -> torch.Tensor:
    """ComfyUI's KSampler node (scheduler "simple"), as a graph runs it; ``lat`` replaces the empty latent."""
    lat = latent(batch) if lat is None else lat
    out = nodes.KSampler().sample(model, SEED, steps, cfg, sampler_name, "simple", conds[0], conds[1], lat, denoise)
    return out[0]["samples"]


def truncated_guider(model, conds, cfg: float = CFG, **policy):
    """The Truncated CFG Guider node's output: every rule off but those given."""
    return TruncatedCFGGuider.execute(model, conds[0], conds[1], cfg, **{**ALL_OFF, **policy}).result[0]


def patched_model(model, **policy):
    """The Truncated CFG (model patch) node's output: every rule off but those given."""
    return TruncatedCFGModelPatch.execute(model, **{**ALL_OFF, **policy}).result[0]


def controller_of(model_patcher):
    """The controller a model patched by the pack carries (its ledgers); None if unpatched."""
    return model_patcher.get_attachment(PATCH_KEY)


def design_step(sigmas, sigma: float) -> int:
    """The design's rule, written out plainly: the step i with sigmas[i] >= sigma > sigmas[i + 1]."""
    values = [float(s) for s in sigmas]
    n = len(values) - 1
    for i in range(n):
        if values[i] >= sigma > values[i + 1]:
            return i
    return 0 if sigma > values[0] else n - 1


class ReferenceGuider(comfy.samplers.CFGGuider):
    """Core's sampling_function at cfg = 1 on the calls that belong to the given steps.

    With ``positive_in_both_slots`` those calls evaluate the positive prompt as both branches,
    so hooks and CFG++ samplers read the positive prediction as the uncond one.
    """

    def __init__(self, model, positive, negative, cfg, sigmas, truncated_steps, positive_in_both_slots=False):
        super().__init__(model)
        self.set_conds(positive, negative)
        self.set_cfg(cfg)
        self.reference_sigmas = sigmas
        self.truncated_steps = set(truncated_steps)
        self.positive_in_both_slots = positive_in_both_slots

    def predict_noise(self, x, timestep, model_options={}, seed=None):  # noqa: B006 (core's signature)
        step = design_step(self.reference_sigmas, float(timestep.flatten()[0]))
        positive, negative, cfg = self.conds.get("positive"), self.conds.get("negative"), self.cfg
        if step in self.truncated_steps:
            cfg = 1.0
            if self.positive_in_both_slots:
                negative = positive
        return comfy.samplers.sampling_function(self.inner_model, x, timestep, negative, positive, cfg,
                                                model_options=model_options, seed=seed)


def first_layer(network):
    """The layer every computed call of the network starts with (Wan: patch_embedding, Lumina 2: x_embedder).

    It runs only when the network computes: its forward is entered even for a call that a step cache
    inside it (core EasyCache) answers."""
    return getattr(network, "patch_embedding", None) or network.x_embedder


@contextlib.contextmanager
def count_rows(model, networks=None):
    """Counts batch rows at the first layer of each network (default: the model's own): what actually ran."""
    rows = []
    handles = [first_layer(network).register_forward_hook(lambda mod, args, out: rows.append(out.shape[0]))
               for network in (networks or [model.model.diffusion_model])]
    try:
        yield rows
    finally:
        for handle in handles:
            handle.remove()


class CfgSpy:
    """Pre- and post-CFG hooks that record what other nodes' hooks are handed.

    The hooks are closures, not bound methods: ModelPatcher.clone() deep-copies model_options,
    which would copy a bound method's instance and record into the copy.
    """

    def __init__(self):
        self.pre: list[tuple[float, torch.Tensor, torch.Tensor]] = []
        self.post: list[dict] = []

    def attach(self, model):
        pre, post = self.pre, self.post

        def pre_cfg(args):
            out = args["conds_out"]
            pre.append((float(args["sigma"].flatten()[0]), out[0].clone(), out[1].clone()))
            return out

        def post_cfg(args):
            post.append({k: (v.clone() if torch.is_tensor(v) else v) for k, v in args.items()
                         if k in ("denoised", "cond_denoised", "uncond_denoised", "input", "cond_scale", "sigma")})
            return args["denoised"]

        patched = model.clone()
        patched.set_model_sampler_pre_cfg_function(pre_cfg)
        patched.set_model_sampler_post_cfg_function(post_cfg)
        return patched


def check_reuse_steps(spy, ledger, cfg: float = CFG, atol: float = 1e-6):
    """Every reuse step's result against an independent computation of cond + (s - 1) * delta_hat.

    delta_hat = (cond - uncond at the reused full step) * sigma_now / sigma_then, per sample, from the
    predictions the hooks saw on that full step (x0 space). Returns how many steps it checked.
    """
    checked = 0
    for step, record in enumerate(ledger.steps):
        if record.kept != "reuse":
            continue
        sigma_then, cond_then, uncond_then = spy.pre[record.reused_from]
        sigma_now, cond_now, estimated_uncond = spy.pre[step]
        delta_hat = (cond_then - uncond_then) * (sigma_now / sigma_then)
        torch.testing.assert_close(estimated_uncond, cond_now - delta_hat, rtol=0, atol=atol)
        post = spy.post[step]
        assert post["cond_scale"] == cfg
        torch.testing.assert_close(post["denoised"], cond_now + (cfg - 1.0) * delta_hat, rtol=0, atol=atol)
        checked += 1
    return checked
