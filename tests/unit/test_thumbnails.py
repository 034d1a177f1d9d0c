"""The example workflows' thumbnails: square, and showing the step strip of a real run of their own settings."""
import re

import pytest

from devtools.host import PACK_ROOT
from devtools.workflow_runs import TRUNCATING_NODES, load_api
from devtools.workflow_specs import WORKFLOWS
from sampling.policy import TruncationPolicy

Image = pytest.importorskip("PIL.Image", reason="Pillow comes with matplotlib (requirements-test.txt)")

SIDE = 512
NEAR = 45  # JPEG moves colours a little
STRIP_KINDS = ("full", "refresh", "cond", "uncond", "reuse", "cached")


def strip_palette() -> dict[str, tuple[int, int, int]]:
    """The step strip's own colours, read from the extension's COLORS table."""
    source = (PACK_ROOT / "web" / "js" / "step_strip.js").read_text()
    table = re.search(r"const COLORS = \{(.*?)\};", source, re.S).group(1)
    colours = dict(re.findall(r'(\w+): "#([0-9a-fA-F]{6})"', table))
    return {kind: tuple(int(colours[kind][i:i + 2], 16) for i in (0, 2, 4)) for kind in STRIP_KINDS}


PALETTE = strip_palette()


def strip_kinds(path) -> dict[str, int]:
    """Pixels of each strip colour along the picture row that has the most of them: the strip itself."""
    picture = Image.open(path).convert("RGB")
    width, height = picture.size
    pixels = picture.load()
    best: dict[str, int] = {}
    for y in range(height):
        counts = dict.fromkeys(PALETTE, 0)
        for x in range(width):
            r, g, b = pixels[x, y]
            for kind, (pr, pg, pb) in PALETTE.items():
                if abs(r - pr) + abs(g - pg) + abs(b - pb) < NEAR:
                    counts[kind] += 1
                    break
        if sum(counts.values()) > sum(best.values()):
            best = counts
    return best


def loader_shift(prompt: dict) -> float:
    """The workflow's time shift: core's ModelSamplingAuraFlow, or the Lumina2 Loader's as it applies it (0: the
    family's own, told by the file name); else 1 (the Wan and Ideogram 4 workflows' rules count steps, the shift does
    not matter)."""
    from sampling.families import LUMINA2, Z_IMAGE

    for node in prompt.values():
        inputs = node["inputs"]
        if node["class_type"] == "ModelSamplingAuraFlow":
            return inputs["shift"]
        if node["class_type"] == "TruncatedCFGLumina2Loader":
            return inputs["shift"] or (Z_IMAGE.shift if "z_image" in inputs["unet_name"] else LUMINA2.shift)
    return 1.0


def flow_schedule(shift: float, steps: int) -> list[float]:
    """ComfyUI's shifted flow sigmas, evenly spaced in t (the simple scheduler)."""
    ts = [1.0 - i / steps for i in range(steps)]
    return [shift * t / (1 + (shift - 1) * t) for t in ts] + [0.0]


def expected_full_steps(name: str) -> tuple[int, set[int]]:
    """(steps, the numbers of full-CFG steps the published settings can give): the static rules' full steps,
    and one more where reuse runs full CFG after a Wan expert switch that falls on a truncated step."""
    prompt = load_api(name)
    (inputs,) = [n["inputs"] for n in prompt.values() if n["class_type"] in TRUNCATING_NODES]
    steps = next(n["inputs"]["steps"] for n in prompt.values()
                 if n["class_type"].endswith("Scheduler") or n["class_type"] == "KSampler")
    policy = TruncationPolicy.from_inputs({k: v for k, v in inputs.items()
                                          if not isinstance(v, list) and k not in ("cfg", "cfg_low_noise")})
    schedule = flow_schedule(loader_shift(prompt), steps)
    full = sum(1 for i in range(steps) if not policy.static_reasons(i, schedule))
    experts = any(n["class_type"] == "TruncatedCFGWanA14BLoader" for n in prompt.values())
    return steps, {full, full + 1} if experts and policy.keep_mode.learns_guidance else {full}


@pytest.mark.parametrize("name", sorted(WORKFLOWS))
def test_thumbnail_is_a_square_showing_the_strip_of_the_workflows_own_settings(name):
    path = PACK_ROOT / "workflows" / f"{name}.jpg"
    assert Image.open(path).size == (SIDE, SIDE) and Image.open(path).format == "JPEG"
    kinds = strip_kinds(path)
    coloured = sum(kinds.values())
    assert coloured > SIDE // 2, f"no step strip found in {path.name}: {kinds}"
    steps, full_counts = expected_full_steps(name)
    full_share = (kinds["full"] + kinds["refresh"]) / coloured
    assert any(abs(full_share - full / steps) < 0.75 / steps for full in full_counts), (full_share, full_counts)
    keep = [n["inputs"]["keep"] for n in load_api(name).values() if n["class_type"] in TRUNCATING_NODES][0]
    truncated_kind = "reuse" if keep.startswith("reuse") else keep
    assert (kinds[truncated_kind] > 0) == (max(full_counts) < steps)  # an official full-CFG recipe truncates none
    assert all(kinds[k] == 0 for k in ("cond", "uncond", "reuse") if k != truncated_kind)
    cached = any(n["class_type"] in ("LazyCache", "EasyCache") for n in load_api(name).values())
    assert (kinds["cached"] > 0) == cached, "cells from a step cache show exactly where the workflow has one"
