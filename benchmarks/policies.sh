#!/usr/bin/env bash
# Speed of every policy over model sizes and latent sizes, with core's ways as baselines, in one run on
# a real ComfyUI; writes docs/speed.md and docs/speed.png. Extra arguments go to bench_policies.py.
set -euo pipefail
cd "$(dirname "$0")/.."
TCFG_NEED_HOST=1 source devtools/python.sh
exec "$PY" benchmarks/bench_policies.py "$@"
