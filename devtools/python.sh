# Sourced by tests/run.sh, demo/run.sh and the benchmarks' scripts.
#   HOSTS          the ComfyUI checkouts found (COMFYUI_PATH, several joined with ':'; <ComfyUI>/custom_nodes/;
#                  or /opt/ComfyUI and /opt/ComfyUI-*), one per line; empty when there is none
#   HOST_REASON    how they were found, or why there is none
#   use_python H   sets PY to a Python that runs the pack's code with host H (H empty: no host):
#                    TCFG_PYTHON      that interpreter, as it is
#                    H's venv         <H>/venv or <H>/.venv
#                    .venv            otherwise, made here once from requirements-dev.txt (torch + test tools)
#                  and installs the test and benchmark tools (requirements-test.txt) into it when missing.
# With TCFG_NEED_HOST set (the scripts that run ComfyUI itself), HOST is the first host, PY its Python and
# COMFYUI_PATH that host alone; no host is an error before anything is installed.
pack_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOSTS=$(cd "$pack_root" && python3 -c 'from devtools.host import find_hosts; print("\n".join(map(str, find_hosts()[0])))')
HOST_REASON=$(cd "$pack_root" && python3 -c 'from devtools.host import find_hosts; print(find_hosts()[1])')

host_version() {
  (cd "$pack_root" && python3 -c 'import sys; from devtools.host import host_version; print(host_version(sys.argv[1]))' "$1")
}

use_python() {
  local host=$1
  if [[ -n ${TCFG_PYTHON:-} ]]; then
    PY=$TCFG_PYTHON
  elif [[ -n $host && -x $host/venv/bin/python ]]; then
    PY=$host/venv/bin/python
  elif [[ -n $host && -x $host/.venv/bin/python ]]; then
    PY=$host/.venv/bin/python
  else
    PY=$pack_root/.venv/bin/python
    if [[ ! -x $PY ]] || ! "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' 2>/dev/null; then
      echo "setting up $pack_root/.venv (torch and test tools, once)" >&2
      python3 -m venv "$pack_root/.venv"
      "$PY" -m pip install -q --disable-pip-version-check -r "$pack_root/requirements-dev.txt"
    fi
  fi
  # Looked up, not imported (importing them takes seconds on every run); a torch that is found but broken
  # fails at the first import with its own error.
  local missing
  missing=$("$PY" -c 'import importlib.util as u, sys; print(*(m for m in sys.argv[1:] if u.find_spec(m) is None))' \
    torch pytest hypothesis sklearn matplotlib xdist) || return 2
  if [[ " $missing " == *" torch "* ]]; then
    echo "error: $PY cannot import torch; point TCFG_PYTHON at the Python that runs ComfyUI" >&2
    return 2
  fi
  if [[ -n $missing ]]; then
    echo "installing the test and benchmark tools (requirements-test.txt: $missing missing) into $PY's environment" >&2
    "$PY" -m pip install -q --disable-pip-version-check -r "$pack_root/requirements-test.txt"
  fi
}

if [[ -n ${TCFG_NEED_HOST:-} ]]; then
  HOST=$(head -n 1 <<<"$HOSTS")
  if [[ -z $HOST ]]; then
    echo "error: $HOST_REASON" >&2
    exit 2
  fi
  use_python "$HOST" || exit 2
  export PY HOST COMFYUI_PATH=$HOST
  echo "ComfyUI $(host_version "$HOST") at $HOST ($HOST_REASON); python: $PY" >&2
fi
