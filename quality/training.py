"""The harness models' training: a class-conditional rectified-flow model in ComfyUI's WanModel architecture.

Deterministic for a given torch version and thread count: every random draw comes from one seeded generator,
and the thread count is pinned. The weights are saved as fp16 safetensors in Wan's own key layout, so
ComfyUI's UNETLoader (``comfy.sd.load_diffusion_model``) detects and loads them as a Wan 2.1 t2v model. The
objective is ComfyUI's flow convention for Wan: x_t = sigma * noise + (1 - sigma) * x_0, the model gets
timestep sigma * 1000 and predicts noise - x_0.
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from .digits_data import CHANNELS, TEXT_DIM


@dataclass(frozen=True)
class TrainingData:
    """What one harness model learns from: its architecture, its batches and its prompts."""
    name: str
    arch: dict  # WanModel's dim, ffn_dim, num_heads, num_layers (ComfyUI detects heads = dim // 128)
    # (generator, batch) -> (x_0 in model space, class labels); every random draw from that generator
    batches: Callable[[torch.Generator, int], tuple[torch.Tensor, torch.Tensor]]
    class_context: Callable  # (n,) labels -> (n, 1, 4096) prompts
    null_class: int
    description: str  # where its pictures come from, for the weights' metadata
    # Start every block as the identity (self-attention and FFN outputs at zero), as DiT's adaLN-Zero does;
    # cross-attention keeps its random output, so the prompt reaches every block from the first step. The
    # digits model keeps the full random start its shipped weights were trained from.
    identity_blocks_at_start: bool = False
    # Training sigmas moved toward noise by ``shifted``, as SD3 trains large pictures: where a picture shows
    # itself early, its class is worth most near pure noise.
    sigma_shift: float = 1.0
    # Keep the prompt embedding (text_embedding: 4096 -> dim -> dim) as initialised: trained from identity
    # blocks, its first layer's GELU died (every pre-activation of every class prompt below zero after 2000
    # steps on 64 tokens), and the class never reached the blocks (see init_for_training).
    freeze_text_embedding: bool = False


def parse_args(description: str, default_out: Path, argv, *, steps: int, batch: int, lr: float,
               label_dropout: float) -> argparse.Namespace:
    """A training script's arguments, with that model's own defaults."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", type=Path, default=default_out)
    parser.add_argument("--steps", type=int, default=steps)
    parser.add_argument("--batch", type=int, default=batch)
    parser.add_argument("--lr", type=float, default=lr)
    parser.add_argument("--label-dropout", type=float, default=label_dropout,
                        help="share of examples shown as 'no class'")
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="pinned: float sums depend on the thread count")
    return parser.parse_args(argv)


def build_model(arch: dict, seed: int, identity_blocks_at_start: bool = False) -> torch.nn.Module:
    import comfy.ldm.wan.model
    import comfy.ops

    model = comfy.ldm.wan.model.WanModel(
        model_type="t2v", in_dim=CHANNELS, out_dim=CHANNELS, text_dim=TEXT_DIM,
        operations=comfy.ops.disable_weight_init, **arch)
    init_for_training(model, seed, identity_blocks_at_start)
    return model


BLOCK_OUTPUTS = ("self_attn.o.weight", "ffn.2.weight")


def init_for_training(model: torch.nn.Module, seed: int, identity_blocks_at_start: bool = False) -> None:
    """Fan-in scaled weights, zero biases, unit norms (ComfyUI's ops skip torch's own init).

    The output head starts at zero (predict zero velocity), so early updates do not fight noise. With
    ``identity_blocks_at_start`` each block's self-attention and FFN outputs start at zero too: on 64 tokens,
    blocks that start random bury the input under their own output, and the shapes model stayed at the loss of
    predicting the mean picture (1.04 at sigma 0.5 after 300 steps; 0.08 with identity blocks, 0.034 after
    1000). Not cross-attention's: on many tokens the prompt adds one vector to every token, which only pays
    once the blocks after it are nonlinear, so from zero it was trained away and the model ignored its class
    (cond and uncond predictions 1e-5 apart after 2000 steps on a trial set of oriented gratings, not in the
    repository: guidance changed nothing and every token guessed its own class, the fragments). With it
    random and the prompt embedding frozen, the same 2000 steps read 0.99 / 1.00 of the gratings' classes at
    cfg 1 / 2, Fréchet 150 / 52, and the shapes model's samples became one shape each (2026-12-03).
    """
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            elif name.endswith("bias") or name.startswith("head.head"):
                p.zero_()
            elif name.endswith("modulation"):
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[-1] ** 0.5)
            else:
                fan_in = p[0].numel()
                p.copy_(torch.randn(p.shape, generator=g) / fan_in ** 0.5)
                # Drawn, then zeroed: the other weights keep the same draws either way.
                if identity_blocks_at_start and name.endswith(BLOCK_OUTPUTS):
                    p.zero_()


@contextlib.contextmanager
def torch_kernels_for_training():
    """ComfyUI's own training switch, on while the model trains, restored after.

    From ComfyUI 0.33 on, WanModel's rope runs comfy-kitchen's kernel, which has no backward; with
    ``comfy.model_management.in_training`` set (what its TrainLoraNode sets) it runs the plain torch
    rope instead. Older hosts (0.3.64) have no such switch and always run the torch rope, the same
    arithmetic.
    """
    import comfy.model_management

    missing = object()
    before = getattr(comfy.model_management, "in_training", missing)
    comfy.model_management.in_training = True
    try:
        yield
    finally:
        if before is missing:
            del comfy.model_management.in_training
        else:
            comfy.model_management.in_training = before


def train(data: TrainingData, args, log=print) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    threads = torch.get_num_threads()
    try:
        with torch_kernels_for_training():
            return _train(data, args, log)
    finally:
        torch.set_num_threads(threads)


def _train(data: TrainingData, args, log) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    model = build_model(data.arch, args.seed, data.identity_blocks_at_start)
    if data.freeze_text_embedding:
        model.text_embedding.requires_grad_(False)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=0.0)
    warmup = max(1, args.steps // 30)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    start = time.perf_counter()
    for step in range(args.steps):
        x0, y = data.batches(gen, args.batch)
        y = y.clone()
        y[torch.rand(args.batch, generator=gen) < args.label_dropout] = data.null_class
        # Logit-normal sigmas, as SD3 trains: most weight mid-trajectory.
        sigma = torch.sigmoid(torch.randn(args.batch, generator=gen))
        if data.sigma_shift != 1.0:
            sigma = shifted(sigma, data.sigma_shift)
        noise = torch.randn(x0.shape, generator=gen)
        s = sigma.view(-1, 1, 1, 1, 1)
        x_t = s * noise + (1 - s) * x0
        pred = model(x_t, sigma * 1000.0, data.class_context(y))
        loss = torch.nn.functional.mse_loss(pred, noise - x0)
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        # EMA with the usual warm-up, so no trace of the random start survives in the saved weights.
        decay = min(args.ema, (1 + step) / (10 + step))
        with torch.no_grad():
            for e, p in zip(ema.parameters(), model.parameters(), strict=True):
                e.lerp_(p, 1 - decay)
        if step % 250 == 0 or step == args.steps - 1:
            log(f"step {step:5d}  loss {loss.item():.4f}  {time.perf_counter() - start:6.1f} s")
    state = {k: v.to(torch.float16).contiguous() for k, v in ema.state_dict().items()}
    meta = {
        "truncated_cfg.provenance": f"quality/train_{data.name}.py in the Truncated CFG pack",
        "truncated_cfg.data": data.description,
        "truncated_cfg.args": json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                                          if k != "out"}, sort_keys=True),
        "truncated_cfg.arch": json.dumps(data.arch, sort_keys=True),
        "truncated_cfg.torch": torch.__version__,
        "truncated_cfg.seconds": f"{time.perf_counter() - start:.0f}",
    }
    return state, meta


def shifted(sigma: torch.Tensor, shift: float) -> torch.Tensor:
    """The flow models' timestep shift (ComfyUI's ModelSamplingDiscreteFlow): shift > 1 moves sigmas toward 1."""
    return shift * sigma / (1 + (shift - 1) * sigma)


# The weights files' metadata key for state_digest, which the host tests and the shapes judge's loader check.
DIGEST_KEY = "truncated_cfg.weights_sha256"


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors in key order: equal weights give equal digests, whatever the metadata."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].numpy().tobytes())
    return h.hexdigest()


def train_and_save(data: TrainingData, args) -> int:
    """The training scripts' main: start ComfyUI's modules, train, write ``args.out``."""
    from devtools.host import start_script

    if not start_script(with_pack=False):
        return 2
    import safetensors.torch

    state, meta = train(data, args)
    meta[DIGEST_KEY] = state_digest(state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state, str(args.out), metadata=meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), "
          f"weights sha256 {meta[DIGEST_KEY]}")
    return 0
