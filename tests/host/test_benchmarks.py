"""The speed benchmark's smallest run: every variant runs and counts what the model ran (timings not judged)."""
import sys

from hostenv import require_host

require_host()

from devtools.host import PACK_ROOT  # noqa: E402

sys.path.insert(0, str(PACK_ROOT / "benchmarks"))

import bench_policies  # noqa: E402

from truncated_cfg.nodes.host_version import running_version  # noqa: E402


def test_quick_speed_run_writes_both_tables_with_exact_branch_counts(tmp_path, capsys):
    assert bench_policies.main(["--quick", "--steps", "4", "--rounds", "1", "--out-dir", str(tmp_path)]) == 0
    (report,) = tmp_path.glob("speed-*.md")  # named after the ComfyUI it ran on
    assert report.name == f"speed-{running_version()}.md"
    text = report.read_text()
    assert report.with_suffix(".png").read_bytes()[:4] == b"\x89PNG"
    assert f"ComfyUI {running_version()}; 4 euler steps" in text
    rows = {line.split(" | ")[2]: line.split(" | ")[3] for line in text.splitlines()
            if line.startswith("| Wan dim 128 x 1 |")}
    assert rows["core CFGGuider"] == rows["core CFGGuider, again"] == "8 / 8"
    assert rows["ours, every rule off"] == "8 / 8"
    assert rows["ours, every 2, keep cond"] == rows["ours, every 2, reuse"] == "6 / 8"
    assert rows["ours, every 2, reuse_extrapolated"] == "6 / 8"
    assert rows["ours, last 2"] == "6 / 8"
    assert rows["ours, ratio 0.5"] == "6 / 8"
    assert rows["cfg 1 schedule (2 KSamplerAdvanced, cfg 1 from step 2)"] == "6 / 8"
    assert rows["ours as MODEL patch, last 2 (KSampler)"] == "6 / 8"
    # Core RenormCFG reads `in_channels`, which WanModel lacks: reported in the table, not hidden.
    assert "fails: AttributeError" in text
    experts = [line for line in text.splitlines() if line.startswith(("| ComfyUI graph", "| Wan A14B"))]
    assert len(experts) == 4
    native, one_pass = experts[0].split(" | "), experts[1].split(" | ")
    assert native[1:3] == one_pass[1:3]  # the same calls on each expert
    assert "| spread |" in text
    # With a step cache: each cache's rows against core CFGGuider with the same cache, the network's own count.
    assert "## With a step cache on the model" in text
    for cache in (f"{name} {threshold}" for name, threshold in bench_policies.CACHES.items()):
        core_ran, core_full = map(int, rows[f"core CFGGuider + {cache}"].split(" / "))
        assert core_ran == core_full <= 8  # the reference row: what core CFGGuider ran with this cache
        for mode in ("coordinate", "independent"):
            ran, full = map(int, rows[f"ours, every 4, reuse_extrapolated, {mode} + {cache}"].split(" / "))
            assert ran <= 2 + 3 and full == core_full  # step 0 full, 1 to 3 reused, some of them cached
