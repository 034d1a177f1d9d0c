#!/usr/bin/env bash
# The quality harness's full run: every truncation setting on each harness model (digits, then shapes) through
# a real ComfyUI, each judged by its own classifier; writes docs/quality.md, docs/quality_shapes.md and their
# plots. Extra arguments go to benchmarks/quality_harness.py (--model shapes: one model).
set -euo pipefail
cd "$(dirname "$0")/.."
TCFG_NEED_HOST=1 source devtools/python.sh
exec "$PY" benchmarks/quality_harness.py "$@"
