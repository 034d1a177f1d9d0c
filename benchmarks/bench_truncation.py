"""What truncation saves, measured on ComfyUI's real sampler in one run.

A compute-bound Wan-architecture model (ComfyUI's WanModel, random weights) is sampled through
SamplerCustomAdvanced with ComfyUI's CFGGuider (twice, as two variants: their ratio is the noise of
the comparison), with the Truncated CFG Guider with every rule off, and with truncation policies.
Runs are interleaved round by round and the median is taken, so the machine's drift hits every
variant alike; within a round each variant runs twice and the second run is timed (ComfyUI 0.33's
first sampling after another model patcher costs extra). Printed per policy: model calls,
the wall-time ratio against full CFG, the forward-pass bound (sum of the measured diffusion-model
forward times, truncated / full): the best a truncation can do is to save exactly the forward
passes it skips, and the spread of the variant's timed rounds. Targets: ratio within 0.01 of the
bound; guider-off / CFGGuider <= 1.01.

usage: python benchmarks/bench_truncation.py [--dim 512] [--layers 4] [--tokens 192] [--steps 20] [--rounds 5]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from devtools.host import start_script  # noqa: E402


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dim", type=int, default=512, help="Wan width (multiple of 128)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=192, help="latent tokens: 3 frames x (H/2) x (W/2)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved repetitions; the median is reported")
    parser.add_argument("--sampler", default="euler")
    parser.add_argument("--cfg", type=float, default=4.0)
    return parser.parse_args(argv)


class ForwardTimer:
    """Wall time of every diffusion-model forward, and the batch rows the network computed.

    Rows are counted at the network's first layer, which runs only when it computes: a step cache inside
    the forward (core EasyCache) answers a call without it, in a sliver of the time the timer still sees.
    """

    def __init__(self, diffusion_model):
        self.durations: list[float] = []
        self.rows = 0
        self._start = 0.0
        diffusion_model.register_forward_pre_hook(self._before)
        diffusion_model.register_forward_hook(self._after)
        first_layer = getattr(diffusion_model, "patch_embedding", None) or diffusion_model.x_embedder
        first_layer.register_forward_hook(self._computed)

    def _before(self, module, args):
        self._start = time.perf_counter()

    def _after(self, module, args, output):
        self.durations.append(time.perf_counter() - self._start)

    def _computed(self, module, args, output):
        self.rows += output.shape[0]

    def take(self) -> tuple[float, int]:
        total, rows = sum(self.durations), self.rows
        self.durations, self.rows = [], 0
        return total, rows


def main(argv=None) -> int:
    args = parse_args(argv)
    if not start_script():
        return 2
    import comfy.samplers
    import torch
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    from devtools.checkpoints import load_model, save_wan, wan_conditioning
    from truncated_cfg.nodes.guider import TruncatedCFGGuider

    side = int(round((args.tokens / 3) ** 0.5)) * 2
    if 3 * (side // 2) ** 2 != args.tokens:
        print(f"error: --tokens must be 3 x n^2 (3 latent frames of n x n patches), got {args.tokens}", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        model = load_model(save_wan(Path(tmp) / "wan_bench.safetensors", dim=args.dim, layers=args.layers))
    timer = ForwardTimer(model.model.diffusion_model)
    positive, negative = wan_conditioning(1, tokens=16), wan_conditioning(2, tokens=16)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", args.steps)
    sampler = comfy.samplers.sampler_object(args.sampler)
    latent = {"samples": torch.zeros(1, 16, 3, side, side)}

    def core():
        guider = comfy.samplers.CFGGuider(model)
        guider.set_conds(positive, negative)
        guider.set_cfg(args.cfg)
        return guider, None

    def ours(**policy):
        def make():
            settings = dict(cfg_truncate_steps=0, cfg_trunc_ratio=1.0, keep="cond")
            settings.update(policy)
            guider = TruncatedCFGGuider.execute(model, positive, negative, args.cfg, **settings).result[0]
            return guider, guider.controller
        return make

    variants = {
        "CFGGuider (core)": core,
        "CFGGuider (core), again": core,
        "Truncated CFG, every rule off": ours(),
        f"cfg_truncate_steps = 5 of {args.steps}": ours(cfg_truncate_steps=5),
        "cfg_trunc_ratio = 0.25": ours(cfg_trunc_ratio=0.25),
        "cfg_every = 4, keep cond": ours(cfg_every=4),
        "cfg_every = 4, reuse_extrapolated": ours(cfg_every=4, keep="reuse_extrapolated"),
    }
    wall = {name: [] for name in variants}
    forward = {name: [] for name in variants}
    model_calls = {}
    torch.manual_seed(0)
    for _ in range(args.rounds):
        for name, make in variants.items():
            guider, controller = make()
            # Untimed: the switch from the previous variant's model patcher lands here.
            SamplerCustomAdvanced().sample(Noise_RandomNoise(0), guider, sampler, sigmas, latent)
            timer.take()
            start = time.perf_counter()
            SamplerCustomAdvanced().sample(Noise_RandomNoise(0), guider, sampler, sigmas, latent)
            wall[name].append(time.perf_counter() - start)
            fwd, rows = timer.take()
            forward[name].append(fwd)
            ledger = controller.last_ledger if controller else None
            if ledger is not None and ledger.model_calls != rows:
                raise AssertionError(f"{name}: ledger says {ledger.model_calls} model calls, the model ran {rows} rows")
            model_calls[name] = rows

    full = statistics.median(wall["CFGGuider (core)"])
    full_fwd = statistics.median(forward["CFGGuider (core)"])
    print(f"Wan-architecture model: dim {args.dim}, {args.layers} layers, {args.tokens} tokens, {args.steps} "
          f"{args.sampler} steps, cfg {args.cfg}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"median of {args.rounds} interleaved rounds")
    print(f"{'variant':36} {'model calls':>11} {'wall s':>8} {'wall ratio':>10} {'fwd bound':>10} {'gap':>7} "
          f"{'spread':>7}")
    for name in variants:
        w, f = statistics.median(wall[name]), statistics.median(forward[name])
        run, total = model_calls[name], model_calls["CFGGuider (core)"]
        ratio, bound = w / full, f / full_fwd
        spread = (max(wall[name]) - min(wall[name])) / w
        print(f"{name:36} {run:>5} / {total:<3} {w:8.3f} {ratio:10.4f} {bound:10.4f} {ratio - bound:+7.4f} "
              f"{spread:7.3f}")
    off = statistics.median(wall["Truncated CFG, every rule off"]) / full
    print(f"guider-off / CFGGuider wall ratio: {off:.4f} (target <= 1.01)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
