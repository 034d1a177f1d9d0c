"""Train the digits model: a class-conditional rectified-flow model in ComfyUI's WanModel architecture.

Deterministic for a given torch version and thread count: every random draw comes from one seeded
generator, and the script pins the thread count. It writes fp16 safetensors in Wan's own key layout,
so ComfyUI's UNETLoader (``comfy.sd.load_diffusion_model``) detects and loads it as a Wan 2.1 t2v
model. The training objective is ComfyUI's flow convention for Wan: x_t = sigma * noise + (1 - sigma)
* x_0, the model gets timestep sigma * 1000 and predicts noise - x_0.

usage: python quality/train_digits.py [--out quality/weights/digits_wan.safetensors] [--steps 3000]
"""
from __future__ import annotations

import argparse
import contextlib
import copy
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import torch

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))

from quality import digits_data  # noqa: E402

DEFAULT_OUT = PACK_ROOT / "quality" / "weights" / "digits_wan.safetensors"
ARCH = dict(dim=128, ffn_dim=256, num_heads=1, num_layers=3)  # ComfyUI detects heads = dim // 128


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--label-dropout", type=float, default=0.15, help="share of examples shown as 'no class'")
    parser.add_argument("--ema", type=float, default=0.999)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2, help="pinned: float sums depend on the thread count")
    return parser.parse_args(argv)


def build_model(seed: int) -> torch.nn.Module:
    import comfy.ldm.wan.model
    import comfy.ops

    model = comfy.ldm.wan.model.WanModel(
        model_type="t2v", in_dim=digits_data.CHANNELS, out_dim=digits_data.CHANNELS, text_dim=digits_data.TEXT_DIM,
        operations=comfy.ops.disable_weight_init, **ARCH)
    init_for_training(model, seed)
    return model


def init_for_training(model: torch.nn.Module, seed: int) -> None:
    """Fan-in scaled weights, zero biases, unit norms (ComfyUI's ops skip torch's own init).

    The output head starts at zero (predict zero velocity), so early updates do not fight noise.
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


def train(args, log=print) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    with torch_kernels_for_training():
        return _train(args, log)


def _train(args, log) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    torch.set_num_threads(args.threads)
    x_train, y_train, _, _ = digits_data.load_split()
    data = digits_data.to_model_space(x_train)
    labels = torch.as_tensor(y_train)
    gen = torch.Generator().manual_seed(args.seed)
    model = build_model(args.seed)
    ema = copy.deepcopy(model).requires_grad_(False)
    optimizer = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.0)
    warmup = max(1, args.steps // 30)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        return args.lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, args.steps - warmup)))

    start = time.perf_counter()
    for step in range(args.steps):
        idx = torch.randint(0, data.shape[0], (args.batch,), generator=gen)
        x0, y = data[idx], labels[idx].clone()
        y[torch.rand(args.batch, generator=gen) < args.label_dropout] = digits_data.NULL_CLASS
        # Logit-normal sigmas, as SD3 trains: most weight mid-trajectory.
        sigma = torch.sigmoid(torch.randn(args.batch, generator=gen))
        noise = torch.randn(x0.shape, generator=gen)
        s = sigma.view(-1, 1, 1, 1, 1)
        x_t = s * noise + (1 - s) * x0
        pred = model(x_t, sigma * 1000.0, digits_data.class_context(y))
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
        "truncated_cfg.provenance": "quality/train_digits.py in the Truncated CFG pack",
        "truncated_cfg.data": "scikit-learn load_digits(), stratified 70% train split (random_state 0)",
        "truncated_cfg.args": json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()
                                          if k != "out"}, sort_keys=True),
        "truncated_cfg.arch": json.dumps(ARCH, sort_keys=True),
        "truncated_cfg.torch": torch.__version__,
        "truncated_cfg.seconds": f"{time.perf_counter() - start:.0f}",
    }
    return state, meta


def state_digest(state: dict[str, torch.Tensor]) -> str:
    """sha256 over the tensors in key order: equal weights give equal digests, whatever the metadata."""
    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].numpy().tobytes())
    return h.hexdigest()


def main(argv=None) -> int:
    args = parse_args(argv)
    from devtools.host import start_script

    if not start_script(with_pack=False):
        return 2
    import safetensors.torch

    state, meta = train(args)
    meta["truncated_cfg.weights_sha256"] = state_digest(state)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    safetensors.torch.save_file(state, str(args.out), metadata=meta)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB), "
          f"weights sha256 {meta['truncated_cfg.weights_sha256']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
