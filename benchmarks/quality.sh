#!/usr/bin/env bash
# The quality harness's full run: every truncation setting on the digits model through a real ComfyUI,
# judged by scikit-learn; writes docs/quality.md and docs/quality_pareto.png. Extra arguments go to
# benchmarks/quality_digits.py.
set -euo pipefail
cd "$(dirname "$0")/.."
TCFG_NEED_HOST=1 source devtools/python.sh
exec "$PY" benchmarks/quality_digits.py "$@"
