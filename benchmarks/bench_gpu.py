"""The pack at the real models' sizes on one GPU: seconds per step and per run, ratios, peak memory, two experts.

Models are built with ComfyUI's own classes directly on the device (no files, no downloads): the
model config is detected by ComfyUI from the real key layout (a state dict on the meta device),
``model_config.get_model`` creates the network on the device in bf16, and its weights are drawn at
random there. Geometries:

- a Wan 2.2 A14B expert (WanModel dim 5120, ffn 13824, 40 heads) with a few layers (--wan-layers;
  the per-layer time and its extrapolation to the real 40 layers are printed), at 480p x 81 frames
  (32,760 tokens) and 720p x 81 frames (75,600 tokens);
- Lumina 2's NextDiT at its real width and depth (2304, 26 layers) at 1024 x 1024 (4,096 tokens).

For each: full CFG (core CFGGuider), the Truncated CFG Guider with cfg_truncate_steps = 5 of 40,
cfg_trunc_ratio = 0.25 and the quality harness's fastest setting at full-CFG quality (cfg_every 8,
reuse_extrapolated), each timed after a warm-up in the same run, as a ratio against core CFGGuider
with the forward-pass bound, and the peak memory (torch.cuda.max_memory_allocated). Then two Wan
experts under a memory budget that cannot hold both (ComfyUI's reserved VRAM, the variable
--reserve-vram sets): peak memory and ComfyUI's loaded-model list before and after the switch, and
what the switch costs, for the Wan A14B Experts node in one pass and for ComfyUI's own graph of two
KSamplerAdvanced nodes. Writes <out-dir>/gpu.md and gpu.png.

Refuses to run without a CUDA device unless --tiny: the same code on the CPU at a tiny size (a
smoke run for the tests; its numbers say nothing about a GPU).

usage: python benchmarks/bench_gpu.py [--tiny] [--steps 40] [--wan-layers 2] [--wan-720p-layers 1]
                                      [--lumina-layers 26] [--expert-layers 8] [--out-dir docs]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

PACK_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PACK_ROOT))
sys.path.insert(0, str(PACK_ROOT / "benchmarks"))

from devtools.host import start_script  # noqa: E402

WAN_LAYERS_REAL = 40
WAN = dict(dim=5120, ffn_dim=13824, num_heads=40)  # Wan 2.2 A14B expert (Wan 2.1 14B geometry)
WAN_TINY = dict(dim=256, ffn_dim=512, num_heads=2)
LUMINA = dict(dim=2304, n_heads=24, n_kv_heads=8)
WAN_LATENTS = {"480p x 81 frames": (21, 60, 104), "720p x 81 frames": (21, 90, 160)}  # (frames, h, w) latent
WAN_LATENTS_TINY = {"tiny video": (2, 8, 8)}
LUMINA_LATENT, LUMINA_LATENT_TINY = (128, 128), (8, 8)  # 1024 x 1024, and 64 x 64
CFG = 4.0
REUSE_POLICY = dict(cfg_every=8, keep="reuse_extrapolated")  # the quality harness's pick (README, Measured)
WARM_STEPS = 6  # more than the 5 steps a policy truncates, so the warm run is an ordinary one


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tiny", action="store_true", help="CPU smoke run at a tiny size (no CUDA needed)")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--wan-layers", type=int, default=2, help="Wan expert layers at 480p (the real one has 40)")
    parser.add_argument("--wan-720p-layers", type=int, default=1, help="Wan expert layers at 720p")
    parser.add_argument("--lumina-layers", type=int, default=26, help="NextDiT layers (Lumina 2 has 26)")
    parser.add_argument("--expert-layers", type=int, default=8, help="layers of each expert in the two-expert run")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="where gpu.md and gpu.png go (default: docs/, or out/gpu_tiny/ with --tiny)")
    args = parser.parse_args(argv)
    if args.steps < 8:
        parser.error("--steps must be at least 8 (the policies truncate 5 steps and guide every 8th)")
    if args.out_dir is None:
        args.out_dir = PACK_ROOT / ("out/gpu_tiny" if args.tiny else "docs")
    return args


@dataclass
class Device:
    torch_device: object
    dtype: object
    cuda: bool

    def sync(self):
        if self.cuda:
            import torch

            torch.cuda.synchronize()

    def reset_peak(self):
        if self.cuda:
            import torch

            torch.cuda.reset_peak_memory_stats()

    def peak_gb(self):
        if not self.cuda:
            return None
        import torch

        return torch.cuda.max_memory_allocated() / 2 ** 30


def detected_config(network):
    """ComfyUI's model config for ``network``'s key layout, detected as from a user's file (meta tensors: no memory)."""
    import comfy.model_detection

    config = comfy.model_detection.model_config_from_unet(network.state_dict(), "")
    if config is None:
        raise RuntimeError(f"ComfyUI did not recognise the layout of {type(network).__name__}")
    return config


def build_on_device(meta_network, device: Device, seed: int):
    """A ModelPatcher whose network ComfyUI creates on the device (config detected from ``meta_network``)."""
    import comfy.model_patcher
    import torch

    config = detected_config(meta_network)
    config.set_inference_dtype(device.dtype, None)
    model = config.get_model({}, "", device=device.torch_device)
    generator = torch.Generator(device=device.torch_device).manual_seed(seed)
    with torch.no_grad():
        for name, p in model.diffusion_model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.fill_(1.0)
            else:
                std = 1.0 / max(p.shape[-1], 1) ** 0.5 if p.ndim > 1 else 0.02
                p.normal_(0.0, std, generator=generator)
    offload = torch.device("cpu")
    return comfy.model_patcher.ModelPatcher(model, load_device=device.torch_device, offload_device=offload)


def wan_expert(device: Device, layers: int, tiny: bool, seed: int = 0, in_dim: int = 16):
    import comfy.ldm.wan.model
    import comfy.ops

    from devtools.checkpoints import WAN_TEXT_DIM

    shape = WAN_TINY if tiny else WAN
    meta = comfy.ldm.wan.model.WanModel(model_type="t2v", num_layers=layers, in_dim=in_dim, out_dim=16,
                                        text_dim=WAN_TEXT_DIM, device="meta",
                                        operations=comfy.ops.disable_weight_init, **shape)
    return build_on_device(meta, device, seed)


def lumina(device: Device, layers: int, seed: int = 0):
    import comfy.ldm.lumina.model
    import comfy.ops

    from devtools.checkpoints import LUMINA2_TEXT_DIM

    meta = comfy.ldm.lumina.model.NextDiT(patch_size=2, in_channels=16, n_layers=layers, qk_norm=True,
                                          cap_feat_dim=LUMINA2_TEXT_DIM, axes_dims=[32, 32, 32],
                                          axes_lens=[300, 512, 512], device="meta",
                                          operations=comfy.ops.disable_weight_init, **LUMINA)
    return build_on_device(meta, device, seed)


def conditioning(kind: str, tiny: bool, seed: int):
    """Random CONDITIONING of the real shape: UMT5-XXL's 512 tokens for Wan, Gemma 2's for Lumina 2."""
    import torch

    from devtools.checkpoints import LUMINA2_TEXT_DIM, WAN_TEXT_DIM

    g = torch.Generator().manual_seed(seed)
    if kind == "wan":
        return [[torch.randn(1, 16 if tiny else 512, WAN_TEXT_DIM, generator=g), {}]]
    tokens = 16 if tiny else 256
    return [[torch.randn(1, tokens, LUMINA2_TEXT_DIM, generator=g),
             {"attention_mask": torch.ones(1, tokens, dtype=torch.long)}]]


@dataclass
class Timed:
    seconds: list = field(default_factory=list)
    forward: list = field(default_factory=list)
    rows: int = 0
    peak_gb: float | None = None


class SyncedForwardTimer:
    """Wall time of each diffusion-model forward, the device synchronised at both ends, and its batch rows."""

    def __init__(self, network, device: Device):
        self.device, self.durations, self.rows, self._start = device, [], 0, 0.0
        network.register_forward_pre_hook(self._before)
        network.register_forward_hook(self._after)

    def _before(self, module, args):
        self.device.sync()
        self._start = time.perf_counter()

    def _after(self, module, args, output):
        self.device.sync()
        self.durations.append(time.perf_counter() - self._start)
        self.rows += output.shape[0]

    def take(self):
        total, rows = sum(self.durations), self.rows
        self.durations, self.rows = [], 0
        return total, rows


def policy_variants(steps: int) -> dict:
    return {"core CFGGuider (full CFG)": None,
            "ours, every rule off": {},
            f"ours, cfg_truncate_steps = 5 of {steps}": {"cfg_truncate_steps": 5},
            "ours, cfg_trunc_ratio = 0.25": {"cfg_trunc_ratio": 0.25},
            "ours, cfg_every 8, reuse_extrapolated": REUSE_POLICY}


def measure_model(model, positive, negative, latent_shape, steps: int, device: Device) -> dict[str, Timed]:
    """Every variant warmed (two steps), then one timed run each, on one model and latent."""
    import comfy.samplers
    import torch

    from bench_policies import core_guider, custom_sampler, truncated_guider

    timer = SyncedForwardTimer(model.model.diffusion_model, device)
    sigmas = comfy.samplers.calculate_sigmas(model.get_model_object("model_sampling"), "simple", steps)
    latent = {"samples": torch.zeros(latent_shape)}
    results = {}
    for name, policy in policy_variants(steps).items():
        def guider(policy=policy):
            if policy is None:
                return core_guider(model, positive, negative, CFG)
            return truncated_guider(model, positive, negative, **policy)
        custom_sampler(guider(), sigmas[-WARM_STEPS - 1:], latent)  # warm: loads, allocates, switches patchers
        timer.take()
        device.reset_peak()
        device.sync()
        start = time.perf_counter()
        custom_sampler(guider(), sigmas, latent)
        device.sync()
        forward, rows = timer.take()
        results[name] = Timed([time.perf_counter() - start], [forward], rows, device.peak_gb())
    return results


def rows_for(model_name: str, latent_name: str, layers: int, results: dict[str, Timed], steps: int) -> list[dict]:
    ref = results["core CFGGuider (full CFG)"]
    wall0, fwd0 = ref.seconds[0], ref.forward[0]
    return [{"model": model_name, "latent": latent_name, "variant": name, "layers": layers, "rows": t.rows,
             "full_rows": ref.rows, "per_step": t.seconds[0] / steps, "per_run": t.seconds[0],
             "ratio": t.seconds[0] / wall0, "bound": t.forward[0] / fwd0, "peak_gb": t.peak_gb}
            for name, t in results.items()]


def wan_per_layer(rows: list[dict], steps: int) -> list[dict]:
    """Seconds per step per layer (full CFG) and the real expert's 40 layers by extrapolation, per latent."""
    out = []
    for r in rows:
        if r["variant"].startswith("core") and r["model"].startswith("Wan"):
            per_layer = r["per_step"] / r["layers"]
            out.append({"latent": r["latent"], "layers": r["layers"], "per_layer_step": per_layer,
                        "extrapolated_step": per_layer * WAN_LAYERS_REAL,
                        "extrapolated_run": per_layer * WAN_LAYERS_REAL * steps})
    return out


class SwitchProbe:
    """At every expert forward: which expert, when, and ComfyUI's loaded-model list; the peak memory up to the
    first low-noise call and after it (the device's peak counter is reset there)."""

    def __init__(self, experts: dict, device: Device):
        self.device, self.calls, self.peak_before = device, [], None
        # ComfyUI lists model patchers; a clone (the Experts node's combined model) shares its expert's network.
        self.names = {id(m.model): name for name, m in experts.items()}
        self.handles = [expert.model.diffusion_model.patch_embedding.register_forward_pre_hook(
            lambda mod, args, name=name: self._record(name)) for name, expert in experts.items()]

    def _record(self, name):
        import comfy.model_management

        self.device.sync()
        if name == "low" and not any(c[0] == "low" for c in self.calls):
            self.peak_before = self.device.peak_gb()
            self.device.reset_peak()
        loaded = [self.names.get(id(m.model), type(m.model).__name__) for m in comfy.model_management.loaded_models()]
        self.calls.append((name, time.perf_counter(), loaded))

    def summary(self, end: float) -> dict:
        for handle in self.handles:
            handle.remove()
        switch = next(i for i, c in enumerate(self.calls) if c[0] == "low")
        starts = [c[1] for c in self.calls] + [end]
        durations = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        low = [d for c, d in zip(self.calls, durations, strict=False) if c[0] == "low"]
        usual = statistics.median(low[1:]) if len(low) > 1 else low[0]
        return {"peak_before": self.peak_before, "peak_after": self.device.peak_gb(),
                "loaded_before": self.calls[switch - 1][2], "loaded_after": self.calls[switch][2],
                "switch_seconds": low[0] - usual, "high_calls": switch, "low_calls": len(self.calls) - switch}


def two_experts(args, device: Device) -> list[dict]:
    """The Experts node in one pass against ComfyUI's two-KSamplerAdvanced graph, under a budget for one expert."""
    import comfy.model_management
    import comfy.samplers
    import torch

    from bench_policies import custom_sampler, split_ksamplers, truncated_guider
    from truncated_cfg.nodes.models.wan_a14b import WanA14BExperts
    from truncated_cfg.sampling.experts import first_low_noise_step

    high = wan_expert(device, args.expert_layers, args.tiny, seed=1)
    low = wan_expert(device, args.expert_layers, args.tiny, seed=2)
    expert_gb = high.model_size() / 2 ** 30
    budget_note = "none (CPU)"
    if device.cuda:
        total = comfy.model_management.get_total_memory(device.torch_device)
        keep_free = total - int(1.6 * high.model_size())  # room for one expert and its activations, not two
        comfy.model_management.EXTRA_RESERVED_VRAM = max(keep_free, 0)
        budget_note = f"{(total - keep_free) / 2 ** 30:.1f} GB of {total / 2 ** 30:.1f} GB usable"
    positive, negative = conditioning("wan", args.tiny, 1), conditioning("wan", args.tiny, 2)
    frames, h, w = next(iter((WAN_LATENTS_TINY if args.tiny else WAN_LATENTS).values()))  # 480p
    latent = {"samples": torch.zeros(1, 16, frames, h, w)}
    combined = WanA14BExperts.execute(high, low, "t2v", 0.875).result[0]
    sigmas = comfy.samplers.calculate_sigmas(combined.get_model_object("model_sampling"), "simple", args.steps)
    split = first_low_noise_step([float(s) for s in sigmas], 0.875)
    runs = {"Wan A14B Experts, one pass": lambda: custom_sampler(
                truncated_guider(combined, positive, negative), sigmas, latent),
            "ComfyUI graph: 2 KSamplerAdvanced": lambda: split_ksamplers(
                high, low, CFG, CFG, args.steps, split, positive, negative, latent)}
    rows = []
    for name, run in runs.items():
        comfy.model_management.unload_all_models()
        probe = SwitchProbe({"high": high, "low": low}, device)
        device.reset_peak()
        start = time.perf_counter()
        run()
        device.sync()
        end = time.perf_counter()
        rows.append({"variant": name, "expert_gb": expert_gb, "budget": budget_note, "seconds": end - start,
                     **probe.summary(end)})
    return rows


def gb(value) -> str:
    return "n/a (CPU)" if value is None else f"{value:.2f}"


def report(args, device_name: str, versions: str, rows, per_layer, experts, seconds: float) -> str:
    command = "bash benchmarks/gpu.sh" + (" --tiny" if args.tiny else "")
    lines = [f"# The pack at the real models' sizes on {device_name}", "",
             f"Run: `{command}` ({versions}; {args.steps} euler steps, cfg {CFG}; {seconds:.0f} s). Random-weight "
             f"models built with ComfyUI's classes on the device ({'bf16' if not args.tiny else 'float32'}); "
             "imported as a library, so ComfyUI's classic VRAM management (main.py's dynamic VRAM is not "
             "started). Each variant warmed, then timed once in the same run. Ratios are against core CFGGuider "
             "on the same model and latent; absolute seconds are this device's.", "",
             "| model | latent | layers | variant | model calls | s / step | s / run | wall ratio | forward bound | "
             "peak GB |", "|---|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['latent']} | {r['layers']} | {r['variant']} | {r['rows']} / {r['full_rows']} | "
              f"{r['per_step']:.3f} | {r['per_run']:.2f} | {r['ratio']:.3f} | {r['bound']:.3f} | {gb(r['peak_gb'])} |"
              for r in rows]
    lines += ["", f"Wan expert, full CFG: seconds per step per layer, and the real expert's {WAN_LAYERS_REAL} layers "
                  "extrapolated (layers dominate; the embeddings and head are counted once, so this slightly "
                  "overstates):", "", "| latent | layers run | s / step / layer | 40 layers: s / step | s / run |",
              "|---|---:|---:|---:|---:|"]
    lines += [f"| {p['latent']} | {p['layers']} | {p['per_layer_step']:.3f} | {p['extrapolated_step']:.2f} | "
              f"{p['extrapolated_run']:.1f} |" for p in per_layer]
    lines += ["", f"## Two experts, one resident at a time ({args.expert_layers} layers each, "
                  f"{experts[0]['expert_gb']:.2f} GB each; budget: {experts[0]['budget']})", "",
              "| variant | calls high / low | peak GB before switch | peak GB after | loaded before switch | "
              "loaded after | switch s | run s |", "|---|---|---:|---:|---|---|---:|---:|"]
    lines += [f"| {e['variant']} | {e['high_calls']} / {e['low_calls']} | {gb(e['peak_before'])} | "
              f"{gb(e['peak_after'])} | {', '.join(e['loaded_before'])} | {', '.join(e['loaded_after'])} | "
              f"{e['switch_seconds']:.3f} | {e['seconds']:.2f} |" for e in experts]
    lines += ["", "![wall ratio and forward bound per variant](gpu.png)", ""]
    return "\n".join(lines)


def plot(rows: list[dict], path: Path) -> None:
    from quality.report import pyplot, save_figure

    fig, ax = pyplot().subplots(figsize=(9, 4.5), dpi=110)
    labels = [f"{r['model']}, {r['latent']}\n{r['variant']}" for r in rows if not r["variant"].startswith("core")]
    shown = [r for r in rows if not r["variant"].startswith("core")]
    positions = range(len(shown))
    ax.barh([p + 0.2 for p in positions], [r["ratio"] for r in shown], height=0.4, label="wall ratio")
    ax.barh([p - 0.2 for p in positions], [r["bound"] for r in shown], height=0.4, label="forward bound")
    ax.set_yticks(list(positions), labels, fontsize=6)
    ax.axvline(1.0, color="0.5", lw=1, ls="--")
    ax.set_xlabel("time / core CFGGuider's (same model, latent, run)")
    ax.legend(fontsize=8)
    save_figure(fig, path)


def main(argv=None) -> int:
    args = parse_args(argv)
    import torch

    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA device here; this benchmark measures a GPU. Run it on a machine with one, or add "
              "--tiny for the CPU smoke run at a tiny size (its numbers say nothing about a GPU).", file=sys.stderr)
        return 2
    if not start_script():
        return 2
    from truncated_cfg.nodes.host_version import running_version

    cuda = not args.tiny
    device = Device(torch.device("cuda" if cuda else "cpu"), torch.bfloat16 if cuda else torch.float32, cuda)
    device_name = torch.cuda.get_device_name(0) if cuda else "the CPU (tiny smoke run, not a GPU measurement)"
    versions = (f"ComfyUI {running_version()}, torch {torch.__version__}"
                + (f", CUDA {torch.version.cuda}, driver {driver_version()}" if cuda else ""))
    started = time.perf_counter()
    rows = []
    wan_layers = {name: (args.wan_layers if i == 0 else args.wan_720p_layers)
                  for i, name in enumerate(WAN_LATENTS)}
    latents = WAN_LATENTS_TINY if args.tiny else WAN_LATENTS
    positive, negative = conditioning("wan", args.tiny, 1), conditioning("wan", args.tiny, 2)
    for latent_name, (frames, h, w) in latents.items():
        layers = 1 if args.tiny else wan_layers[latent_name]
        model = wan_expert(device, layers, args.tiny)
        results = measure_model(model, positive, negative, (1, 16, frames, h, w), args.steps, device)
        rows += rows_for("Wan A14B expert", latent_name, layers, results, args.steps)
        print(f"Wan, {latent_name}: done ({time.perf_counter() - started:.0f} s)", flush=True)
        del model
    lumina_layers = 1 if args.tiny else args.lumina_layers
    model = lumina(device, lumina_layers)
    h, w = LUMINA_LATENT_TINY if args.tiny else LUMINA_LATENT
    results = measure_model(model, conditioning("lumina", args.tiny, 1), conditioning("lumina", args.tiny, 2),
                            (1, 16, h, w), args.steps, device)
    rows += rows_for("Lumina 2 NextDiT", "64 x 64" if args.tiny else "1024 x 1024", lumina_layers, results,
                     args.steps)
    del model
    print(f"Lumina 2: done ({time.perf_counter() - started:.0f} s)", flush=True)
    import comfy.model_management

    comfy.model_management.unload_all_models()
    experts = two_experts(args, device)
    text = report(args, device_name, versions, rows, wan_per_layer(rows, args.steps), experts,
                  time.perf_counter() - started)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    (args.out_dir / "gpu.md").write_text(text)
    plot(rows, args.out_dir / "gpu.png")
    print(text)
    print(f"wrote {args.out_dir / 'gpu.md'} and gpu.png")
    return 0


def driver_version() -> str:
    import subprocess

    try:
        found = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({type(exc).__name__})"
    return found.stdout.strip() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
