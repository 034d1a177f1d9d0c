#!/usr/bin/env bash
# Rebuild every saved graph of the pack in ComfyUI's real frontend, in one command: the example workflows and
# their API prompts on the oldest host found (every later frontend loads what an older one saved) but those whose
# nodes it lacks, which the newest builds; the subgraph blueprints on the newest (0.3.64 has none); then, unless --no-thumbnails, the thumbnails from real runs on the
# newest. Run it after adding an input (sampling/rules.py): saved graphs store widget values by position.
# Hosts as the tests find them (COMFYUI_PATH, /opt/ComfyUI, /opt/ComfyUI-*); needs playwright and chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
source devtools/python.sh
[[ -n $HOSTS ]] || { echo "error: $HOST_REASON" >&2; exit 2; }
by_version=$(while IFS= read -r host; do echo "$(host_version "$host") $host"; done <<<"$HOSTS" | sort -V)
oldest=$(head -n 1 <<<"$by_version" | cut -d' ' -f2-)
newest=$(tail -n 1 <<<"$by_version" | cut -d' ' -f2-)
build() {  # host, builder script, its arguments
  use_python "$1" || exit 2
  echo "== $2 on ComfyUI $(host_version "$1") at $1"
  COMFYUI_PATH=$1 "$PY" "${@:2}"
}
build "$oldest" devtools/build_workflows.py
build "$newest" devtools/build_workflows.py --newest
build "$newest" devtools/build_blueprints.py
[[ ${1:-} == --no-thumbnails ]] || build "$newest" devtools/build_thumbnails.py
