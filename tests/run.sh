#!/usr/bin/env bash
# The test command. Unit tier everywhere; the host tier (real ComfyUI on the CPU) whenever a host is
# found through COMFYUI_PATH, <ComfyUI>/custom_nodes/, or /opt/ComfyUI. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
source devtools/python.sh
echo "python: $PY"
echo "host: ${HOST:-none} (${HOST_REASON})"
exec "$PY" -m pytest tests "$@"
