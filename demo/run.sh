#!/usr/bin/env bash
# The main job: run every example workflow through a real ComfyUI on small models, with full CFG and
# truncated, and print what truncation saved. Needs a ComfyUI checkout (COMFYUI_PATH,
# <ComfyUI>/custom_nodes/, or /opt/ComfyUI); no model weights. Extra arguments go to run_demo.py.
set -euo pipefail
cd "$(dirname "$0")/.."
TCFG_NEED_HOST=1 source devtools/python.sh
exec "$PY" demo/run_demo.py "$@"
