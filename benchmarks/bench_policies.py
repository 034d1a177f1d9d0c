"""Every truncation policy against ComfyUI's own ways, over model sizes and token counts, in one run.

For each model (ComfyUI's WanModel at several widths, and Lumina 2's NextDiT at the width ComfyUI's
detection fixes; random weights, so speed only) and each latent size (small image to short video),
the variants run interleaved round by round and the median is kept; within a round each variant
runs twice back to back and the second run is timed (on ComfyUI 0.33 the first sampling after
another model patcher costs extra, which would otherwise land on whichever variant follows). Per
variant: batch rows the diffusion model ran (model calls), the wall-time ratio against
core's CFGGuider, the forward-pass bound (measured forward time, variant / CFGGuider): the most a
variant can save is the forward passes it skips, and the spread of its timed rounds. Baselines on
the same model in the same run: core CFGGuider (twice, as two variants: the "again" row's ratio is
the comparison's own noise), core RenormCFG (whose cfg_trunc stops guiding but still runs both
branches), and the "cfg 1 schedule": two KSamplerAdvanced nodes, full CFG then cfg 1, which
ComfyUI runs with one branch. Then Wan A14B: one
pass through the Wan A14B Experts node against ComfyUI's two-KSamplerAdvanced expert graph.

Writes docs/speed-<ComfyUI version>.md and .png unless --no-write.

usage: python benchmarks/bench_policies.py [--steps 10] [--rounds 3] [--quick] [--out-dir docs] [--no-write]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))
sys.path.insert(0, str(PACK_ROOT / "benchmarks"))

from devtools.host import start_script  # noqa: E402

CFG = 4.0
SEED = 0
LATENTS = {  # name: (frames, height, width) of the latent; tokens = frames * h/2 * w/2
    "small image (64 tokens)": (1, 16, 16),
    "image (256 tokens)": (1, 32, 32),
    "short video (1024 tokens)": (4, 32, 32),
}
SPEED_NOTE = (
    "Random-weight models built with ComfyUI's classes (speed only). Wall ratio and forward bound are against "
    "core CFGGuider on the same model and latent in the same run. Model calls are the batch rows the diffusion "
    "model ran (a branch of CFG over the batch). The forward bound is what skipping those branches can save "
    "at most; gap = wall ratio - forward bound is what the variant adds beyond the model. The bound itself moves "
    "with the machine's noise (a shared 2-core CPU), so read each row's wall ratio against its own bound. Core "
    "RenormCFG reads "
    "`diffusion_model.in_channels`, which only Lumina's NextDiT has: on Wan it fails, and the table says so.")
WAN_SIZES = {"Wan dim 128 x 1": (128, 1), "Wan dim 512 x 2": (512, 2), "Wan dim 1024 x 2": (1024, 2)}
# Core's step caches, each against core CFGGuider with the same cache, on the Wan models from dim 512 up with the
# short video. On these random-weight models the README's 0.3 (from 15 %) skips nothing in 10 steps: these
# thresholds, from the first step, make the caches answer calls, which is what the rows time.
CACHES = {"LazyCache": 1.0, "EasyCache": 1.0}
CACHE_START = 0.0
CACHE_MODELS = ("Wan dim 512 x 2", "Wan dim 1024 x 2")
CACHE_LATENT = "short video (1024 tokens)"
CACHE_NOTE = (
    "Each cache's rows are against core CFGGuider with the same cache node on the same model (start 0, end 0.95, "
    "its other defaults): what the pack adds to a graph that already caches. Model calls are the batch "
    "rows the network computed (counted at its first layer); the forward bound includes the calls a cache "
    "answered inside the forward (EasyCache), which cost a sliver of a computed one.")


@dataclass
class Measure:
    wall: list
    forward: list
    rows: int = 0
    error: str = ""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved repetitions; the median is reported")
    parser.add_argument("--quick", action="store_true", help="smallest Wan and the small image only (a smoke run)")
    parser.add_argument("--out-dir", type=Path, default=PACK_ROOT / "docs")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.steps < 4:
        parser.error("--steps must be at least 4 (the policies truncate half the steps)")
    return args


def truncated_guider(model, positive, negative, **policy):
    """The Truncated CFG Guider node's output, every rule off except those given."""
    from sampling.rules import OFF
    from truncated_cfg.nodes.guider import TruncatedCFGGuider

    return TruncatedCFGGuider.execute(model, positive, negative, CFG, **{**OFF, **policy}).result[0]


def core_guider(model, positive, negative, cfg: float = CFG):
    """Core's CFGGuider, as the CFGGuider node builds it."""
    from devtools.core_nodes import cfg_guider

    return cfg_guider(model, positive, negative, cfg)


def custom_sampler(guider, sigmas, latent) -> None:
    """Core's SamplerCustomAdvanced node with euler."""
    import comfy.samplers
    from comfy_extras.nodes_custom_sampler import Noise_RandomNoise, SamplerCustomAdvanced

    SamplerCustomAdvanced().sample(Noise_RandomNoise(SEED), guider, comfy.samplers.sampler_object("euler"), sigmas,
                                   latent)


def split_ksamplers(first_model, second_model, first_cfg, second_cfg, steps, split, positive, negative,
                    latent) -> None:
    """ComfyUI's own two-KSamplerAdvanced graph: ``first_model`` up to step ``split``, ``second_model`` after."""
    import nodes

    first = nodes.KSamplerAdvanced().sample(first_model, "enable", SEED, steps, first_cfg, "euler", "simple",
                                            positive, negative, latent, 0, split, "enable")[0]
    nodes.KSamplerAdvanced().sample(second_model, "disable", SEED, steps, second_cfg, "euler", "simple", positive,
                                    negative, first, split, 10000, "disable")


def custom_run(make_guider, model, steps: int):
    """A run of SamplerCustomAdvanced over ``steps`` simple steps with the guider ``make_guider(model)``."""
    import comfy.samplers

    def run(latent):
        sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps)
        custom_sampler(make_guider(model), sigmas, latent)
    return run


def variants(model, positive, negative, steps: int, lumina: bool):
    """name -> a function sampling once (returns nothing); the same policies on every model."""
    import nodes
    from comfy_extras.nodes_lumina2 import RenormCFG

    from truncated_cfg.nodes.model_patch import TruncatedCFGModelPatch
    from truncated_cfg.nodes.renorm import TruncatedCFGRenorm

    half = steps // 2

    def custom(make_guider, m=model):
        return custom_run(make_guider, m, steps)

    def core(m):
        return core_guider(m, positive, negative)

    def ours(**policy):
        return lambda m: truncated_guider(m, positive, negative, **policy)

    def cfg_one_schedule(latent):
        split_ksamplers(model, model, CFG, 1.0, steps, half, positive, negative, latent)

    def plain_ksampler(m):
        def run(latent):
            nodes.KSampler().sample(m, SEED, steps, CFG, "euler", "simple", positive, negative, latent)
        return run

    patched = TruncatedCFGModelPatch.execute(model, cfg_truncate_steps=half, cfg_trunc_ratio=1.0, keep="cond").result[0]
    out = {
        "core CFGGuider": custom(core),
        "core CFGGuider, again": custom(core),
        "ours, every rule off": custom(ours()),
        f"ours, last {half}": custom(ours(cfg_truncate_steps=half)),
        "ours, ratio 0.5": custom(ours(cfg_trunc_ratio=0.5)),
        "ours, sigma > 0.5": custom(ours(sigma_low=0.5)),
        "ours, adaptive 0.99": custom(ours(adaptive_threshold=0.99)),
        "ours, every 2, keep cond": custom(ours(cfg_every=2)),
        "ours, every 2, reuse": custom(ours(cfg_every=2, keep="reuse")),
        "ours, every 2, reuse_extrapolated": custom(ours(cfg_every=2, keep="reuse_extrapolated")),
        f"cfg 1 schedule (2 KSamplerAdvanced, cfg 1 from step {half})": cfg_one_schedule,
        f"ours as MODEL patch, last {half} (KSampler)": plain_ksampler(patched),
    }
    # Core RenormCFG: cfg_trunc 0.5 stops guiding below sigma 0.5 but both branches still run.
    renormed = RenormCFG.execute(model, 0.5, 1.0).result[0]
    out["core RenormCFG, cfg_trunc 0.5"] = custom(core, renormed)
    if lumina:
        ours_renorm = TruncatedCFGRenorm.execute(model, 1.0, "lumina").result[0]
        out["ours, CFG Renorm + sigma > 0.5"] = custom(ours(sigma_low=0.5), ours_renorm)
    return out


def cache_variants(model, positive, negative, steps: int, cache: str) -> dict:
    """Core CFGGuider with the cache node, and the pack's guider on the same cached model, both ways."""
    from quality.settings import StepCacheSetting
    from quality.sweep import with_step_cache

    cached = with_step_cache(model, StepCacheSetting(cache, CACHES[cache], CACHE_START, 0.95))
    label = f"{cache} {CACHES[cache]}"
    policy = dict(cfg_every=4, keep="reuse_extrapolated")
    return {
        f"core CFGGuider + {label}": custom_run(lambda m: core_guider(m, positive, negative), cached, steps),
        f"ours, every 4, reuse_extrapolated, coordinate + {label}": custom_run(
            lambda m: truncated_guider(m, positive, negative, step_cache="coordinate", **policy), cached, steps),
        f"ours, every 4, reuse_extrapolated, independent + {label}": custom_run(
            lambda m: truncated_guider(m, positive, negative, step_cache="independent", **policy), cached, steps),
        f"ours, every 4, reuse_extrapolated (no cache) vs {label}": custom_run(
            lambda m: truncated_guider(m, positive, negative, **policy), model, steps),
    }


def measure(model, runs: dict, latent: dict, rounds: int) -> dict[str, Measure]:
    from bench_truncation import ForwardTimer

    timer = ForwardTimer(model.model.diffusion_model)
    results = {name: Measure([], []) for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            if results[name].error:
                continue
            try:
                run(latent)  # untimed: the switch from the previous variant's model patcher lands here
            except AttributeError as exc:  # core RenormCFG on a model without `in_channels`: reported, not hidden
                results[name].error = f"fails: {type(exc).__name__}: {exc}"
                timer.take()
                continue
            timer.take()
            start = time.perf_counter()
            run(latent)
            results[name].wall.append(time.perf_counter() - start)
            fwd, rows = timer.take()
            results[name].forward.append(fwd)
            results[name].rows = rows
    return results


def table_rows(model_name: str, latent_name: str, results: dict[str, Measure]) -> list[dict]:
    """One row per variant, against the first variant (core CFGGuider, with the cache of the cache rows)."""
    ref = next(iter(results.values()))
    wall0, fwd0 = statistics.median(ref.wall), statistics.median(ref.forward)
    rows = []
    for name, m in results.items():
        row = {"model": model_name, "latent": latent_name, "variant": name, "rows": m.rows, "full_rows": ref.rows,
               "error": m.error}
        if not m.error:
            row.update(wall=statistics.median(m.wall), ratio=statistics.median(m.wall) / wall0,
                       bound=statistics.median(m.forward) / fwd0, spread=spread(m.wall))
        rows.append(row)
    return rows


def spread(values: list) -> float:
    """(max - min) / median of a variant's timed rounds: how much its own timing moved."""
    return (max(values) - min(values)) / statistics.median(values) if len(values) > 1 else 0.0


def format_rows(rows: list[dict]) -> str:
    lines = ["| model | latent | variant | model calls | wall s | wall ratio | forward bound | gap | spread |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["error"]:
            lines.append(f"| {r['model']} | {r['latent']} | {r['variant']} | — | — | {r['error']} | — | — | — |")
        else:
            lines.append(f"| {r['model']} | {r['latent']} | {r['variant']} | {r['rows']} / {r['full_rows']} | "
                         f"{r['wall']:.3f} | {r['ratio']:.3f} | {r['bound']:.3f} | {r['ratio'] - r['bound']:+.3f} | "
                         f"{r['spread']:.3f} |")
    return "\n".join(lines)


def wan_models(tmp: Path, quick: bool):
    from devtools.checkpoints import load_model, save_wan, wan_conditioning

    conds = (wan_conditioning(1, tokens=16), wan_conditioning(2, tokens=16))
    sizes = dict(list(WAN_SIZES.items())[:1]) if quick else WAN_SIZES
    for name, (dim, layers) in sizes.items():
        yield name, load_model(save_wan(tmp / f"{dim}.safetensors", dim=dim, layers=layers)), conds, False


def lumina_model(tmp: Path):
    from devtools.checkpoints import load_model, lumina2_conditioning, save_lumina2

    conds = (lumina2_conditioning(1, tokens=16), lumina2_conditioning(2, tokens=16))
    return "Lumina 2 NextDiT 2304 x 1", load_model(save_lumina2(tmp / "lumina.safetensors", layers=1)), conds, True


def expert_comparison(tmp: Path, steps: int, rounds: int) -> list[dict]:
    """Wan A14B: the Experts node in one pass vs ComfyUI's two-KSamplerAdvanced graph (high, then low)."""
    import comfy.samplers
    import torch

    from devtools.checkpoints import load_model, save_wan, wan_conditioning
    from truncated_cfg.nodes.models.wan_a14b import WanA14BExperts
    from truncated_cfg.sampling.experts import first_low_noise_step

    boundary = 0.875
    high = load_model(save_wan(tmp / "high.safetensors", dim=512, layers=2, seed=1))
    low = load_model(save_wan(tmp / "low.safetensors", dim=512, layers=2, seed=2))
    positive, negative = wan_conditioning(1, tokens=16), wan_conditioning(2, tokens=16)
    combined = WanA14BExperts.execute(high, low, "t2v", boundary).result[0]
    sigmas = comfy.samplers.calculate_sigmas(combined.get_model_object("model_sampling"), "simple", steps)
    split = first_low_noise_step([float(s) for s in sigmas], boundary)
    latent = {"samples": torch.zeros(1, 16, 1, 32, 32)}
    counts = {"high": 0, "low": 0}
    for name, expert in (("high", high), ("low", low)):
        expert.model.diffusion_model.patch_embedding.register_forward_hook(
            lambda mod, args, out, name=name: counts.__setitem__(name, counts[name] + out.shape[0]))

    def one_pass(**policy):
        return lambda: custom_sampler(truncated_guider(combined, positive, negative, **policy), sigmas, latent)

    def native():
        split_ksamplers(high, low, CFG, CFG, steps, split, positive, negative, latent)

    runs = {"ComfyUI graph: 2 KSamplerAdvanced (high, low)": native, "Wan A14B Experts, one pass": one_pass(),
            f"Wan A14B Experts, one pass, last {steps // 2}": one_pass(cfg_truncate_steps=steps // 2),
            "Wan A14B Experts, one pass, every 2, reuse_extrapolated": one_pass(cfg_every=2,
                                                                               keep="reuse_extrapolated")}
    wall = {name: [] for name in runs}
    calls = {}
    for _ in range(rounds):
        for name, run in runs.items():
            run()  # untimed: warms this variant after the previous one's model patchers
            counts.update(high=0, low=0)
            start = time.perf_counter()
            run()
            wall[name].append(time.perf_counter() - start)
            calls[name] = dict(counts)
    ref = statistics.median(wall["ComfyUI graph: 2 KSamplerAdvanced (high, low)"])
    return [{"variant": name, "high": calls[name]["high"], "low": calls[name]["low"],
             "wall": statistics.median(w), "ratio": statistics.median(w) / ref, "split": split}
            for name, w in wall.items()]


def plot(rows: list[dict], path: Path) -> None:
    from quality.report import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(8, 5), dpi=110)
    names = [v for v in dict.fromkeys(r["variant"] for r in rows) if v != "core CFGGuider"]
    for i, name in enumerate(names):
        pts = [r for r in rows if r["variant"] == name and not r["error"]]
        # Ten colours and seven markers: no two of the first seventy variants look alike.
        ax.scatter([r["bound"] for r in pts], [r["ratio"] for r in pts], label=name, s=28,
                   color=f"C{i % 10}", marker="os^vD<>"[i % 7], alpha=0.85)
    ends = [v for r in rows if not r["error"] for v in (r["bound"], r["ratio"])]
    ax.plot([min(ends), max(ends)], [min(ends), max(ends)], color="0.5", lw=1, ls="--", label="wall = forward bound")
    ax.set_xlabel("forward-pass bound (forward time / core CFGGuider's)")
    ax.set_ylabel("wall time / core CFGGuider's")
    ax.set_title("each point: one model size x latent size, median of interleaved rounds", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    save_figure(fig, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    if not start_script():
        return 2
    import comfy.model_management
    import torch

    from truncated_cfg.nodes.host_version import running_version

    version = running_version() or "unknown"
    started = time.perf_counter()
    rows: list[dict] = []
    cache_rows: list[dict] = []
    latents = dict(list(LATENTS.items())[:1]) if args.quick else LATENTS
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        models = list(wan_models(tmp, args.quick)) + ([] if args.quick else [lumina_model(tmp)])
        for model_name, model, (positive, negative), lumina in models:
            # NextDiT at its real width takes about 1 s a call here: the small image only.
            model_latents = dict(list(latents.items())[:1]) if lumina else latents
            for latent_name, (frames, h, w) in model_latents.items():
                shape = (1, 16, h, w) if lumina else (1, 16, frames, h, w)
                runs = variants(model, positive, negative, args.steps, lumina)
                results = measure(model, runs, {"samples": torch.zeros(shape)}, args.rounds)
                new = table_rows(model_name, latent_name, results)
                print(format_rows(new).split("\n", 2)[2], flush=True)
                rows += new
                if (model_name in CACHE_MODELS and latent_name == CACHE_LATENT) or args.quick:
                    for cache in CACHES:
                        runs = cache_variants(model, positive, negative, args.steps, cache)
                        results = measure(model, runs, {"samples": torch.zeros(shape)}, args.rounds)
                        new = table_rows(model_name, latent_name, results)
                        print(format_rows(new).split("\n", 2)[2], flush=True)
                        cache_rows += new
            comfy.model_management.unload_all_models()
            del model
        experts = expert_comparison(tmp, args.steps, args.rounds)
    header = (f"ComfyUI {version}; {args.steps} euler steps, cfg {CFG}, median of {args.rounds} interleaved "
              f"rounds, each variant warmed; torch {torch.__version__} on the CPU, {torch.get_num_threads()} "
              f"threads; {time.perf_counter() - started:.0f} s")
    expert_lines = ["| variant | high-noise rows | low-noise rows | wall s | wall ratio |", "|---|---:|---:|---:|---:|"]
    expert_lines += [f"| {r['variant']} | {r['high']} | {r['low']} | {r['wall']:.3f} | {r['ratio']:.3f} |"
                     for r in experts]
    print(header)
    print(format_rows(rows))
    print(format_rows(cache_rows))
    print("\n".join(expert_lines))
    if not args.no_write:
        args.out_dir.mkdir(parents=True, exist_ok=True)
        command = " ".join(["bash benchmarks/policies.sh"] + (argv if argv is not None else sys.argv[1:]))
        name = f"speed-{version}"
        text = [f"# Speed on ComfyUI {version}: every policy against ComfyUI's own ways", "",
                f"Run: `{command}`: {header}.", "", SPEED_NOTE, "",
                f"![wall ratio vs forward bound]({name}.png)", "", format_rows(rows), "",
                "## With a step cache on the model", "", CACHE_NOTE, "", format_rows(cache_rows), "",
                f"## Wan A14B, two experts (dim 512 x 2 each, 256 tokens; boundary 0.875: low-noise from step "
                f"{experts[0]['split']})", "", "\n".join(expert_lines), ""]
        (args.out_dir / f"{name}.md").write_text("\n".join(text))
        plot(rows, args.out_dir / f"{name}.png")
        print(f"wrote {args.out_dir / name}.md and .png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
