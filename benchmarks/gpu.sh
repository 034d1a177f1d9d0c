#!/usr/bin/env bash
# The pack at the real models' sizes on one GPU (Wan 2.2 A14B expert geometry at 480p and 720p x 81
# frames, Lumina 2 at 1024^2, two experts under a one-expert memory budget); writes docs/gpu.md and
# docs/gpu.png. Refuses without CUDA; --tiny runs the same code on the CPU at a tiny size. Extra
# arguments go to bench_gpu.py.
set -euo pipefail
cd "$(dirname "$0")/.."
TCFG_NEED_HOST=1 source devtools/python.sh
exec "$PY" benchmarks/bench_gpu.py "$@"
