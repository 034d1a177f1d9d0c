"""benchmarks/gpu.sh's code on the CPU at a tiny size, so it cannot rot (its timings are not judged)."""
import sys

import pytest
import torch
from hostenv import require_host

require_host()

from devtools.host import PACK_ROOT  # noqa: E402

sys.path.insert(0, str(PACK_ROOT / "benchmarks"))

import bench_gpu  # noqa: E402


def table(text: str, first_column: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in text.splitlines()
            if line.startswith(f"| {first_column}")]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: the refusal is for machines without")
def test_without_cuda_it_refuses_and_says_how_to_run_the_smoke_run(capsys, tmp_path):
    assert bench_gpu.main(["--out-dir", str(tmp_path)]) == 2
    said = capsys.readouterr().err
    assert "no CUDA device here" in said and "--tiny" in said
    assert not (tmp_path / "gpu.md").exists()


def test_the_tiny_run_writes_every_row_with_exact_branch_counts(tmp_path):
    assert bench_gpu.main(["--tiny", "--steps", "8", "--expert-layers", "1", "--out-dir", str(tmp_path)]) == 0
    text = (tmp_path / "gpu.md").read_text()
    assert (tmp_path / "gpu.png").read_bytes()[:4] == b"\x89PNG"
    assert "the CPU (tiny smoke run, not a GPU measurement)" in text
    for model in ("Wan A14B expert", "Lumina 2 NextDiT"):
        rows = {r[3]: r[4] for r in table(text, model)}
        assert rows == {"core CFGGuider (full CFG)": "16 / 16", "ours, every rule off": "16 / 16",
                        "ours, cfg_truncate_steps = 5 of 8": "11 / 16", "ours, cfg_trunc_ratio = 0.25": "10 / 16",
                        "ours, cfg_every 8, reuse_extrapolated": "9 / 16"}, model
    (extrapolated,) = table(text, "tiny video")
    # Both columns are rounded as printed (3 and 2 decimals): 40 x the first carries 40 x its rounding.
    assert float(extrapolated[3]) == pytest.approx(40 * float(extrapolated[2]), abs=40 * 0.0005 + 0.005)
    experts = {r[0]: r for r in table(text, "Wan A14B Experts") + table(text, "ComfyUI graph")}
    assert len(experts) == 2
    for row in experts.values():
        high, low = (int(n) for n in row[1].split(" / "))
        assert high > 0 and low > 0 and high + low == 8  # one call per euler step, each on one expert
        assert row[4] == "high" and "low" in row[5]  # ComfyUI's loaded list: before and after the switch
