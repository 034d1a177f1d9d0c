#!/usr/bin/env bash
# The main job on its embedded default: build a small Wan-architecture checkpoint with ComfyUI's own
# classes, sample it through ComfyUI's real sampler with full CFG and with truncation, and print what
# truncation saved. Needs a ComfyUI checkout (COMFYUI_PATH, <ComfyUI>/custom_nodes/, or /opt/ComfyUI).
set -euo pipefail
cd "$(dirname "$0")/.."
TCFG_NEED_HOST=1 source devtools/python.sh
exec "$PY" benchmarks/bench_truncation.py "$@"
