# Sourced by tests/run.sh, demo/run.sh and benchmarks/run.sh: sets PY to a Python that can run the pack's
# code, and HOST to the ComfyUI checkout the pack runs in (empty when there is none; an error, before
# anything is installed, when the caller set TCFG_NEED_HOST).
#   TCFG_PYTHON      use this interpreter as it is
#   the host's venv  <ComfyUI>/venv or <ComfyUI>/.venv, when a host is found and has one
#   .venv            otherwise, made here once from requirements-dev.txt (torch + test tools)
# The test and benchmark tools (requirements-test.txt) are installed into PY's environment when missing.
pack_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
HOST=$(cd "$pack_root" && python3 -c 'from devtools.host import find_host; print(find_host()[0] or "")')
HOST_REASON=$(cd "$pack_root" && python3 -c 'from devtools.host import find_host; print(find_host()[1])')
if [[ -n ${TCFG_NEED_HOST:-} && -z $HOST ]]; then  # set by the scripts that run ComfyUI itself
  echo "error: $HOST_REASON" >&2
  exit 2
fi

if [[ -n ${TCFG_PYTHON:-} ]]; then
  PY=$TCFG_PYTHON
elif [[ -n $HOST && -x $HOST/venv/bin/python ]]; then
  PY=$HOST/venv/bin/python
elif [[ -n $HOST && -x $HOST/.venv/bin/python ]]; then
  PY=$HOST/.venv/bin/python
else
  PY=$pack_root/.venv/bin/python
  if [[ ! -x $PY ]] || ! "$PY" -c 'import torch' 2>/dev/null; then
    echo "setting up $pack_root/.venv (torch and test tools, once)" >&2
    python3 -m venv "$pack_root/.venv"
    "$PY" -m pip install -q --disable-pip-version-check -r "$pack_root/requirements-dev.txt"
  fi
fi

if ! "$PY" -c 'import torch' 2>/dev/null; then
  echo "error: $PY cannot import torch; point TCFG_PYTHON at the Python that runs ComfyUI" >&2
  exit 2
fi
if ! "$PY" -c 'import pytest, hypothesis, sklearn, matplotlib' 2>/dev/null; then
  echo "installing the test and benchmark tools (requirements-test.txt) into $PY's environment" >&2
  "$PY" -m pip install -q --disable-pip-version-check -r "$pack_root/requirements-test.txt"
fi
export PY HOST HOST_REASON
