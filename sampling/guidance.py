"""Guidance maths in model-output space (noise or velocity, up to the factor sigma).

ComfyUI hands hooks x0 predictions; ``x - x0`` is the model output times sigma, and every ratio
of norms below is invariant to that factor, so these functions take ``x - x0`` directly. The
conversions between the two spaces, and the one extrapolation in sigma that reuse and cache answers
share, are here too.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


def per_sample(sigma: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """ComfyUI's sigma (one value per sample, or a single value) shaped to broadcast against ``like``."""
    sigma = sigma.to(like.device, torch.float32).reshape(-1)
    if sigma.numel() == 1:
        sigma = sigma.expand(like.shape[0])
    return sigma.reshape([like.shape[0]] + [1] * (like.ndim - 1))


def model_output(x: torch.Tensor, x0: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``(x - x0) / sigma``, float32: the noise or velocity the network predicted for an x0 prediction
    (``s``: the sigma from ``per_sample``)."""
    return (x.float() - x0.float()) / s


def extrapolate_in_sigma(older: torch.Tensor, older_sigma: torch.Tensor, latest: torch.Tensor,
                         latest_sigma: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """The line through two values taken at two sigmas, at ``sigma``: at most one span beyond the latest, held
    after that (a line through two close points leaves the curve fast: from steps 0 and 1 over 18 steps it
    wrecks the picture). Two values at one sigma (a multi-call step) give no slope: the latest is held."""
    span = latest_sigma - older_sigma
    slope = torch.where(span == 0, torch.zeros_like(latest),
                        (latest - older) / torch.where(span == 0, torch.ones_like(span), span))
    reach = torch.maximum(sigma - latest_sigma, -span.abs())
    return latest + slope * reach


def _per_sample_norm(t: torch.Tensor) -> torch.Tensor:
    """L2 norm of each sample over every non-batch dimension, shaped to broadcast against ``t``."""
    norms = torch.linalg.vector_norm(t.float().reshape(t.shape[0], -1), dim=1)
    return norms.reshape([t.shape[0]] + [1] * (t.ndim - 1))


def _rescale_to(target: torch.Tensor, guided_norm: torch.Tensor) -> torch.Tensor:
    """target / |g| where |g| > 0, else 1 (a zero guided output is left as it is instead of dividing by zero)."""
    nonzero = guided_norm > 0
    return torch.where(nonzero, target / torch.where(nonzero, guided_norm, torch.ones_like(guided_norm)),
                       torch.ones_like(guided_norm))


def lumina_renorm_scale(guided: torch.Tensor, cond: torch.Tensor, renorm_cfg: float) -> torch.Tensor:
    """Per-sample factor of Lumina-Image-2.0's CFG renorm: cap |guided| at renorm_cfg * |cond|.

    Lumina's official rule: if |g| >= k |c| then g *= k |c| / |g|; it never scales up. A sample
    whose guided output is zero is left alone (its factor is 1) instead of dividing by zero.
    Returns float32 factors shaped (B, 1, ..., 1); all ones when renorm_cfg <= 0 (off).
    """
    guided_norm = _per_sample_norm(guided)
    if renorm_cfg <= 0:
        return torch.ones_like(guided_norm)
    max_norm = _per_sample_norm(cond) * float(renorm_cfg)
    return torch.where(guided_norm >= max_norm, _rescale_to(max_norm, guided_norm), torch.ones_like(guided_norm))


def diffusers_normalize_scale(guided: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """diffusers' Lumina2Pipeline ``cfg_normalization``: |c| / |g| over the last dimension (can scale up)."""
    return _rescale_to(torch.linalg.vector_norm(cond.float(), dim=-1, keepdim=True),
                       torch.linalg.vector_norm(guided.float(), dim=-1, keepdim=True))


QWEN_IMAGE_PATCH = 2  # Qwen-Image packs each 2x2 patch of its 16-channel latent into one token


def _token_norm(t: torch.Tensor, patch: int) -> torch.Tensor:
    """The L2 norm of each packed token (every channel of one patch x patch square of a frame), broadcast back to
    ``t``'s shape. ``t`` is ComfyUI's (B, C, H, W) or (B, C, T, H, W); an odd side is padded with zeros first, as
    the model pads before packing, and zeros add nothing to a norm."""
    h, w = t.shape[-2:]
    pad_h, pad_w = (-h) % patch, (-w) % patch
    padded = torch.nn.functional.pad(t.float(), (0, pad_w, 0, pad_h))
    lead = padded.shape[:-2]
    tokens = padded.reshape(*lead, (h + pad_h) // patch, patch, (w + pad_w) // patch, patch)
    norms = torch.linalg.vector_norm(tokens, dim=(1, -3, -1), keepdim=True)
    return norms.expand_as(tokens).reshape(padded.shape)[..., :h, :w]


def qwen_image_rescale_scale(guided: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """diffusers' QwenImagePipeline true-CFG rescale: |c| / |g| over each packed token (16 channels x a 2x2
    patch: the last axis of its packed latent), always (can scale up)."""
    return _rescale_to(_token_norm(cond, QWEN_IMAGE_PATCH), _token_norm(guided, QWEN_IMAGE_PATCH))


@dataclass(frozen=True)
class RenormMode:
    """One mode of CFG Renorm: the factor it multiplies the guided output by, and whether ``renorm_cfg`` sets it
    (the others always rescale to the positive output's norm over their group)."""
    name: str
    scale: Callable[[torch.Tensor, torch.Tensor, float], torch.Tensor]  # (guided, cond, renorm_cfg) -> factor
    takes_renorm_cfg: bool
    doc: str  # for the node's tooltip

    def apply(self, guided: torch.Tensor, cond: torch.Tensor, renorm_cfg: float) -> torch.Tensor:
        """``guided`` renormalised against ``cond`` (both model outputs, or both ``x - x0``)."""
        return guided * self.scale(guided, cond, renorm_cfg).to(guided.dtype)


RENORM = {mode.name: mode for mode in (
    RenormMode("lumina", lumina_renorm_scale, True,
               "lumina: Lumina-Image-2.0's and Z-Image's cap of the guided output's norm at renorm_cfg x the "
               "positive's, per image (never scales up)."),
    RenormMode("diffusers", lambda guided, cond, _k: diffusers_normalize_scale(guided, cond), False,
               "diffusers: Lumina2Pipeline's cfg_normalization, rescaled to the positive's norm over the last "
               "dimension, always (can scale up)."),
    RenormMode("qwen_image", lambda guided, cond, _k: qwen_image_rescale_scale(guided, cond), False,
               "qwen_image: QwenImagePipeline's true-CFG rescale to the positive's norm per packed token (16 "
               "channels x a 2x2 patch), always (can scale up)."),
)}
RENORM_MODES = tuple(RENORM)


def renorm_mode(name: str) -> RenormMode:
    if name not in RENORM:
        raise ValueError(f"mode must be one of {', '.join(RENORM_MODES)}, got {name!r}")
    return RENORM[name]


def relative_change(now: torch.Tensor, then: torch.Tensor) -> torch.Tensor:
    """|now - then| / |then| per sample (B,), norms over every non-batch dimension.

    The branches' relative difference |cond - uncond| / |cond| (how much guidance has left to say) is
    ``relative_change(uncond, cond)``; the refresh rule's movement of the positive output is
    ``relative_change(output_now, output_then)``.
    """
    diff = _per_sample_norm(now.float() - then.float()).flatten()
    base = _per_sample_norm(then).flatten()
    return diff / base.clamp_min(torch.finfo(torch.float32).tiny)


def agreement(cond: torch.Tensor, uncond: torch.Tensor) -> torch.Tensor:
    """Cosine similarity of cond and uncond per sample (B,), the Adaptive Guidance measure."""
    c = cond.float().reshape(cond.shape[0], -1)
    u = uncond.float().reshape(uncond.shape[0], -1)
    return torch.nn.functional.cosine_similarity(c, u, dim=1)


def difference_norm(cond: torch.Tensor, uncond: torch.Tensor) -> torch.Tensor:
    """|cond - uncond| per sample (B,). On ``x - x0`` it is how far guidance moves the predicted
    (denoised) picture at this step: the model-output difference times sigma, which shrinks as
    sampling ends even where the model-output difference itself does not (flow models)."""
    return _per_sample_norm(cond.float() - uncond.float()).flatten()
